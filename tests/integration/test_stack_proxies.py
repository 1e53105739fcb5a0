"""The test stack's proxies: real `zabbix_proxy` processes (Debian's zabbix-proxy-sqlite3 of
the server's version, unpacked beside it), active, reporting to the tests' server. What the
proxy features of zabbix-sepa are tested on (issue 12); this proves the ground they stand on."""
import os
import subprocess
import time

import pytest

from tests import zabbix

pytestmark = pytest.mark.zabbix
HOST = "zsepa-stack-proxied"


def forget(name):
    hosts = zabbix.api("host.get", {"filter": {"host": [HOST]}, "output": ["hostid"]})
    if hosts:
        zabbix.api("host.delete", [h["hostid"] for h in hosts])
    zabbix.forget_proxies([name])


def test_a_value_through_a_proxy_arrives_with_its_clock():
    (name, port), _ = zabbix.ensure_proxies()
    forget(name)
    try:
        proxyid = zabbix.api("proxy.create", zabbix.proxy_params(name))["proxyids"][0]
        host = zabbix.api("host.create", {"host": HOST, "groups": [{"groupid": zabbix.group_id()}],
                                          **zabbix.monitored_by(proxyid)})["hostids"][0]
        itemid = zabbix.api("item.create", {"hostid": host, "name": "probe", "key_": "probe", "type": 2,
                                            "value_type": 3, "history": "1h"})["itemids"][0]
        zabbix.reload_config_cache()
        clock = int(time.time()) - 120                     # a value collected two minutes ago
        deadline = time.monotonic() + 90
        while True:                                        # until the proxy has the host in its configuration
            zabbix.reload_proxy(0)
            sent = subprocess.run([zabbix.SENDER, "-z", "127.0.0.1", "-p", str(port), "-T", "-i", "-"],
                                  input=f"{HOST} probe {clock} 42\n", capture_output=True, text=True).stdout
            if "processed: 1" in sent or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert "processed: 1" in sent, sent
        deadline = time.monotonic() + 60
        while not (history := zabbix.api("history.get", {"itemids": [itemid], "history": 3, "output": "extend"})):
            assert time.monotonic() < deadline, "the proxy's value never reached the server"
            time.sleep(1)
        assert [(int(h["clock"]), h["value"]) for h in history] == [(clock, "42")]
        # the server itself refuses a value for a host a proxy monitors
        direct = subprocess.run([zabbix.SENDER, "-z", "127.0.0.1", "-p", str(zabbix.SERVER_PORT), "-s", HOST,
                                 "-k", "probe", "-o", "1"], capture_output=True, text=True).stdout
        assert "processed: 0" in direct, direct
    finally:
        forget(name)
    assert os.path.exists(os.path.join(zabbix.STATE, "proxy-0.log"))
