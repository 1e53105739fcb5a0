"""Sites monitored by a Zabbix 7.0 proxy group (issue 12): `zabbix setup` creates the group,
puts the configured proxies in it with the address their redirects name and makes the site's
host monitored by the group; `send` follows the redirect a proxy of the group answers with
when the host lives on the other one, remembers it, and keeps the values in the spool while
the group moves the host off a proxy that stopped. Real server, frontend and the two proxies
of the tests' stack. On 6.0, which has no proxy groups, setup says so."""
import datetime as dt
import json
import os
import time

import pytest
import yaml

from tests import zabbix
from tests.conftest import run_cli
from zabbix_sepa.transport.sender import DeliveryError, Redirected, Sender

pytestmark = pytest.mark.zabbix
N = (dt.datetime.utcnow() - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
FMT = "%Y-%m-%d %H:%M:%S"
GROUP = "zsepa-tests-group"


def unix(moment):
    return int(moment.replace(tzinfo=dt.timezone.utc).timestamp())


class Fleet:
    """One site of a test's own, its host name, and the config that puts it in GROUP (or,
    `proxy=`, on one proxy, or on the server) with the stack's proxies in the order given."""

    def __init__(self, tmp_path, site, proxies):
        self.tmp_path, self.site, self.proxies = tmp_path, site, proxies
        self.host = f"zsepa-pg-{site.name[-10:]}"
        self.spool = tmp_path / "spool"

    def config(self, group=True, proxy=None, order=(0, 1)):
        path = self.tmp_path / "config.yaml"
        site = {"name": self.host, "database": self.site.server.site_database_mapping(self.site.name)}
        if group:
            site["proxy_group"] = GROUP
        elif proxy:
            site["proxy"] = proxy
        path.write_text(yaml.safe_dump({
            "timezone": "UTC", "spool_dir": str(self.spool),
            "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT, "timeout": 3,
                       "api": {"url": zabbix.API_URL, "user": "Admin", "password": "zabbix"},
                       "proxies": [{"name": self.proxies[i][0], "address": "127.0.0.1", "port": self.proxies[i][1],
                                    "proxy_group": GROUP} for i in order]},
            "sites": [site]}))
        os.chmod(path, 0o600)
        return str(path)

    def setup(self, **kw):
        rc, out, err = run_cli("zabbix", "setup", "--config", self.config(**kw), timeout=300)
        assert rc == 0, out + err
        return out.splitlines()

    def send(self, moment, order=(0, 1), *extra):
        """`send` with --debug, whose log says where the values went (the redirects)."""
        return run_cli("--debug", "send", "--config", self.config(order=order), "--all", "--cadence", "minute",
                       "--now", moment.strftime(FMT), *extra, timeout=120)

    def host_row(self):
        (h,) = zabbix.api("host.get", {"filter": {"host": [self.host]},
                                       "output": ["hostid", "monitored_by", "proxyid", "proxy_groupid",
                                                  "assigned_proxyid"]})
        return h

    def clocks(self, expect, timeout=60):
        hostid = self.host_row()["hostid"]
        (item,) = zabbix.api("item.get", {"hostids": [hostid], "filter": {"key_": "sepa.collect"},
                                          "output": ["itemid"]})
        deadline = time.monotonic() + timeout
        while True:
            values = zabbix.api("history.get", {"itemids": [item["itemid"]], "history": 4,
                                                "output": ["clock", "value"]})
            if len(values) >= expect or time.monotonic() > deadline:
                return sorted(int(v["clock"]) for v in values)
            time.sleep(1)

    def assigned(self, timeout=90):
        """The index (0, 1) of the stack proxy the group gave the host to, once it did and
        both proxies know it: that one takes a value of the probe item (a trapper item of the
        test's own on the host), the other answers it with the redirect."""
        hostid = self.host_row()["hostid"]
        if not zabbix.api("item.get", {"hostids": [hostid], "filter": {"key_": "zsepa.probe"}}):
            zabbix.api("item.create", {"hostid": hostid, "name": "probe", "key_": "zsepa.probe", "type": 2,
                                       "value_type": 3})
        names = {p["proxyid"]: p["name"] for p in zabbix.api("proxy.get", {"output": ["proxyid", "name"]})}
        ours = [p[0] for p in self.proxies]
        deadline = time.monotonic() + timeout
        while True:
            name = names.get(self.host_row()["assigned_proxyid"])
            if name in ours:
                home = ours.index(name)
                if self.probe(home) == "taken" and self.probe(1 - home) == "redirected":
                    return home
            assert time.monotonic() < deadline, f"the group's proxies did not both know {self.host} in {timeout} s"
            for i in (0, 1):
                zabbix.reload_proxy(i)
            time.sleep(2)

    def probe(self, index):
        """What proxy `index` does with a value of the probe item: taken, redirected, or refused."""
        try:
            reply = Sender("127.0.0.1", self.proxies[index][1], timeout=3).send(
                [(self.host, "zsepa.probe", "1", int(time.time()))])
        except Redirected:
            return "redirected"
        except DeliveryError:
            return "refused"
        return "taken" if reply.processed == 1 else "refused"

    def remembered(self):
        path = self.spool / self.host / ".redirect"
        return json.loads(path.read_text()) if path.exists() else None

    def forget(self):
        found = zabbix.api("host.get", {"filter": {"host": [self.host]}, "output": ["hostid"]})
        if found:
            zabbix.api("host.delete", [h["hostid"] for h in found])
        zabbix.forget_proxies([p[0] for p in self.proxies])
        groups = zabbix.api("proxygroup.get", {"filter": {"name": [GROUP]}, "output": ["proxy_groupid"]})
        if groups:
            zabbix.api("proxygroup.delete", [g["proxy_groupid"] for g in groups])


