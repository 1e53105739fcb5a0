"""The Zabbix version logic of api.py and setup, without a server: a fake HTTP session answers
for pyzabbix, a fake API for setup (the real thing runs against Zabbix 6.0 and 7.0 in
tests/integration/test_zabbix_setup.py)."""
import json

import pytest

from zabbix_sepa.config import ApiConfig
from zabbix_sepa.zabbix import setup, template
from zabbix_sepa.zabbix.api import Api, ApiError, ZabbixVersion
from zabbix_sepa.zabbix.provision import IMPORT_RULES

URL = "http://zabbix.example/api_jsonrpc.php"


class FakeSession:
    """What pyzabbix needs of a requests.Session; answers like a Zabbix of `version`."""

    def __init__(self, version, errors=None):
        self.version = version
        self.errors = errors or {}    # method: (message, data)
        self.headers = {}
        self.sent = []                # (payload, headers)

    def post(self, url, json=None, headers=None, timeout=None):
        self.sent.append((json, dict(headers or {})))
        method = json["method"]
        if method in self.errors:
            message, data = self.errors[method]
            return FakeResponse({"jsonrpc": "2.0", "error": {"code": -32602, "message": message, "data": data},
                                 "id": json["id"]})
        result = {"apiinfo.version": self.version, "user.login": "session-id",
                  "user.logout": True}.get(method, [])
        return FakeResponse({"jsonrpc": "2.0", "result": result, "id": json["id"]})


class FakeResponse:
    status_code = 200

    def __init__(self, body):
        self.text = json.dumps(body)

    def json(self):
        return json.loads(self.text)

    def raise_for_status(self):
        pass


def connect(version, errors=None, **credentials):
    session = FakeSession(version, errors)
    api = Api(ApiConfig(url=URL, **(credentials or {"token": "t" * 64})), session=session)
    return api, session


@pytest.mark.parametrize("version, why", [
    ("5.4.9", "older than 6.0"), ("4.0.50", "older than 6.0"),
    ("8.0.0", "a major version it does not know yet"), ("10.2.1", "a major version it does not know yet")])
def test_an_old_or_unknown_zabbix_is_refused_naming_its_version_and_the_supported_ones(version, why):
    with pytest.raises(ApiError) as err:
        connect(version)
    assert str(err.value) == (f"{URL} runs Zabbix {version}, {why}; zabbix-sepa supports Zabbix 6.0 and 7.0 "
                              "LTS (tested) and 6.2, 6.4, 7.2, 7.4")


def test_an_unreadable_version_is_an_error():
    with pytest.raises(ApiError, match="version zabbix-sepa cannot read: 'banana'"):
        connect("banana")


@pytest.mark.parametrize("version, template_version, tested", [
    ("6.0.14", "6.0", True), ("6.2.9", "6.0", False), ("6.4.21", "6.0", False),
    ("7.0.9", "7.0", True), ("7.2.3", "7.0", False), ("7.4.0", "7.0", False), ("7.0.0rc1", "7.0", True)])
def test_supported_versions_pick_the_template_format(version, template_version, tested):
    api, _ = connect(version)
    assert str(api.version) == version
    assert api.template_version == template_version
    assert api.version.tested is tested


def test_zabbix_6_0_gets_the_auth_member_7_0_the_bearer_header():
    api, session = connect("6.0.14", user="Admin", password="zabbix")
    login, _ = session.sent[1]
    assert login["method"] == "user.login" and login["params"] == {"username": "Admin", "password": "zabbix"}
    api.call("host.get", output=["hostid"])
    payload, headers = session.sent[-1]
    assert payload["auth"] == "session-id" and "Authorization" not in headers

    for version in ("6.4.0", "7.0.9", "7.2.3"):      # 7.2 refuses `auth`
        api, session = connect(version, token="x" * 64)
        api.call("host.get", output=["hostid"])
        for payload, headers in session.sent[1:]:
            assert "auth" not in payload and headers["Authorization"] == "Bearer " + "x" * 64
        apiinfo, headers = session.sent[0]
        assert apiinfo["method"] == "apiinfo.version" and "Authorization" not in headers and "auth" not in apiinfo


