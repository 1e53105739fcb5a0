"""A site's Frappe server watched with Zabbix's own templates (issue 17, part 1): `zabbix
setup` makes `frappe_host` a host with an agent interface, links the server's own Linux,
MySQL and Redis templates (looked up by name: none is shipped here), keeps it in step with
the config, and the Linux template's items get values from the stack's real agent."""
import os
import secrets
import time

import pytest
import yaml

from tests import zabbix
from tests.conftest import run_cli

pytestmark = pytest.mark.zabbix


@pytest.fixture
def names():
    site = f"zsepa-fh-{secrets.token_hex(3)}"
    yield site, f"{site}-host"
    found = zabbix.api("host.get", {"filter": {"host": [site, f"{site}-host"]}, "output": ["hostid"]})
    if found:
        zabbix.api("host.delete", [h["hostid"] for h in found])


def write(tmp_path, site, **frappe_host):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "timezone": "UTC",
        "zabbix": {"api": {"url": zabbix.API_URL, "user": "Admin", "password": "zabbix"}},
        "sites": [{"name": site, "database": {"name": "a", "user": "u"},
                   "frappe_host": {"address": "127.0.0.1", "port": zabbix.AGENT_PORT, **frappe_host}}]}))
    os.chmod(path, 0o600)
    return str(path)


def setup(cfg):
    rc, out, err = run_cli("zabbix", "setup", "--config", cfg, timeout=300)
    assert rc == 0, out + err
    return out.splitlines()


def host(name):
    (h,) = zabbix.api("host.get", {"filter": {"host": [name]}, "output": ["hostid"],
                                   "selectParentTemplates": ["name"], "selectInterfaces": ["type", "ip", "port"]})
    return h


def test_setup_links_zabbix_s_own_templates_and_the_agent_answers(tmp_path, names):
    site, fh = names
    cfg = write(tmp_path, site)
    lines = setup(cfg)
    made = [line for line in lines if line.startswith(f"create host '{fh}'")]
    assert made == [f"create host '{fh}' (the Frappe server of site '{site}', agent 127.0.0.1:{zabbix.AGENT_PORT}, "
                    "Linux by Zabbix agent, MySQL by Zabbix agent, Redis by Zabbix agent 2, monitored by the server)"]
    h = host(fh)
    assert sorted(t["name"] for t in h["parentTemplates"]) == \
        ["Linux by Zabbix agent", "MySQL by Zabbix agent", "Redis by Zabbix agent 2"]
    assert [(i["type"], i["ip"], i["port"]) for i in h["interfaces"]] == [("1", "127.0.0.1", str(zabbix.AGENT_PORT))]
    assert setup(cfg)[-1].startswith("nothing to change")

    # the Linux template's items, checked now (Zabbix's "Execute now"), get the agent's values
    zabbix.reload_config_cache()
    keys = ["system.cpu.load[all,avg1]", "vm.memory.size[available]"]
    items = zabbix.api("item.get", {"hostids": [h["hostid"]], "filter": {"key_": keys}, "output": ["itemid", "key_"]})
    assert sorted(i["key_"] for i in items) == sorted(keys)
    deadline, values = time.monotonic() + 90, {}
    while len(values) < len(items) and time.monotonic() < deadline:
        try:
            zabbix.api("task.create", [{"type": 6, "request": {"itemid": i["itemid"]}} for i in items])
        except zabbix.ApiError:
            pass                    # the server's cache does not know the items yet
        time.sleep(3)
        for i in zabbix.api("item.get", {"itemids": [i["itemid"] for i in items], "output": ["key_", "lastvalue",
                                                                                            "lastclock"]}):
            if i["lastclock"] != "0":
                values[i["key_"]] = float(i["lastvalue"])
    assert set(values) == set(keys), values
    assert values["vm.memory.size[available]"] > 0 and values["system.cpu.load[all,avg1]"] >= 0


def test_setup_follows_the_config_and_keeps_what_was_added(tmp_path, names):
    site, fh = names
    setup(write(tmp_path, site, templates=["linux"]))
    assert [t["name"] for t in host(fh)["parentTemplates"]] == ["Linux by Zabbix agent"]
    lines = setup(write(tmp_path, site, templates=["linux", "mysql"], port=10070))
    assert f"move the agent interface of host '{fh}' to 127.0.0.1:10070" in lines
    assert f"link 'MySQL by Zabbix agent' to host '{fh}'" in lines
    # fewer templates in the config: what is linked stays (someone may have linked it on purpose)
    assert setup(write(tmp_path, site, templates=["linux"], port=10070))[-1].startswith("nothing to change")
    assert sorted(t["name"] for t in host(fh)["parentTemplates"]) == ["Linux by Zabbix agent", "MySQL by Zabbix agent"]
