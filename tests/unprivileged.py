"""Running zabbix-sepa as another account, for real.

The tests run as root, and root passes every permission check, so what a
service user meets (a spool made by a run as root, a lock file of another
account) is reproduced by dropping to `nobody` in a child process. The venv's
interpreter lives under /root (not executable by others); the system's
interpreter of the same minor version runs this checkout and the venv's
packages instead."""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER, GROUP = "nobody", "nogroup"
PYTHON = f"/usr/bin/python3.{sys.version_info.minor}"


def require():
    """Skip unless the test can switch users (root) and has an interpreter they may run."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a process as another account")
    if not os.access(PYTHON, os.X_OK):
        pytest.skip(f"no {PYTHON} for the unprivileged account")


def python(*args, timeout=60):
    """`python ARGS` as nobody:nogroup (no supplementary groups); a CompletedProcess (text)."""
    require()
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent",
           "PYTHONPATH": os.pathsep.join([ROOT, sysconfig.get_paths()["purelib"]]),
           "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([PYTHON, *args], user=USER, group=GROUP, extra_groups=[], cwd="/", env=env,
                          capture_output=True, text=True, timeout=timeout)


def cli(*args, timeout=60):
    """`zabbix-sepa ARGS` as nobody."""
    return python("-m", "zabbix_sepa", *args, timeout=timeout)


class SharedDir:
    """A temporary directory under /tmp that other accounts may enter (pytest's tmp_path is
    root's, 0700 up the tree); removed by close()."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="zsepa-")
        os.chmod(self.path, 0o755)

    def give(self, path, mode=None):
        """Hand `path` to nobody:nogroup (with `mode`)."""
        shutil.chown(path, USER, GROUP)
        if mode is not None:
            os.chmod(path, mode)
        return path

    def close(self):
        shutil.rmtree(self.path, ignore_errors=True)
