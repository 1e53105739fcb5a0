"""A real redis-server (Debian's package) for the tests: on a free loopback port, with no
persistence, optionally with a password (requirepass) and ACL users; `admin()` is a
connection that may write (the tests' own data), unlike the collector's."""
import shutil
import socket
import subprocess
import tempfile
import time

from tests.tcp import unused_port
from zabbix_sepa import resp

HOST = "127.0.0.1"
START_TIMEOUT = 10
START_ATTEMPTS = 3          # the free port we picked may be taken before redis-server binds it


def installed():
    return shutil.which("redis-server") is not None


class RedisServer:
    def __init__(self, password=None):
        self.password = password
        self.dir = tempfile.TemporaryDirectory(prefix="zsepa-redis-")
        for _ in range(START_ATTEMPTS):
            self.port = unused_port()
            args = ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
                    "--dir", self.dir.name] + (["--requirepass", password] if password else [])
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._answers():
                return
        self.stop()
        raise RuntimeError(f"redis-server did not start ({START_ATTEMPTS} attempts)")

    def _answers(self):
        """True once it accepts connections; False when it exited (its port was taken)."""
        deadline = time.monotonic() + START_TIMEOUT
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def admin(self, timeout=5.0):
        """A connection of the default user (logged in when there is a password), any command."""
        conn = resp.Connection(HOST, self.port, time.monotonic() + timeout)
        resp.login(conn, None, self.password)
        return conn

    def add_user(self, name, password, *rules):
        """An ACL user, e.g. add_user("zsepa", "pw", "~rq:*", "-@all", "+@read", "+@connection")."""
        with self.admin() as conn:
            conn.call("ACL", "SETUSER", name, "reset", "on", f">{password}", *rules)

    def changes(self):
        """Writes since the server started (INFO's rdb_changes_since_last_save; `--save ""`
        never resets it): what a collection may not change."""
        with self.admin() as conn:
            info = conn.call("INFO", "persistence").decode()
        return int(next(line.split(":")[1] for line in info.splitlines()
                        if line.startswith("rdb_changes_since_last_save:")))

    def reset_stats(self):
        with self.admin() as conn:
            conn.call("CONFIG", "RESETSTAT")

    def command_calls(self):
        """{command: calls} since reset_stats (INFO commandstats), but for this helper's own
        (INFO, CONFIG RESETSTAT): what the others sent."""
        with self.admin() as conn:
            info = conn.call("INFO", "commandstats").decode()
        calls = {}
        for line in info.splitlines():
            if line.startswith("cmdstat_"):
                name, stats = line[len("cmdstat_"):].split(":", 1)
                calls[name] = int(dict(kv.split("=") for kv in stats.split(","))["calls"])
        return {name: n for name, n in calls.items() if name not in ("info", "config|resetstat")}

    def mapping(self, **extra):
        """The config's `redis` mapping for this server."""
        return {"host": HOST, "port": self.port, **extra}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.dir.cleanup()
