"""No secret in any log line (issue 14, defect 7): the API library's debug log, and the log by value.

The real-API counterpart (the CLI with --debug against Zabbix 7.0 and 6.0) is
tests/integration/test_secrets_live.py.
"""
import io
import json
import logging

import pytest

from zabbix_sepa import redact
from zabbix_sepa.config import ApiConfig
from zabbix_sepa.zabbix.api import Api

PASSWORD = "zsepa-Pw-0123456789"
SHORT_PASSWORD = "Qx7#pw"          # under redact.MIN_LENGTH: masked by key only
SESSION = "5e55105e55105e55105e55105e55105e"
TOKEN = "70ce170ce170ce170ce170ce170ce170ce170ce170ce170ce170ce170ce1abcd"
HOOK_TOKEN = "xoxb-hook-token-4242"
USER_PASSWD = "new-user-Passwd-77"


class Reply:
    def __init__(self, body):
        self.status_code, self.text, self._body = 200, json.dumps(body), body

    def raise_for_status(self):
        pass

    def json(self):
        return self._body


class FakeFrontend:
    """What pyzabbix needs of a requests.Session; answers like a Zabbix frontend, keeps what it got."""

    def __init__(self, version):
        self.version, self.headers, self.received = version, {}, []

    def post(self, url, json=None, headers=None, timeout=None):
        self.received.append((json, dict(headers or {})))
        result = {"apiinfo.version": self.version, "user.login": SESSION, "user.logout": True,
                  "user.get": [{"userid": "1"}], "mediatype.create": {"mediatypeids": ["9"]},
                  "user.create": {"userids": ["8"]},
                  "token.generate": [{"tokenid": "3", "token": TOKEN}]}[json["method"]]
        return Reply({"jsonrpc": "2.0", "result": result, "id": json["id"]})


def drive(frontend, cfg):
    with Api(cfg, session=frontend) as api:
        api.call("mediatype.create", name="SEPA webhook", type="4",
                 parameters=[{"name": "URL", "value": "http://hook"}, {"name": "Token", "value": HOOK_TOKEN}])
        api.call("user.create", username="x", passwd=USER_PASSWD, roleid="1")
        api.call("token.generate", "3")


@pytest.mark.parametrize("version", ["7.0.9", "6.0.14"])
@pytest.mark.parametrize("credentials", [dict(user="Admin", password=PASSWORD),
                                         dict(user="Admin", password=SHORT_PASSWORD),
                                         dict(token=TOKEN)], ids=["password", "short password", "token"])
def test_the_api_debug_log_holds_no_secret(caplog, version, credentials):
    frontend = FakeFrontend(version)
    with caplog.at_level(logging.DEBUG):
        drive(frontend, ApiConfig(url="http://127.0.0.1/api_jsonrpc.php", **credentials))
    text = caplog.text
    assert "Sending: " in text and "Response Body: " in text          # pyzabbix did log at DEBUG
    for secret in (credentials.get("password"), credentials.get("token"), SESSION, HOOK_TOKEN, USER_PASSWD,
                   TOKEN):
        if secret:
            assert secret not in text, secret
    if "password" in credentials:
        assert "'password': '***'" in text                            # masked by key, whatever its length
    # ...in the log only: the frontend got every secret as it was
    sent = json.dumps(frontend.received)
    assert credentials.get("password", credentials.get("token")) in sent
    assert HOOK_TOKEN in sent and USER_PASSWD in sent


def test_registered_secrets_are_masked_in_messages_and_tracebacks():
    redact.register("a-registered-secret-42")
    redact.register("short")                     # under MIN_LENGTH: left to the masking by key
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    redact.install(handler)
    redact.install(handler)
    assert len(handler.filters) == 1
    log = logging.getLogger("zabbix_sepa.test_secrets")
    log.addHandler(handler)
    try:
        log.warning("connecting with %s", {"pw": "a-registered-secret-42"})
        try:
            raise RuntimeError("refused: a-registered-secret-42")
        except RuntimeError:
            log.exception("failed")
        log.warning("a short word stays")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert "a-registered-secret-42" not in text
    assert "connecting with {'pw': '***'}" in text and "RuntimeError: refused: ***" in text
    assert "a short word stays" in text
