"""install.sh for real, in a sandbox: install, reinstall, the agent and the send command it
set up, uninstall, purge; the bad paths; and the one-command demo.

Each test runs install.sh in a Sandbox (tests/sandbox.py): its own mount namespace where
/etc, /opt, /usr/local and /var/{spool,cache,log} are overlays, so install.sh writes to the
real paths it always uses while the machine's own installation, accounts and cron files
stay untouched. The agent is one the test starts inside the same sandbox (so it sees the
installed command); the demo runs against the tests' own Zabbix with a site of its own.
"""
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import yaml

from tests import mariadb, zabbix
from tests.sandbox import Sandbox
from tests.smtp import SMTPSink
from zabbix_sepa import registry

pytestmark = pytest.mark.zabbix

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALL = os.path.join(ROOT, "install.sh")
PATHS = ("/opt/zabbix-sepa", "/usr/local/bin/zabbix-sepa", "/etc/cron.d/zabbix-sepa", "/var/cache/zabbix-sepa")
DEMO_SITE = "zsepa-demo"


# what an installation of zabbix-sepa consists of: the sandbox starts without any of it,
# as on a fresh machine, even where this machine has zabbix-sepa (or its demo) installed
INSTALLED = PATHS + ("/etc/zabbix-sepa", "/var/spool/zabbix-sepa", "/var/log/zabbix-sepa",
                     "/etc/systemd/system/zabbix-sepa-send.timer", "/etc/systemd/system/zabbix-sepa-send.service",
                     "/etc/cron.d/zabbix-sepa-daily", "/etc/systemd/system/zabbix-sepa-daily.timer",
                     "/etc/systemd/system/zabbix-sepa-daily.service")


@pytest.fixture
def box():
    zabbix.ensure_stack()
    b = Sandbox()
    b.hide(INSTALLED, accounts=("zabbix-sepa",))
    yield b
    b.remove()


