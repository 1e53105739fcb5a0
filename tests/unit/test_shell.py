"""Every shell script of the project is shellcheck-clean (install.sh runs as root and pastes
names into SQL and agent configs; the stack scripts start servers)."""
import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = ["install.sh", ".ci/run", "tests/run.sh", *sorted(glob.glob("stack/*.sh", root_dir=ROOT))]


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (tests/run.sh installs it)")
def test_shell_scripts_are_shellcheck_clean():
    proc = subprocess.run(["shellcheck", "--format=gcc", *SCRIPTS], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
