"""A throwaway view of this machine for the install tests.

install.sh writes where it always does (/etc, /opt, /usr/local, /var/spool, /var/cache,
/var/log: its config, venv, command link, accounts, cron file, spool), but each command
given to a Sandbox runs in its own mount namespace where those directories are overlays
on the real ones, the changes kept under one temporary directory. The machine's real
installation, accounts and cron files are never touched; removing the directory undoes
everything. Processes share the machine's network and process table, so a sandboxed
agent answers on 127.0.0.1 and MariaDB is the real one (tests name their own databases).
"""
import os
import shutil
import subprocess
import tempfile

OVERLAID = ("/etc", "/opt", "/usr/local", "/var/spool", "/var/cache", "/var/log")


class Sandbox:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="zsepa-sandbox-", dir="/var/tmp")
        os.chmod(self.dir, 0o755)               # the sandboxed service user reads below it
        mounts = []
        for path in OVERLAID:
            layer = os.path.join(self.dir, "layers", path.strip("/").replace("/", "-"))
            upper, work = os.path.join(layer, "upper"), os.path.join(layer, "work")
            os.makedirs(upper)
            os.makedirs(work)
            mounts.append(f"mount -t overlay zsepa-sandbox -o lowerdir={path},upperdir={upper},workdir={work} {path}")
        self._enter = " && ".join(mounts) + ' && exec "$@"'

    def hide(self, paths=(), accounts=()):
        """Make the sandbox look as if `paths` and the user/group `accounts` were never there
        (removed in the overlays only: whiteouts in the upper layers, the real ones stay)."""
        script = ['rm -rf -- "$@"'] + [f"(userdel -f {a} || true) 2>/dev/null; (groupdel {a} || true) 2>/dev/null"
                                       for a in accounts]
        proc = self.run("sh", "-c", "; ".join(script), "hide", *paths)
        assert proc.returncode == 0, proc.stderr

    def argv(self, *command):
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", self._enter, "sandbox", *command]

    def run(self, *command, timeout=600, **kwargs):
        """The command's CompletedProcess (text, stdout and stderr captured)."""
        return subprocess.run(self.argv(*command), capture_output=True, text=True, timeout=timeout, **kwargs)

    def popen(self, *command, **kwargs):
        return subprocess.Popen(self.argv(*command), **kwargs)

    def exists(self, path):
        return self.run("test", "-e", path).returncode == 0

    def read(self, path):
        proc = self.run("cat", path)
        if proc.returncode:
            raise FileNotFoundError(f"{path} in the sandbox: {proc.stderr.strip()}")
        return proc.stdout

    def write(self, path, text):
        proc = self.run("sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "write", path, input=text)
        assert proc.returncode == 0, proc.stderr

    def stat(self, path):
        """'MODE USER GROUP' of `path` as the sandbox sees it (e.g. '640 root zabbix')."""
        return self.run("stat", "-c", "%a %U %G", path).stdout.strip()

    def getent(self, database, key):
        """The getent line (passwd, group) or None."""
        proc = self.run("getent", database, key)
        return proc.stdout.strip() or None

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)