def test_a_password_session_is_closed_a_token_is_not():
    api, session = connect("7.0.9", user="Admin", password="zabbix")
    api.close()
    assert session.sent[-1][0]["method"] == "user.logout"
    api, session = connect("7.0.9", token="x" * 64)
    api.close()
    assert session.sent[-1][0]["method"] == "user.get"


def test_api_errors_are_sentences():
    with pytest.raises(ApiError) as err:
        connect("7.0.9", errors={"user.get": ("Invalid params.", "Not authorized.")})
    assert str(err.value).startswith("the Zabbix API refused the credentials (zabbix.api.token or user/password): "
                                     "Invalid params. Not authorized.; if they are right, a web server or proxy")
    with pytest.raises(ApiError) as err:
        connect("6.0.14", errors={"user.get": ("Invalid params.", "Not authorised.")})
    assert str(err.value) == ("the Zabbix API refused the credentials (zabbix.api.token or user/password): "
                              "Invalid params. Not authorised.")
    api, _ = connect("7.0.9", errors={"configuration.import": (
        "No permissions to call \"configuration.import\".", "No data")})
    with pytest.raises(ApiError, match=r"may not call configuration.import \(`zabbix setup` needs a Super admin"):
        api.call("configuration.import", format="yaml", source="", rules={})


def test_newest_names_are_translated_for_6_0_only():
    old, new = ZabbixVersion("6.0.14"), ZabbixVersion("7.0.9")
    params = {"filter": {"host": ["a"]}, "selectHostGroups": ["groupid"]}
    assert old.request("host.get", params) == {"filter": {"host": ["a"]}, "selectGroups": ["groupid"]}
    assert new.request("host.get", params) == params
    assert old.result("host.get", params, [{"hostid": "1", "groups": [{"groupid": "5"}]}]) == \
        [{"hostid": "1", "hostgroups": [{"groupid": "5"}]}]
    assert params == {"filter": {"host": ["a"]}, "selectHostGroups": ["groupid"]}       # untouched

    rights = [{"id": "5", "permission": "2"}]
    assert old.request("usergroup.update", {"usrgrpid": "9", "hostgroup_rights": rights}) == \
        {"usrgrpid": "9", "rights": rights}
    assert new.request("usergroup.create", {"name": "g", "hostgroup_rights": rights}) == \
        {"name": "g", "hostgroup_rights": rights}
    assert old.request("usergroup.get", {"selectHostGroupRights": "extend"}) == {"selectRights": "extend"}
    assert old.result("usergroup.get", {"selectHostGroupRights": "extend"}, [{"usrgrpid": "9", "rights": rights}]) \
        == [{"usrgrpid": "9", "hostgroup_rights": rights}]


def test_import_rules_name_groups_as_each_version_wants():
    old = ZabbixVersion("6.0.14").request("configuration.import", {"rules": IMPORT_RULES})["rules"]
    assert old["groups"] == {"createMissing": True}
    assert "template_groups" not in old and "host_groups" not in old
    assert old["templates"] == IMPORT_RULES["templates"]
    for version in ("6.2.0", "7.0.9", "7.4.1"):
        rules = ZabbixVersion(version).request("configuration.import", {"rules": IMPORT_RULES})["rules"]
        assert "groups" not in rules and rules["template_groups"] == {"createMissing": True}


class FakeApi:
    """An empty Zabbix of `version` for setup in dry-run mode; records the calls."""

    def __init__(self, version):
        self.version = ZabbixVersion(version)
        self.template_version = self.version.template_version
        self.calls = []

    def call(self, method, **params):
        self.calls.append((method, params))
        return []