@pytest.fixture
def fleet(tmp_path, make_site):
    proxies = zabbix.ensure_proxies()
    f = Fleet(tmp_path, make_site(), proxies)
    if zabbix.MAJOR >= (7, 0):
        f.forget()
    yield f
    for i in (0, 1):
        zabbix.stack_cmd("start-proxy", str(i))         # a test may have stopped one
    if zabbix.MAJOR >= (7, 0):
        f.forget()


@pytest.mark.skipif(zabbix.MAJOR < (7, 0), reason="proxy groups are new in Zabbix 7.0")
def test_setup_makes_the_group_and_send_follows_its_redirect(fleet):
    lines = fleet.setup()
    assert f"create proxy group '{GROUP}' (Zabbix's defaults: failover delay 1m, 1 proxy online at least)" in lines
    for name, port in fleet.proxies:
        assert any(line.startswith(f"create proxy '{name}' in proxy group '{GROUP}' at 127.0.0.1:{port}")
                   for line in lines), lines
    assert any(line.startswith(f"create host '{fleet.host}'") and
               line.endswith(f"monitored by proxy group '{GROUP}')") for line in lines), lines
    assert fleet.setup()[0].startswith("nothing to change")
    row = fleet.host_row()
    (group,) = zabbix.api("proxygroup.get", {"filter": {"name": [GROUP]}, "output": ["proxy_groupid"]})
    assert (row["monitored_by"], row["proxy_groupid"]) == ("2", group["proxy_groupid"])
    proxies = zabbix.api("proxy.get", {"filter": {"name": [p[0] for p in fleet.proxies]},
                                       "output": ["name", "proxy_groupid", "local_address", "local_port"]})
    assert sorted((p["name"], p["proxy_groupid"], p["local_address"], p["local_port"]) for p in proxies) == \
        sorted((name, group["proxy_groupid"], "127.0.0.1", str(port)) for name, port in fleet.proxies)

    # the first proxy configured is the one the host does NOT live on: it redirects
    home = fleet.assigned()
    rc, out, err = fleet.send(N, order=(1 - home, home))
    assert rc == 0, out + err
    assert f"127.0.0.1:{fleet.proxies[1 - home][1]} redirects to 127.0.0.1:{fleet.proxies[home][1]}" in err, err
    assert fleet.remembered()["port"] == fleet.proxies[home][1]
    # remembered: the next run goes straight to the host's proxy
    rc, out, err = fleet.send(N + dt.timedelta(minutes=1), order=(1 - home, home))
    assert rc == 0 and "redirects to" not in err, out + err
    assert fleet.clocks(2) == [unix(N), unix(N + dt.timedelta(minutes=1))]
    rc, out, err = run_cli("check", "--config", fleet.config(), timeout=60)
    for name, port in fleet.proxies:
        assert (f"zabbix proxy {name} 127.0.0.1:{port}: accepts connections (`send` for proxy group "
                f"{GROUP}: {fleet.host})") in out + err, out + err


