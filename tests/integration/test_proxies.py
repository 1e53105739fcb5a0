"""Sites monitored through Zabbix proxies (issue 12): `send` delivers each site's values to
its proxy (zabbix.proxies, sites[].proxy), the others to the server; a proxy that is down
holds back only its own sites' values, which its host spool keeps until it is back, with
their original clocks. Real proxies of the tests' stack (stack/zabbix.sh proxies-up)."""
import datetime as dt
import json
import os
import time

import pytest
import yaml

from tests import zabbix
from tests.conftest import run_cli

pytestmark = pytest.mark.zabbix
# Recent (values older than spool_max_age_hours are dropped by design), whole minutes, UTC.
N = (dt.datetime.utcnow() - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
FMT = "%Y-%m-%d %H:%M:%S"


@pytest.fixture(scope="module")
def proxy():
    """The stack's first proxy, known to the server; (name, port, proxyid)."""
    (name, port), _ = zabbix.ensure_proxies()
    zabbix.forget_proxies([name])
    proxyid = zabbix.api("proxy.create", zabbix.proxy_params(name))["proxyids"][0]
    yield name, port, proxyid
    zabbix.stack_cmd("start-proxy", "0")                   # a test may have stopped it
    zabbix.forget_proxies([name])


@pytest.fixture
def two_sites(make_site, proxy):
    """Site A monitored by the proxy, site B by the server, each with its trapper host."""
    name, port, proxyid = proxy
    a, b = make_site(), make_site()
    a.host, b.host = f"zsepa-px-{a.name[-10:]}", f"zsepa-dx-{b.name[-10:]}"
    hosts = zabbix.TrapperHost(a.host, proxy=(proxyid, 0)), zabbix.TrapperHost(b.host)
    yield a, b, hosts
    for h in hosts:
        h.delete()


def config(tmp_path, proxy, a, b):
    name, port, _ = proxy
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "timezone": "UTC", "spool_dir": str(tmp_path / "spool"),
        "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT, "timeout": 3,
                   "proxies": [{"name": name, "address": "127.0.0.1", "port": port}]},
        "sites": [{"name": a.host, "proxy": name, "database": a.server.site_database_mapping(a.name)},
                  {"name": b.host, "database": b.server.site_database_mapping(b.name)}]}))
    os.chmod(path, 0o600)
    return str(path)


def send(cfg, now):
    return run_cli("send", "--config", cfg, "--all", "--cadence", "minute", "--now", now.strftime(FMT), timeout=120)