@pytest.mark.parametrize("version, fmt", [("6.0.14", "6.0"), ("7.0.9", "7.0")])
def test_setup_picks_the_template_of_the_servers_major(tmp_path, monkeypatch, version, fmt):
    from zabbix_sepa import config
    path = tmp_path / "c.yaml"
    path.write_text("zabbix: {api: {url: http://zabbix.example, token: t}}\n"
                    "alerts: {webhook: {url: 'http://127.0.0.1:9/hook'}}\n"
                    "sites: [{name: site-a, database: {name: a, user: u}}]\n")
    asked = []
    monkeypatch.setattr(template, "build_id", lambda variant, v: asked.append((variant, v)) or f"b-{variant}-{v}")
    lines = []
    api = FakeApi(version)
    changes = setup.run(api, config.load(str(path)), dry_run=True, report=lines.append)
    assert sorted(asked) == [("agent", fmt), ("trapper", fmt)]
    assert f"would import template 'SEPA by Zabbix trapper' (Zabbix {fmt} format, build b-trapper-{fmt})" in lines
    assert "would create host group 'SEPA'" in lines
    assert any(line.startswith("would create host 'site-a' (SEPA by Zabbix trapper, ") for line in lines)
    assert lines[-2].startswith("would create action 'SEPA problems'") and len(changes) == len(lines)
    assert lines[-1] == "would create dashboard 'SEPA fleet'"
    assert [m for m, _ in api.calls if not m.endswith(".get")] == []          # a dry run changes nothing
    (host_get,) = [p for m, p in api.calls if m == "host.get"]
    assert "selectHostGroups" in host_get                                   # api.py translates it for 6.0


def test_the_api_module_depends_on_nothing_of_zabbix_sepa():
    """Layering: config -> ... -> zabbix api; setup, check and the reports import it, never the reverse."""
    import ast
    import zabbix_sepa.zabbix.api as module
    tree = ast.parse(open(module.__file__).read())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | \
        {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and m.startswith("zabbix_sepa")}, imported


def test_agent_hosts_on_7_0_get_check_timeouts_and_intervals_that_fit_their_config():
    from zabbix_sepa.config import parse
    from zabbix_sepa.zabbix.provision import Provisioning, agent_timeout
    assert [agent_timeout(t) for t in (2.5, 8.0, 8.5, 30, 5000)] == ["10s", "10s", "11s", "32s", "600s"]
    assert [agent_timeout(t, "hour") for t in (25, 28, 29.5)] == ["30s", "30s", "32s"]
    site = parse({"collect_timeout": 30, "sites": [{
        "name": "big-site", "database": {"name": "d", "user": "u"},
        "cadences": {"minute": {"interval": 300}, "hour": {"interval": 7200, "collect_timeout": 120}}}]}).sites[0]
    for version, timeouts in (("7.0.9", ("32s", "122s")), ("6.0.14", (None, None))):
        macros = Provisioning(FakeApi(version), None, None, agent=True).desired_macros(site)
        assert (macros.get(template.AGENT_TIMEOUT_MACROS["minute"]),
                macros.get(template.AGENT_TIMEOUT_MACROS["hour"])) == timeouts
        assert macros["{$SEPA.SITE}"] == "big-site"
        assert (macros[template.INTERVAL_MACROS["minute"]], macros[template.INTERVAL_MACROS["hour"]]) == ("5m", "2h")
    trapper = Provisioning(FakeApi("7.0.9"), None, None, agent=False).desired_macros(site)
    assert not set(template.AGENT_TIMEOUT_MACROS.values()) & set(trapper)
    assert trapper["{$SEPA.BATCH.FAILED.MAX}"] == "0"


class FakeHostApi(FakeApi):
    """A Zabbix holding one host `host` (linked, in group SEPA) with `macros`; host.update of
    macros replaces them, as the real API does."""

    def __init__(self, host, macros):
        super().__init__("7.0.9")
        self.host = {"hostid": "101", "host": host, "hostgroups": [{"groupid": "5"}],
                     "parentTemplates": [{"templateid": "10"}], "interfaces": [], "macros": macros}

    def call(self, method, **params):
        self.calls.append((method, params))
        if method == "host.get":
            return [json.loads(json.dumps(self.host))]
        if method == "host.update" and "macros" in params:
            self.host["macros"] = [dict(m) for m in params["macros"]]
        return {}


def provision_host(api, cfg, dry_run=False):
    from zabbix_sepa.zabbix.provision import Provisioning
    lines = []
    p = Provisioning(api, cfg, setup.Changes(dry_run, lines.append))
    p.group_id, p.template_ids = "5", {"trapper": "10", "agent": "11"}
    p.host(cfg.sites[0])
    return lines