@pytest.mark.skipif(zabbix.MAJOR < (7, 0), reason="proxy groups are new in Zabbix 7.0")
def test_setup_moves_a_host_between_proxy_group_proxy_and_server(fleet):
    first = fleet.proxies[0][0]
    fleet.setup(group=False, proxy=first)
    assert fleet.host_row()["monitored_by"] == "1"
    assert f"move host '{fleet.host}' to proxy group '{GROUP}'" in fleet.setup()
    assert fleet.host_row()["monitored_by"] == "2"
    assert f"move host '{fleet.host}' to the server" in fleet.setup(group=False)
    row = fleet.host_row()
    assert (row["monitored_by"], row["proxy_groupid"], row["proxyid"]) == ("0", "0", "0")
    assert f"move host '{fleet.host}' to proxy group '{GROUP}'" in fleet.setup()


@pytest.mark.skipif(zabbix.MAJOR < (7, 0), reason="proxy groups are new in Zabbix 7.0")
def test_the_host_s_proxy_stopped_the_group_moves_it_and_nothing_is_lost(fleet):
    """The values wait in our spool while the host's proxy is down and the group has not moved
    the host yet (the other proxy still redirects to the stopped one), then reach the proxy
    the group moved it to, with their clocks."""
    fleet.setup()
    (group,) = zabbix.api("proxygroup.get", {"filter": {"name": [GROUP]}, "output": ["proxy_groupid"]})
    zabbix.api("proxygroup.update", {"proxy_groupid": group["proxy_groupid"], "failover_delay": "10s"})
    home = fleet.assigned()
    rc, out, err = fleet.send(N)
    assert rc == 0, out + err
    zabbix.stack_cmd("stop-proxy", str(home))
    moment, deadline = N + dt.timedelta(minutes=1), time.monotonic() + 120
    rc, out, err = fleet.send(moment)
    # within the failover delay the group still has the host on the stopped proxy
    assert rc == 1 and f"{fleet.host}: sent 0 (0 from the spool), rejected 0, waiting in spool 1" in out, out + err
    runs = [out]
    while rc != 0 and time.monotonic() < deadline:
        time.sleep(3)
        zabbix.reload_proxy(1 - home)
        rc, out, err = fleet.send(moment, (0, 1), "--spool-only")
        runs.append(out)
    assert rc == 0, out + err
    assert f"{fleet.host}: sent 1 (1 from the spool), rejected 0" in out, out
    assert all("rejected 0" in run for run in runs), runs       # the new proxy's first refusals were kept
    assert fleet.clocks(2) == [unix(N), unix(moment)]
    names = {p["proxyid"]: p["name"] for p in zabbix.api("proxy.get", {"output": ["proxyid", "name"]})}
    assert names[fleet.host_row()["assigned_proxyid"]] == fleet.proxies[1 - home][0]


@pytest.mark.skipif(zabbix.MAJOR >= (7, 0), reason="6.x has no proxy groups")
def test_before_70_a_proxy_group_is_a_config_error(fleet):
    rc, out, err = run_cli("zabbix", "setup", "--config", fleet.config(), timeout=300)
    assert rc == 2, out + err
    assert "sites[0].proxy_group: proxy groups need Zabbix 7.0 or later" in err, err
    assert "name one proxy (`proxy:`) per site instead" in err
