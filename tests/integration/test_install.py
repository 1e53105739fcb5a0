"""install.sh for real on this machine: install, reinstall, the agent and the send command it
set up, uninstall, purge; the bad paths; and the one-command demo.

It uses the real paths (/opt/zabbix-sepa, /etc/zabbix-sepa, /usr/local/bin, /etc/cron.d) and
purges them before and after. The agent is the test stack's (its config is passed with
--agent-config), so the UserParameters land where that agent reads them.
"""
import grp
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time

import pytest
import yaml

from tests import mariadb, zabbix

pytestmark = pytest.mark.zabbix

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALL = os.path.join(ROOT, "install.sh")
PATHS = ("/opt/zabbix-sepa", "/usr/local/bin/zabbix-sepa", "/etc/cron.d/zabbix-sepa", "/var/cache/zabbix-sepa")


def sh(*args, timeout=600):
    proc = subprocess.run([INSTALL, *args], capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def agent_conf():
    return zabbix.ensure_stack().agent_conf


def agent_file():
    return os.path.join(zabbix.ensure_stack().agent_include_dir, "zabbix_sepa.conf")


def remove_demo():
    hosts = zabbix.api("host.get", {"filter": {"host": ["verenigingen-demo"]}})
    if hosts:
        zabbix.api("host.delete", [h["hostid"] for h in hosts])
    admin = mariadb.ensure_server().admin()
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS verenigingen_demo")
        for host in ("localhost", "127.0.0.1"):
            cur.execute(f"DROP USER IF EXISTS 'zbx_sepa_demo'@'{host}'")
    admin.close()


@pytest.fixture(scope="module", autouse=True)
def clean_machine():
    zabbix.ensure_stack()
    sh("--uninstall", "--purge")
    remove_demo()
    yield
    sh("--uninstall", "--purge")
    remove_demo()


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


def test_install_reinstall_agent_send_uninstall_purge(tmp_path, site):
    rc, out, err = sh("--dry-run", "--agent-config", agent_conf())
    assert rc == 0, err
    assert "would: virtualenv /opt/zabbix-sepa" in out and "would: write /etc/cron.d/zabbix-sepa (0644 root:root)" in out
    assert not any(os.path.exists(p) for p in PATHS)

    rc, out, err = sh("--agent-config", agent_conf())
    assert rc == 0, out + err
    assert "done: link /usr/local/bin/zabbix-sepa -> /opt/zabbix-sepa/bin/zabbix-sepa" in out
    st = os.stat("/etc/zabbix-sepa/config.yaml")
    assert oct(st.st_mode & 0o777) == "0o640" and grp.getgrgid(st.st_gid).gr_name == "zabbix"
    assert pwd.getpwnam("zabbix-sepa").pw_shell == "/usr/sbin/nologin"
    assert os.path.isfile(agent_file())
    assert "UserParameter=sepa.collect[*],/usr/local/bin/zabbix-sepa collect --quiet --site '$1'" in open(agent_file()).read()

    rc, out, err = sh("--agent-config", agent_conf())
    assert rc == 0 and "nothing changed" in out, out + err

    # the operator writes the real config: kept by later installs
    site.host = f"zsepa-inst-{site.name[-8:]}"
    config = {"timezone": "UTC", "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT},
              "sites": [{"name": site.host, "database": site.server.site_database_mapping(site.name)}]}
    with open("/etc/zabbix-sepa/config.yaml", "w") as fh:
        fh.write("# the operator's own\n" + yaml.safe_dump(config))
    rc, out, err = sh("--agent-config", agent_conf())
    assert rc == 0 and "kept: /etc/zabbix-sepa/config.yaml" in out and "nothing changed" in out
    # without --create-db-user it prints what the MariaDB admin has to run
    assert f"GRANT SELECT ON `{site.name}`.`tabSEPA Mandate` TO 'zsepa_test'@'localhost';" in out
    assert open("/etc/zabbix-sepa/config.yaml").readline() == "# the operator's own\n"
    proc = subprocess.run(["runuser", "-u", "zabbix-sepa", "--", "/usr/local/bin/zabbix-sepa", "check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # the agent polls through the installed UserParameters
    doc = json.loads(zabbix.zabbix_get(f"sepa.collect[{site.host}]"))
    assert doc["site"] == site.host and doc["metrics"]["sepa.collector.status"] == 0

    # the timer's command (cron here: no systemd), run as cron would
    host = zabbix.TrapperHost(site.host)
    try:
        line = [l for l in open("/etc/cron.d/zabbix-sepa") if l.startswith("* * * * *")][0]
        user, command = line.split()[5], line.split(None, 6)[6].split(">")[0].split()
        proc = subprocess.run(["runuser", "-u", user, "--", *command], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        deadline = time.monotonic() + 30
        while not host.history() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert json.loads(host.history()[0]["value"])["site"] == site.host
    finally:
        host.delete()

    rc, out, err = sh("--uninstall")
    assert rc == 0, err
    assert not any(os.path.exists(p) for p in PATHS) and not os.path.exists(agent_file())
    assert os.path.exists("/etc/zabbix-sepa/config.yaml") and os.path.isdir("/var/spool/zabbix-sepa")
    assert "kept: /etc/zabbix-sepa and /var/spool/zabbix-sepa" in out

    rc, out, err = sh("--uninstall", "--purge")
    assert rc == 0, err
    assert not os.path.exists("/etc/zabbix-sepa") and not os.path.exists("/var/spool/zabbix-sepa")
    with pytest.raises(KeyError):
        pwd.getpwnam("zabbix-sepa")


def test_agent_config_without_include_is_named(tmp_path):
    conf = tmp_path / "zabbix_agentd.conf"
    conf.write_text("Server=127.0.0.1\nLogFile=/tmp/agent.log\n")
    rc, out, err = sh("--agent-config", str(conf), "--no-timer")
    assert rc == 1 and f"the agent config {conf} has no Include= line" in err
    sh("--uninstall", "--purge")


def test_unwritable_prefix_is_named():
    rc, out, err = sh("--prefix", "/proc/zabbix-sepa", "--no-agent", "--no-timer")
    assert rc == 1 and "failed: virtualenv /proc/zabbix-sepa" in err
    sh("--uninstall", "--purge", "--prefix", "/proc/zabbix-sepa")


def test_demo_in_one_command():
    rc, out, err = sh("--demo")
    assert rc == 0, out[-3000:] + err[-3000:]
    assert f"http://127.0.0.1:{zabbix.WEB_PORT}/" in out and "Admin / zabbix" in out
    (host,) = zabbix.api("host.get", {"filter": {"host": ["verenigingen-demo"]}})
    deadline = time.monotonic() + 60
    want = {("SEPA: failed direct debit batches", "4"), ("SEPA: members paying by SEPA without an active mandate", "2"),
            ("SEPA: stuck direct debit batches", "3")}
    while True:
        got = {(t["description"], t["priority"]) for t in zabbix.api("trigger.get", {
            "hostids": [host["hostid"]], "filter": {"value": 1}, "output": ["description", "priority"]})}
        if got >= want or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert got >= want
    rc, out, err = sh("--demo")             # again: safe, rebuilds the demo data, keeps the config
    assert rc == 0, err[-2000:]
    assert "kept: /etc/zabbix-sepa/config.yaml" in out


def test_create_db_user_makes_a_select_only_user(site):
    os.makedirs("/etc/zabbix-sepa", exist_ok=True)
    with open("/etc/zabbix-sepa/config.yaml", "w") as fh:
        yaml.safe_dump({"timezone": "UTC", "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT},
                        "sites": [{"name": "created", "database": {
                            "host": "127.0.0.1", "port": 3306, "name": site.name, "user": "zsepa_created",
                            "password_file": "/etc/zabbix-sepa/db-password"}}]}, fh)
    admin = site.server.admin()
    try:
        rc, out, err = sh("--create-db-user", "--no-agent", "--no-timer")
        assert rc == 0, out + err
        assert "done: MariaDB user 'zsepa_created'@'localhost' (read-only; password in /etc/zabbix-sepa/db-password)" in out
        st = os.stat("/etc/zabbix-sepa/db-password")
        assert oct(st.st_mode & 0o777) == "0o640" and pwd.getpwuid(st.st_uid).pw_name == "zabbix-sepa"
        assert "ready." in out                     # install.sh's own check passed with the new user
        with admin.cursor() as cur:
            for host in ("localhost", "127.0.0.1"):
                cur.execute(f"SHOW GRANTS FOR 'zsepa_created'@'{host}'")
                grants = [g for (g,) in cur.fetchall()]
                assert all(g.startswith(("GRANT USAGE ON", "GRANT SELECT ON")) for g in grants), grants
                assert sum(g.startswith("GRANT SELECT ON") for g in grants) == 13
        rc, out, err = sh("--create-db-user", "--no-agent", "--no-timer")
        assert rc == 0 and "nothing changed" in out, out + err
    finally:
        with admin.cursor() as cur:
            for host in ("localhost", "127.0.0.1"):
                cur.execute(f"DROP USER IF EXISTS 'zsepa_created'@'{host}'")
        admin.close()
        sh("--uninstall", "--purge")