def test_setup_moves_macros_of_a_former_name_to_the_current_one_once():
    from zabbix_sepa.config import parse
    from zabbix_sepa.zabbix.provision import Provisioning
    cfg = parse({"sites": [{"name": "site-a", "database": {"name": "d", "user": "u"},
                            "thresholds": {"member_without_mandate_max": 3}}]})
    want = Provisioning(FakeApi("7.0.9"), cfg, None).desired_macros(cfg.sites[0])
    # a host an older setup made: its macros under the former names
    old = {"{$SEPA.MEMBER.NO_MANDATE.MAX}": "{$SEPA.MEMBER.WITHOUT.MANDATE.MAX}",
           "{$SEPA.MANDATE.IBAN_INVALID.MAX}": "{$SEPA.MANDATE.IBAN.INVALID.MAX}",
           "{$SEPA.MANDATE.EXPIRED_ACTIVE.MAX}": "{$SEPA.MANDATE.EXPIRED.ACTIVE.MAX}"}
    macros = [{"macro": {v: k for k, v in old.items()}.get(k, k), "value": v, "description": ""}
              for k, v in want.items() if k != "{$SEPA.MANDATE.EXPIRED.ACTIVE.MAX}"]
    macros += [{"macro": "{$SEPA.MANDATE.EXPIRED_ACTIVE.MAX}", "value": "7", "description": ""},  # both names:
               {"macro": "{$SEPA.MANDATE.EXPIRED.ACTIVE.MAX}", "value": "0", "description": ""},  # current wins
               {"macro": '{$SEPA.MANDATE.IBAN_INVALID.MAX:"NL"}', "value": "4", "description": "per country"},
               {"macro": "{$SITE.OWNER}", "value": "finance", "description": "not ours"}]
    api = FakeHostApi("site-a", macros)

    assert provision_host(api, cfg, dry_run=True) == [
        "would rename macro(s) on host 'site-a': {$SEPA.MANDATE.EXPIRED_ACTIVE.MAX} -> "
        '{$SEPA.MANDATE.EXPIRED.ACTIVE.MAX}, {$SEPA.MANDATE.IBAN_INVALID.MAX:"NL"} -> '
        '{$SEPA.MANDATE.IBAN.INVALID.MAX:"NL"}, {$SEPA.MANDATE.IBAN_INVALID.MAX} -> {$SEPA.MANDATE.IBAN.INVALID.MAX}, '
        "{$SEPA.MEMBER.NO_MANDATE.MAX} -> {$SEPA.MEMBER.WITHOUT.MANDATE.MAX}"]
    assert [m for m, _ in api.calls if m != "host.get"] == []

    lines = provision_host(api, cfg)
    assert lines == [line[len("would "):] for line in provision_host(FakeHostApi("site-a", macros), cfg, True)]
    after = {m["macro"]: m for m in api.host["macros"]}
    assert not set(old) & set(after) and '{$SEPA.MANDATE.IBAN_INVALID.MAX:"NL"}' not in after
    assert after["{$SEPA.MEMBER.WITHOUT.MANDATE.MAX}"]["value"] == "3"          # the value moved
    assert after["{$SEPA.MANDATE.EXPIRED.ACTIVE.MAX}"]["value"] == "0"          # the current one kept
    assert after['{$SEPA.MANDATE.IBAN.INVALID.MAX:"NL"}'] == {
        "macro": '{$SEPA.MANDATE.IBAN.INVALID.MAX:"NL"}', "value": "4", "description": "per country"}
    assert after["{$SITE.OWNER}"]["value"] == "finance"
    assert {k: after[k]["value"] for k in want} == want
    assert provision_host(api, cfg) == []                                     # a second run changes nothing


