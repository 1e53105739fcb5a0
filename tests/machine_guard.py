"""The test suite leaves this machine's own zabbix-sepa as it found it.

A fingerprint of what an operator (or `install.sh --demo`) has installed here is taken
when the session starts and compared when it ends (tests/conftest.py); a difference fails
the run and says what changed. It covers the installed files and their owners and modes,
the service user, the cron/systemd files, the demo's database and its Zabbix host. Spool
and cache contents are left out: a real timer may deliver during the run.
"""
import hashlib
import json
import os
import pwd
import socket
import subprocess

from tests import zabbix

FILES = ("/etc/zabbix-sepa", "/opt/zabbix-sepa/.zabbix-sepa-source", "/opt/zabbix-sepa/bin/zabbix-sepa",
         "/usr/local/bin/zabbix-sepa", "/etc/cron.d/zabbix-sepa", "/etc/systemd/system/zabbix-sepa-send.timer",
         "/etc/cron.d/zabbix-sepa-daily", "/etc/systemd/system/zabbix-sepa-daily.timer")
DIRECTORIES = ("/var/spool/zabbix-sepa", "/var/cache/zabbix-sepa", "/var/log/zabbix-sepa")
DEMO_DATABASE, DEMO_HOST = "verenigingen_demo", "verenigingen-demo"
DEMO_API = "http://127.0.0.1:8080/api_jsonrpc.php"          # stack/zabbix.sh's demo instance (7.0)


def _describe(path):
    if os.path.islink(path):
        return f"link -> {os.readlink(path)}"
    if not os.path.exists(path):
        return None
    st = os.stat(path)
    owner = f"{oct(st.st_mode & 0o7777)} {st.st_uid}:{st.st_gid}"
    if os.path.isdir(path):
        return f"directory {owner}"
    with open(path, "rb") as fh:
        return f"file {owner} sha256 {hashlib.sha256(fh.read()).hexdigest()[:16]}"


def _files():
    out = {}
    for top in FILES:
        if os.path.isdir(top) and not os.path.islink(top):
            for base, dirs, files in os.walk(top):
                for name in sorted(dirs) + sorted(files):
                    out[os.path.join(base, name)] = _describe(os.path.join(base, name))
        out[top] = _describe(top)
    out.update({d: _describe(d) for d in DIRECTORIES})
    return out


def _user():
    try:
        return str(tuple(pwd.getpwnam("zabbix-sepa")))
    except KeyError:
        return None


def _demo_database():
    if not os.path.exists("/run/mysqld/mysqld.sock"):
        return "no MariaDB"
    proc = subprocess.run(["mysql", "--protocol=socket", "-uroot", "-N", "-B", "-e",
                           f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{DEMO_DATABASE}'"],
                          capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else "not readable"


def _demo_host():
    try:
        socket.create_connection(("127.0.0.1", 8080), timeout=1).close()
    except OSError:
        return "no demo Zabbix"

    def call(method, params, token=None):
        return zabbix._call(method, params, token, url=DEMO_API, major=(7, 0)).get("result")
    try:
        token = call("user.login", {"username": "Admin", "password": "zabbix"})
        if not token:
            return "demo Zabbix: no Admin/zabbix login"
        hosts = call("host.get", {"filter": {"host": [DEMO_HOST]}, "output": ["hostid", "host"]}, token)
        call("user.logout", [], token)
        return json.dumps(hosts)
    except (OSError, ValueError) as exc:
        return f"demo Zabbix not readable ({exc.__class__.__name__})"


def fingerprint():
    return {"files": _files(), "user": _user(), "demo database": _demo_database(), "demo host": _demo_host()}


def differences(before, after):
    """Lines naming what changed between two fingerprints."""
    out = []
    for key in before:
        if key == "files":
            for path in sorted(set(before[key]) | set(after[key])):
                if before[key].get(path) != after[key].get(path):
                    out.append(f"{path}: {before[key].get(path)} -> {after[key].get(path)}")
        elif before[key] != after[key]:
            out.append(f"{key}: {before[key]} -> {after[key]}")
    return out
