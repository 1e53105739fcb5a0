"""Setup's refusal of an unsupported Zabbix, without a server (the rest runs against a real
Zabbix in tests/integration/test_zabbix_setup.py)."""
import pytest

from zabbix_sepa.config import ApiConfig
from zabbix_sepa.zabbix.setup import Api, SetupError


def test_unsupported_zabbix_version_is_named(monkeypatch):
    import pyzabbix
    monkeypatch.setattr(pyzabbix.ZabbixAPI, "api_version", lambda self: "7.0.3")
    with pytest.raises(SetupError, match=r"runs Zabbix 7.0.3; this version of zabbix-sepa supports Zabbix 6.0"):
        Api(ApiConfig(url="http://zabbix.example/api_jsonrpc.php", token="t" * 64))