def sh(box, *args, timeout=600):
    env = dict(os.environ, ZABBIX_VERSION=zabbix.VERSION, ZABBIX_SEPA_INSTANCE="tests",
               ZABBIX_SEPA_DEMO_SITE=DEMO_SITE)
    proc = box.run(INSTALL, *args, timeout=timeout, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def free_port():
    """A free port the agent accepts (its ListenPort is 1024-32767)."""
    for port in random.sample(range(20000, 32000), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


class SandboxAgent:
    """A real zabbix_agentd of the stack's major, started inside the sandbox (it runs the
    UserParameters there, where the sandboxed install put the command)."""

    def __init__(self, box):
        self.box, self.port = box, free_port()
        self.dir = os.path.join(box.dir, "agent")
        self.include = os.path.join(self.dir, "conf.d")
        os.makedirs(self.include)
        self.conf = os.path.join(self.dir, "zabbix_agentd.conf")
        with open(self.conf, "w") as fh:
            fh.write(f"AllowRoot=1\nServer=127.0.0.1\nListenIP=127.0.0.1\nListenPort={self.port}\n"
                     f"Hostname=zsepa-sandbox\nLogFile={self.dir}/agent.log\nPidFile={self.dir}/agent.pid\n"
                     f"Timeout=3\nStartAgents=2\nInclude={self.include}/*.conf\n")
        self.proc = None

    def start(self):
        self.proc = self.box.popen(zabbix.AGENTD, "-f", "-c", self.conf,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the sandboxed agent did not listen on {self.port}; see {self.dir}/agent.log")

    def get(self, key):
        return zabbix.zabbix_get(key, port=self.port)

    def stop(self):
        if self.proc:               # unshare and sh exec the agent: this is its main process
            self.proc.terminate()
            self.proc.wait(timeout=20)


def remove_demo():
    hosts = zabbix.api("host.get", {"filter": {"host": [DEMO_SITE]}})
    if hosts:
        zabbix.api("host.delete", [h["hostid"] for h in hosts])
    admin = mariadb.ensure_server().admin()
    with admin.cursor() as cur:
        name = DEMO_SITE.replace("-", "_")
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        for host in ("localhost", "127.0.0.1"):
            cur.execute(f"DROP USER IF EXISTS '{name}'@'{host}'")
    admin.close()


def test_refuses_without_root():
    where = tempfile.mkdtemp(prefix="zsepa-install-")      # pytest's tmp_path is root's alone
    try:
        script = os.path.join(where, "install.sh")
        shutil.copy(INSTALL, script)
        os.chmod(where, 0o755)
        os.chmod(script, 0o755)
        proc = subprocess.run(["runuser", "-u", "nobody", "--", script], capture_output=True, text=True)
        assert proc.returncode == 1 and "run me as root" in proc.stderr, proc.stderr
    finally:
        shutil.rmtree(where)


def test_install_reinstall_agent_send_uninstall_purge(box, site):
    agent = SandboxAgent(box)
    rc, out, err = sh(box, "--dry-run", "--agent-config", agent.conf)
    assert rc == 0, err
    assert "would: virtualenv /opt/zabbix-sepa" in out and "would: write /etc/cron.d/zabbix-sepa (0644 root:root)" in out
    assert not any(box.exists(p) for p in PATHS)

    rc, out, err = sh(box, "--agent-config", agent.conf)
    assert rc == 0, out + err
    assert "done: link /usr/local/bin/zabbix-sepa -> /opt/zabbix-sepa/bin/zabbix-sepa" in out
    assert box.stat("/etc/zabbix-sepa/config.yaml") == "640 root zabbix"
    assert box.getent("passwd", "zabbix-sepa").endswith(":/usr/sbin/nologin")
    agent_file = os.path.join(agent.include, "zabbix_sepa.conf")
    assert "UserParameter=sepa.collect[*],/usr/local/bin/zabbix-sepa collect --quiet --cadence minute --site '$1'" in open(agent_file).read()

    rc, out, err = sh(box, "--agent-config", agent.conf)
    assert rc == 0 and "nothing changed" in out, out + err

    # the operator writes the real config: kept by later installs
    site.host = f"zsepa-inst-{site.name[-8:]}"
    config = {"timezone": "UTC", "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT},
              "sites": [{"name": site.host, "database": site.server.site_database_mapping(site.name)}]}
    box.write("/etc/zabbix-sepa/config.yaml", "# the operator's own\n" + yaml.safe_dump(config))
    rc, out, err = sh(box, "--agent-config", agent.conf)
    assert rc == 0 and "kept: /etc/zabbix-sepa/config.yaml" in out and "nothing changed" in out
    # without --create-db-user it prints what the MariaDB admin has to run
    assert f"GRANT SELECT ON `{site.name}`.`tabSEPA Mandate` TO 'zsepa_test'@'localhost';" in out
    assert box.read("/etc/zabbix-sepa/config.yaml").startswith("# the operator's own\n")
    proc = box.run("runuser", "-u", "zabbix-sepa", "--", "/usr/local/bin/zabbix-sepa", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # a real agent polls through the installed UserParameters
    agent.start()
    try:
        doc = json.loads(agent.get(f"sepa.collect[{site.host}]"))
        assert doc["site"] == site.host and doc["metrics"]["sepa.collector.status"] == 0
    finally:
        agent.stop()

    # the timer's command (cron here: no systemd), run as cron would
    host = zabbix.TrapperHost(site.host)
    try:
        user, command = cron_command(box, "/etc/cron.d/zabbix-sepa", "* * * * * ")
        proc = box.run("runuser", "-u", user, "--", *command)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        deadline = time.monotonic() + 30
        while not host.history() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert json.loads(host.history()[0]["value"])["site"] == site.host
    finally:
        host.delete()

    rc, out, err = sh(box, "--uninstall", "--agent-config", agent.conf)
    assert rc == 0, err
    assert not any(box.exists(p) for p in PATHS) and not os.path.exists(agent_file)
    assert box.exists("/etc/zabbix-sepa/config.yaml") and box.exists("/var/spool/zabbix-sepa")
    assert "kept: /etc/zabbix-sepa and /var/spool/zabbix-sepa" in out

    rc, out, err = sh(box, "--uninstall", "--purge")
    assert rc == 0, err
    assert not box.exists("/etc/zabbix-sepa") and not box.exists("/var/spool/zabbix-sepa")
    assert box.getent("passwd", "zabbix-sepa") is None


def cron_command(box, path, schedule):
    """(user, command words) of the line of cron file `path` that starts with `schedule`,
    without its output redirections: run as cron would run it."""
    line = [l for l in box.read(path).splitlines() if l.startswith(schedule)][0]
    words = line[len(schedule):].split(">")[0].split()
    return words[0], words[1:]


def test_the_daily_report_is_scheduled_when_the_config_names_recipients(box, site):
    rc, out, err = sh(box, "--no-agent")
    assert rc == 0 and "daily report" not in out and not box.exists("/etc/cron.d/zabbix-sepa-daily"), out + err
    sink = SMTPSink()
    try:
        config = {"timezone": "UTC", "alerts": {"email": {"smtp_server": "127.0.0.1", "smtp_port": sink.port}},
                  "reports": {"daily": {"mail_to": ["finance@example.org"], "at": "6:30"}},
                  "sites": [{"name": "zsepa-daily", "database": site.server.site_database_mapping(site.name)}]}
        box.write("/etc/zabbix-sepa/config.yaml", yaml.safe_dump(config))
        rc, out, err = sh(box, "--no-agent")
        assert rc == 0, out + err
        assert "done: write /etc/cron.d/zabbix-sepa-daily (0644 root:root)" in out
        assert "daily report cron: /etc/cron.d/zabbix-sepa-daily, every day at 06:30" in out
        assert box.stat("/etc/cron.d/zabbix-sepa-daily") == "644 root root"
        user, command = cron_command(box, "/etc/cron.d/zabbix-sepa-daily", "30 6 * * * ")
        assert (user, command) == ("zabbix-sepa", ["/usr/local/bin/zabbix-sepa", "report", "daily", "--all", "--mail"])
        proc = box.run("runuser", "-u", user, "--", *command)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.startswith("mailed the daily report of zsepa-daily to finance@example.org")
        (mail,) = sink.messages
        assert b"Subject: Verenigingen daily report: zsepa-daily" in mail["data"]

        rc, out, err = sh(box, "--no-agent")
        assert rc == 0 and "nothing changed" in out, out + err

        # a wrong time: named, and the schedule left as it was
        config["reports"]["daily"]["at"] = "25:00"
        box.write("/etc/zabbix-sepa/config.yaml", yaml.safe_dump(config))
        rc, out, err = sh(box, "--no-agent")
        assert rc == 0 and "the daily report's schedule is left as it was" in err and "reports.daily.at" in err
        assert box.exists("/etc/cron.d/zabbix-sepa-daily")

        del config["reports"]
        box.write("/etc/zabbix-sepa/config.yaml", yaml.safe_dump(config))
        rc, out, err = sh(box, "--no-agent")
        assert rc == 0, out + err
        assert "done: remove /etc/cron.d/zabbix-sepa-daily (no site has reports.daily.mail_to)" in out
        assert not box.exists("/etc/cron.d/zabbix-sepa-daily")
    finally:
        sink.close()


def test_a_config_dir_of_its_own_reaches_every_scheduled_command(box):
    """Before, the cron line ran `send --all` against /etc/zabbix-sepa/config.yaml whatever
    --config-dir said."""
    rc, out, err = sh(box, "--no-agent", "--config-dir", "/etc/zsepa-alt")
    assert rc == 0, out + err
    box.write("/etc/zsepa-alt/config.yaml", box.read("/etc/zsepa-alt/config.yaml").replace(
        "sites:", "reports: {daily: {mail_to: x@example.org}}\nsites:", 1))
    rc, out, err = sh(box, "--no-agent", "--config-dir", "/etc/zsepa-alt")
    assert rc == 0, out + err
    _, send = cron_command(box, "/etc/cron.d/zabbix-sepa", "* * * * * ")
    _, daily = cron_command(box, "/etc/cron.d/zabbix-sepa-daily", "15 7 * * * ")
    assert send[-4:] == ["send", "--all", "--config", "/etc/zsepa-alt/config.yaml"]
    assert daily[-3:] == ["--mail", "--config", "/etc/zsepa-alt/config.yaml"]


def test_the_sandbox_leaves_the_machine_alone(box):
    """What a sandboxed install writes stays in the sandbox (the guard of every test here)."""
    before = {p: os.path.exists(p) for p in PATHS + ("/etc/zabbix-sepa",)}
    had_user = subprocess.run(["getent", "passwd", "zabbix-sepa"], capture_output=True).returncode == 0
    rc, out, err = sh(box, "--no-agent")
    assert rc == 0, out + err
    assert box.exists("/etc/zabbix-sepa/config.yaml") and box.getent("passwd", "zabbix-sepa")
    assert {p: os.path.exists(p) for p in before} == before
    assert (subprocess.run(["getent", "passwd", "zabbix-sepa"], capture_output=True).returncode == 0) == had_user


def test_agent_config_without_include_is_named(box, tmp_path):
    conf = tmp_path / "zabbix_agentd.conf"
    conf.write_text("Server=127.0.0.1\nLogFile=/tmp/agent.log\n")
    rc, out, err = sh(box, "--agent-config", str(conf), "--no-timer")
    assert rc == 1 and f"the agent config {conf} has no Include= line" in err


def test_unwritable_prefix_is_named(box):
    rc, out, err = sh(box, "--prefix", "/proc/zabbix-sepa", "--no-agent", "--no-timer")
    assert rc == 1 and "failed: virtualenv /proc/zabbix-sepa" in err


def test_demo_in_one_command(box):
    """The demo against the tests' own Zabbix, with a site of its own (never the real demo's)."""
    remove_demo()
    try:
        rc, out, err = sh(box, "--demo")
        assert rc == 0, out[-3000:] + err[-3000:]
        assert f"http://127.0.0.1:{zabbix.WEB_PORT}/" in out and "Admin / zabbix" in out
        assert all("with sudo" in line for line in out.splitlines() if "sudo" in line)   # hints work without sudo
        (host,) = zabbix.api("host.get", {"filter": {"host": [DEMO_SITE]}})
        deadline = time.monotonic() + 60
        want = {("SEPA: failed direct debit batches", "4"),
                ("SEPA: members paying by SEPA without an active mandate", "2"),
                ("SEPA: stuck direct debit batches", "3")}
        while True:
            got = {(t["description"], t["priority"]) for t in zabbix.api("trigger.get", {
                "hostids": [host["hostid"]], "filter": {"value": 1}, "output": ["description", "priority"]})}
            if got >= want or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert got >= want
        rc, out, err = sh(box, "--demo")             # again: safe, rebuilds the demo data, keeps the config
        assert rc == 0, err[-2000:]
        assert "kept: /etc/zabbix-sepa/config.yaml" in out
    finally:
        remove_demo()


def test_create_db_user_makes_a_select_only_user(box, site):
    box.write("/etc/zabbix-sepa/config.yaml", yaml.safe_dump(
        {"timezone": "UTC", "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT},
         "sites": [{"name": "created", "database": {
             "host": "127.0.0.1", "port": 3306, "name": site.name, "user": "zsepa_created",
             "password_file": "/etc/zabbix-sepa/db-password"}}]}))
    admin = site.server.admin()
    try:
        rc, out, err = sh(box, "--create-db-user", "--no-agent", "--no-timer")
        assert rc == 0, out + err
        assert "done: MariaDB user 'zsepa_created'@'localhost' (read-only; password in /etc/zabbix-sepa/db-password)" in out
        assert box.stat("/etc/zabbix-sepa/db-password").split()[:2] == ["640", "zabbix-sepa"]
        assert "ready." in out                     # install.sh's own check passed with the new user
        with admin.cursor() as cur:
            for host in ("localhost", "127.0.0.1"):
                cur.execute(f"SHOW GRANTS FOR 'zsepa_created'@'{host}'")
                grants = [g for (g,) in cur.fetchall()]
                assert all(g.startswith(("GRANT USAGE ON", "GRANT SELECT ON")) for g in grants), grants
                assert sum(g.startswith("GRANT SELECT ON") for g in grants) == len(registry.tables())   # one per table read
        rc, out, err = sh(box, "--create-db-user", "--no-agent", "--no-timer")
        assert rc == 0 and "nothing changed" in out, out + err
    finally:
        with admin.cursor() as cur:
            for host in ("localhost", "127.0.0.1"):
                cur.execute(f"DROP USER IF EXISTS 'zsepa_created'@'{host}'")
        admin.close()


def test_create_db_user_refuses_a_user_name_that_would_inject_sql(box, site):
    """The config's user name goes into SQL run as the MariaDB root: refused, nothing run."""
    evil = "x'@'%'; DROP DATABASE `" + site.name + "`; -- "
    box.write("/etc/zabbix-sepa/config.yaml", yaml.safe_dump(
        {"timezone": "UTC", "sites": [{"name": "evil", "database": {
            "host": "127.0.0.1", "port": 3306, "name": site.name, "user": evil,
            "password_file": "/etc/zabbix-sepa/db-password"}}]}))
    rc, out, err = sh(box, "--create-db-user", "--no-agent", "--no-timer")
    assert rc == 1 and "use letters, digits" in err, out + err
    admin = site.server.admin()
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s", (site.name,))
            assert cur.fetchone()[0] == 1                      # the site's database is still there
    finally:
        admin.close()


def test_offline_install_from_a_wheelhouse(box, tmp_path):
    """What the README says for a host without PyPI: a wheelhouse made elsewhere with
    `pip download`, then PIP_NO_INDEX/PIP_FIND_LINKS; without the wheels it fails, saying so."""
    if zabbix.VERSION != "7.0":
        pytest.skip("install.sh does not depend on the Zabbix major: tested once, with 7.0")
    wheels = tmp_path / "wheelhouse"
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "pip"), "download", "-q", "-d", str(wheels),
                           ROOT, "setuptools>=61", "wheel"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    os.chmod(tmp_path, 0o755)
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels))
    proc = box.run(INSTALL, "--no-agent", "--no-timer", env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert box.run("/usr/local/bin/zabbix-sepa", "--version").stdout.startswith("zabbix-sepa ")
    box.hide(("/opt/zabbix-sepa",))
    env["PIP_FIND_LINKS"] = str(tmp_path / "empty")
    proc = box.run(INSTALL, "--no-agent", "--no-timer", env=env)
    assert proc.returncode == 1 and "failed: install zabbix-sepa from" in proc.stderr
