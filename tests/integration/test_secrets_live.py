"""No secret in any output, with --debug, against the real Zabbix API (6.0 or 7.0: ZABBIX_VERSION).

Issue 14, defect 7: pyzabbix logs each request and reply at DEBUG, so `--debug` printed the
API password (user.login), the session and, to 6.0 (which takes it in the request body), the
API token. A Super admin of its own with a password no output could hold by chance, and an
API token of that user, both removed afterwards.
"""
import os
import secrets

import pytest
import yaml

from tests import zabbix
from tests.conftest import run_cli

pytestmark = pytest.mark.zabbix

USER = "zsepa-secrets"
SUPER_ADMIN_ROLE, ADMINISTRATORS = "3", "7"     # stock ids, the same on 6.0 and 7.0
DB_PASSWORD = "db-" + secrets.token_hex(12)
HOOK_TOKEN = "hook-" + secrets.token_hex(12)


def remove_user():
    found = zabbix.api("user.get", {"filter": {"username": [USER]}, "output": ["userid"]})
    if found:
        tokens = zabbix.api("token.get", {"userids": [found[0]["userid"]], "output": ["tokenid"]})
        if tokens:
            zabbix.api("token.delete", [t["tokenid"] for t in tokens])
        zabbix.api("user.delete", [found[0]["userid"]])


@pytest.fixture(scope="module")
def account():
    """(password, API token) of a Super admin made for this module."""
    zabbix.ensure_stack()
    remove_user()
    password = "Pw-" + secrets.token_hex(12)
    userid = zabbix.api("user.create", {"username": USER, "passwd": password, "roleid": SUPER_ADMIN_ROLE,
                                        "usrgrps": [{"usrgrpid": ADMINISTRATORS}]})["userids"][0]
    tokenid = zabbix.api("token.create", {"name": "zsepa-secrets test", "userid": userid})["tokenids"][0]
    token = zabbix.api("token.generate", [tokenid])[0]["token"]
    yield password, token
    remove_user()


def write(tmp_path, api):
    raw = {"timezone": "UTC", "spool_dir": str(tmp_path / "spool"),
           "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT, "api": api},
           "alerts": {"webhook": {"url": "http://127.0.0.1:9/hook", "token": HOOK_TOKEN}},
           # port 1: refused at once, so `check` reports the database without waiting
           "sites": [{"name": "zsepa-secrets-site",
                      "database": {"host": "127.0.0.1", "port": 1, "name": "x", "user": "u",
                                   "password": DB_PASSWORD}}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    os.chmod(path, 0o600)
    return str(path)


@pytest.mark.parametrize("how", ["password", "token"])
def test_debug_output_of_setup_and_check_holds_no_secret(tmp_path, account, how):
    password, token = account
    api = {"url": zabbix.API_URL, "user": USER, "password": password} if how == "password" else \
        {"url": zabbix.API_URL, "token": token}
    cfg = write(tmp_path, api)
    rc, out, err = run_cli("--debug", "zabbix", "setup", "--dry-run", "--config", cfg, timeout=180)
    assert rc == 0, err[-2000:]
    assert "Sending: {" in err and "'method': 'configuration.import'" not in err   # --debug took; a dry run
    setup_output = out + err
    rc, out, err = run_cli("--debug", "check", "--config", cfg, timeout=60)
    assert "credentials accepted" in out, out + err[-2000:]
    assert "Sending: {" in err
    for text in (setup_output, out + err):
        for secret in (password, token, DB_PASSWORD, HOOK_TOKEN):
            assert secret not in text, f"{how}: a secret in the output"
    if how == "password":
        assert "'password': '***'" in setup_output             # user.login was logged, masked