def test_a_renamed_macro_whose_value_the_config_changed_is_moved_then_set():
    from zabbix_sepa.config import parse
    from zabbix_sepa.zabbix.provision import Provisioning
    cfg = parse({"sites": [{"name": "site-a", "database": {"name": "d", "user": "u"},
                            "thresholds": {"member_without_mandate_max": 3}}]})
    want = Provisioning(FakeApi("7.0.9"), cfg, None).desired_macros(cfg.sites[0])
    macros = [{"macro": k, "value": v} for k, v in want.items() if k != "{$SEPA.MEMBER.WITHOUT.MANDATE.MAX}"]
    api = FakeHostApi("site-a", macros + [{"macro": "{$SEPA.MEMBER.NO_MANDATE.MAX}", "value": "0"}])
    assert provision_host(api, cfg) == [
        "rename macro(s) on host 'site-a': {$SEPA.MEMBER.NO_MANDATE.MAX} -> {$SEPA.MEMBER.WITHOUT.MANDATE.MAX}",
        "set 1 macro(s) on host 'site-a': {$SEPA.MEMBER.WITHOUT.MANDATE.MAX}"]
    assert {m["macro"]: m["value"] for m in api.host["macros"]} == want
    assert provision_host(api, cfg) == []


def test_proxy_names_translate_for_servers_before_70():
    from zabbix_sepa.zabbix.api import ZabbixVersion
    v60, v70 = ZabbixVersion("6.0.14"), ZabbixVersion("7.0.9")
    create = {"name": "proxy-nl1", "operating_mode": 0}
    assert v70.request("proxy.create", create) == create
    assert v60.request("proxy.create", create) == {"host": "proxy-nl1", "status": 5}
    get = {"filter": {"name": ["proxy-nl1"]}, "output": ["proxyid", "name", "operating_mode"]}
    assert v60.request("proxy.get", get) == {"filter": {"host": ["proxy-nl1"]}, "output": ["proxyid", "host", "status"]}
    assert v60.result("proxy.get", get, [{"proxyid": "9", "host": "proxy-nl1", "status": "5"}]) == \
        [{"proxyid": "9", "name": "proxy-nl1", "operating_mode": "0"}]
    assert v60.request("host.update", {"hostid": "1", "monitored_by": 1, "proxyid": "9"}) == \
        {"hostid": "1", "proxy_hostid": "9"}
    assert v60.request("host.update", {"hostid": "1", "monitored_by": 0}) == {"hostid": "1", "proxy_hostid": "0"}
    hosts = {"filter": {"host": ["a"]}, "output": ["hostid", "monitored_by", "proxyid", "proxy_groupid"]}
    assert v60.request("host.get", hosts)["output"] == ["hostid", "proxy_hostid"]
    assert v60.result("host.get", hosts, [{"hostid": "1", "proxy_hostid": "0"}, {"hostid": "2", "proxy_hostid": "9"}]) \
        == [{"hostid": "1", "monitored_by": "0", "proxyid": "0"}, {"hostid": "2", "monitored_by": "1", "proxyid": "9"}]
    assert v70.request("host.get", hosts) == hosts


@pytest.mark.parametrize("version, width, groups, limit", [("6.0.14", 24, "groupids", "count"),
                                                           ("6.4.5", 24, "groupids.0", "count"),
                                                           ("7.0.9", 72, "groupids.0", "show_lines")])
def test_the_fleet_dashboard_in_each_major_s_form(version, width, groups, limit):
    """Written once in 7.0's form (72 columns, numbered multi-select fields, Top hosts'
    `show_lines`); api.py gives 6.x its grid of 24, 6.0 its plain `groupids`, 6.x `count`."""
    from zabbix_sepa.zabbix import fleet
    from zabbix_sepa.zabbix.api import ZabbixVersion
    v = ZabbixVersion(version)
    sent = v.request("dashboard.create", {"name": fleet.NAME, "pages": [{"widgets": fleet.widgets("7", v.at_least(7, 0))}]})
    widgets = sent["pages"][0]["widgets"]
    assert max(w["x"] + w["width"] for w in widgets) == width
    assert {f["name"] for w in widgets for f in w["fields"] if f["type"] == 2} == {groups}
    (top,) = [w for w in widgets if w["type"] == "tophosts"]
    names = {f["name"]: f["value"] for f in top["fields"]}
    column = "columns.{0}.{1}" if v.at_least(7, 0) else "columns.{1}.{0}"
    assert names[limit] == 100 and names[column.format(0, "data")] == 2        # the site's name first
    assert [names[column.format(i, "name")] for i in range(1, 6)] == [m.overview for m in fleet.fleet_metrics()]
    assert ("hostnavigator" in {w["type"] for w in widgets}) == v.at_least(7, 0)