def clocks(host, expect, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        values = host.history()
        if len(values) >= expect or time.monotonic() > deadline:
            return [int(v["clock"]) for v in values]
        time.sleep(1)


def unix(moment):
    return int(moment.replace(tzinfo=dt.timezone.utc).timestamp())


def test_a_site_through_its_proxy_and_one_direct_both_arrive(tmp_path, proxy, two_sites):
    a, b, (ha, hb) = two_sites
    rc, out, err = send(config(tmp_path, proxy, a, b), N)
    assert rc == 0, out + err
    assert clocks(ha, 1) == [unix(N)] and clocks(hb, 1) == [unix(N)]
    assert json.loads(ha.history()[0]["value"])["site"] == a.host


def test_a_proxy_down_holds_back_only_its_own_sites(tmp_path, proxy, two_sites):
    a, b, (ha, hb) = two_sites
    cfg = config(tmp_path, proxy, a, b)
    zabbix.stack_cmd("stop-proxy", "0")
    try:
        for minutes in (0, 1):
            rc, out, err = send(cfg, N + dt.timedelta(minutes=minutes))
            assert rc == 1, out + err                         # something waits in the spool
            assert f"{a.host}: sent 0" in out and f"waiting in spool {minutes + 1}" in out, out
            assert f"{b.host}: sent 1" in out, out            # the server was reachable all along
    finally:
        zabbix.stack_cmd("start-proxy", "0")
    rc, out, err = send(cfg, N + dt.timedelta(minutes=2))
    assert rc == 0, out + err
    assert f"{a.host}: sent 3 (2 from the spool)" in out, out
    want = [unix(N + dt.timedelta(minutes=m)) for m in range(3)]
    assert sorted(clocks(ha, 3)) == want and sorted(clocks(hb, 3)) == want


def test_check_says_whether_each_proxy_takes_connections(tmp_path, proxy, two_sites):
    a, b, _ = two_sites
    cfg = config(tmp_path, proxy, a, b)
    name, port, _ = proxy
    rc, out, err = run_cli("check", "--config", cfg, timeout=60)
    assert f"zabbix proxy {name} 127.0.0.1:{port}: accepts connections (`send` for {a.host})" in out + err
    zabbix.stack_cmd("stop-proxy", "0")
    try:
        rc, out, err = run_cli("check", "--config", cfg, timeout=60)
        assert rc != 0 and f"zabbix proxy {name} 127.0.0.1:{port}: Connection refused" in out + err, out + err
    finally:
        zabbix.stack_cmd("start-proxy", "0")


def test_setup_creates_the_proxy_and_moves_hosts_between_proxy_and_server(tmp_path, make_site):
    """`zabbix setup`: a proxy a site names is created (active) when missing, the site's host is
    monitored by it; a config without the proxy moves the host back to the server; idempotent."""
    (_, _), (name, port) = zabbix.ensure_proxies()
    zabbix.forget_proxies([name])
    site = make_site()
    host = f"zsepa-ps-{site.name[-10:]}"
    path = tmp_path / "setup.yaml"

    def write(proxy):
        path.write_text(yaml.safe_dump({
            "timezone": "UTC", "spool_dir": str(tmp_path / "spool"),
            "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT,
                       "api": {"url": zabbix.API_URL, "user": "Admin", "password": "zabbix"},
                       "proxies": [{"name": name, "address": "127.0.0.1", "port": port}]},
            "sites": [{"name": host, "database": site.server.site_database_mapping(site.name),
                       **({"proxy": proxy} if proxy else {})}]}))
        os.chmod(path, 0o600)
        return str(path)

    def setup(cfg):
        rc, out, err = run_cli("zabbix", "setup", "--config", cfg, timeout=300)
        assert rc == 0, out + err
        return out.splitlines()

    def monitor():
        key = "proxyid" if zabbix.MAJOR >= (7, 0) else "proxy_hostid"
        (h,) = zabbix.api("host.get", {"filter": {"host": [host]}, "output": [key]})
        return h[key]

    try:
        lines = setup(write(name))
        assert f"create proxy '{name}' (active: its zabbix_proxy connects with Hostname={name})" in lines
        assert any(line.startswith(f"create host '{host}'") and line.endswith(f"monitored by proxy '{name}')")
                   for line in lines), lines
        (proxy,) = zabbix.find_proxies([name])
        assert monitor() == proxy["proxyid"]
        assert setup(write(name))[0].startswith("nothing to change")
        assert f"move host '{host}' to the server" in setup(write(None))
        assert monitor() == "0"
        assert f"move host '{host}' to proxy '{name}'" in setup(write(name))
        assert monitor() == proxy["proxyid"]
        # and the values get there: through the proxy, with their clock
        zabbix.reload_config_cache()
        zabbix.reload_proxy(1)
        deadline = time.monotonic() + 60
        while True:
            rc, out, err = send(write(name), N)
            if rc == 0 or time.monotonic() > deadline:
                break
            zabbix.reload_config_cache()
            zabbix.reload_proxy(1)
            time.sleep(2)
        assert rc == 0, out + err
    finally:
        found = zabbix.api("host.get", {"filter": {"host": [host]}, "output": ["hostid"]})
        if found:
            zabbix.api("host.delete", [h["hostid"] for h in found])
        zabbix.forget_proxies([name])


def test_the_server_down_behind_a_running_proxy_loses_nothing(tmp_path, proxy, two_sites):
    """The proxy takes the site's values while the server is stopped (send: exit 0, nothing
    spooled for it) and hands them on, clocks kept, once the server is back; the direct site's
    value waits in our spool meanwhile."""
    a, b, (ha, hb) = two_sites
    cfg = config(tmp_path, proxy, a, b)
    zabbix.stop_server()
    try:
        rc, out, err = send(cfg, N)
        assert f"{a.host}: sent 1 (0 from the spool), rejected 0, waiting in spool 0" in out, out + err
        assert f"{b.host}: sent 0" in out and rc == 1, out + err
    finally:
        zabbix.start_server()
    assert clocks(ha, 1, timeout=90) == [unix(N)]                  # from the proxy's own buffer
    rc, out, err = send(cfg, N + dt.timedelta(minutes=1))
    assert rc == 0, out + err
    assert sorted(clocks(hb, 2)) == [unix(N), unix(N + dt.timedelta(minutes=1))]
