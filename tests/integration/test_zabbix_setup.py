"""`zabbix-sepa zabbix setup` against a real Zabbix frontend API (6.0 or 7.0: ZABBIX_VERSION)."""
import os
import secrets

import pytest
import yaml

from tests import zabbix
from tests.conftest import run_cli
from zabbix_sepa.zabbix import fleet, notify as n, template
from zabbix_sepa.zabbix.provision import HOST_GROUP

pytestmark = pytest.mark.zabbix

SITES = ("zsepa-setup-a", "zsepa-setup-b")
# host.get's host groups: `selectGroups` until 6.0 (removed in 7.2), `selectHostGroups` from 6.2
SELECT_GROUPS, GROUPS = ("selectHostGroups", "hostgroups") if zabbix.MAJOR >= (6, 2) else ("selectGroups", "groups")


def remove_everything_setup_owns():
    api = zabbix.api
    # hosts left in group SEPA (earlier test runs, the demo) would keep it from being deleted
    groups = api("hostgroup.get", {"filter": {"name": [HOST_GROUP]}, "output": ["groupid"]})
    leftovers = api("host.get", {"search": {"host": "zsepa-"}, "output": ["hostid"]})
    if groups:
        leftovers += api("host.get", {"groupids": [groups[0]["groupid"]], "output": ["hostid"]})
    if leftovers:
        api("host.delete", sorted({h["hostid"] for h in leftovers}))
    for method, key, idkey, names in (
            ("action", "name", "actionid", [n.ACTION]),
            ("user", "username", "userid", [n.ESCALATION_USER, "zsepa-limited"]),
            ("host", "host", "hostid", list(SITES)),
            ("usergroup", "name", "usrgrpid", [n.ADMINS, n.ESCALATION_GROUP]),
            ("mediatype", "name", "mediatypeid", [n.EMAIL, n.WEBHOOK]),
            ("dashboard", "name", "dashboardid", [fleet.NAME]),
            ("hostgroup", "name", "groupid", [HOST_GROUP])):
        found = api(f"{method}.get", {"filter": {key: names}, "output": [idkey]})
        if found:
            api(f"{method}.delete", [f[idkey] for f in found])


@pytest.fixture(scope="module")
def clean():
    zabbix.ensure_stack()
    remove_everything_setup_owns()
    yield
    remove_everything_setup_owns()


def write(tmp_path, name="setup.yaml", api=None, **alerts):
    raw = {"timezone": "UTC",
           "zabbix": {"api": api or {"url": zabbix.API_URL, "user": "Admin", "password": "zabbix"}},
           "alerts": {"escalate_after_minutes": 30, "webhook": {"url": "http://127.0.0.1:9/hook",
                                                                "channel": "#sepa"}, **alerts},
           "sites": [{"name": SITES[0], "database": {"name": "a", "user": "u"}},
                     {"name": SITES[1], "database": {"name": "b", "user": "u"},
                      "thresholds": {"error_rate_per_hour": 80, "batch_stuck_hours": 4}}]}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    os.chmod(path, 0o600)
    return str(path)


def setup(cfg, *extra):
    rc, out, err = run_cli("zabbix", "setup", "--config", cfg, *extra, timeout=180)
    return rc, out.splitlines(), err


def test_dry_run_then_setup_then_nothing_to_change(tmp_path, clean):
    cfg = write(tmp_path)
    rc, lines, err = setup(cfg, "--dry-run")
    assert rc == 0, err
    assert "would create host group 'SEPA'" in lines
    from zabbix_sepa import registry
    assert (f"would create host 'zsepa-setup-a' (SEPA by Zabbix trapper, {len(registry.macros())} macros, "
            "monitored by the server)") in lines
    assert lines[-1].startswith("dry run:")
    assert zabbix.api("hostgroup.get", {"filter": {"name": ["SEPA"]}}) == []      # nothing made

    rc, lines, err = setup(cfg)
    assert rc == 0, err
    assert lines[-1].endswith("change(s) made")
    assert {l for l in lines if l.startswith("create")} >= {
        "create host group 'SEPA'", "create user group 'SEPA admins'", "create user group 'SEPA escalation'",
        "create media type 'SEPA Email'", "create media type 'SEPA webhook'"}

    # what Zabbix now holds: the templates in the server's own format
    for variant, spec in template.VARIANTS.items():
        (t,) = zabbix.api("template.get", {"filter": {"host": [spec["name"]]}, "selectMacros": ["macro", "value"]})
        assert {m["macro"]: m["value"] for m in t["macros"]}[template.BUILD_MACRO] == \
            template.build_id(variant, zabbix.VERSION)
    hosts = {h["host"]: h for h in zabbix.api("host.get", {
        "filter": {"host": list(SITES)}, "selectParentTemplates": ["host"], "selectMacros": ["macro", "value"],
        SELECT_GROUPS: ["name"]})}
    assert set(hosts) == set(SITES)
    for h in hosts.values():
        assert [t["host"] for t in h["parentTemplates"]] == ["SEPA by Zabbix trapper"]
        assert "SEPA" in [g["name"] for g in h[GROUPS]]
    macros_b = {m["macro"]: m["value"] for m in hosts[SITES[1]]["macros"]}
    assert macros_b["{$SEPA.ERROR.RATE.MAX}"] == "80"
    assert macros_b['{$SEPA.BATCH.PENDING.AGE.MAX:"Draft"}'] == "4h"
    assert {m["macro"]: m["value"] for m in hosts[SITES[0]]["macros"]}["{$SEPA.ERROR.RATE.MAX}"] == "50"
    (action,) = zabbix.api("action.get", {"filter": {"name": [n.ACTION]}, "output": "extend",
                                           "selectOperations": "extend", "selectRecoveryOperations": "extend",
                                           "selectUpdateOperations": "extend"})
    assert action["esc_period"] == "30m"
    steps = sorted((o["esc_step_from"], o["esc_step_to"], [c["conditiontype"] for c in o["opconditions"]])
                   for o in action["operations"])
    assert steps == [("1", "1", []), ("2", "2", ["14"])]         # step 2 only if not acknowledged
    assert action["recovery_operations"] and action["update_operations"]
    (user,) = zabbix.api("user.get", {"filter": {"username": [n.ESCALATION_USER]}, "selectMedias": "extend"})
    assert [m["sendto"] for m in user["medias"]] == ["#sepa"]

    rc, lines, err = setup(cfg)
    assert rc == 0 and lines == [f"nothing to change: {zabbix.API_URL} already matches {cfg}"], lines + [err]


def test_a_changed_config_changes_exactly_that(tmp_path, clean):
    cfg = write(tmp_path)
    assert setup(cfg)[0] == 0
    changed = write(tmp_path, "changed.yaml", escalate_after_minutes=45)
    raw = yaml.safe_load(open(changed))
    raw["sites"][0]["thresholds"] = {"collection_rate_min": 80}
    open(changed, "w").write(yaml.safe_dump(raw))
    rc, lines, err = setup(changed)
    assert rc == 0, err
    assert lines[:-1] == [
        "set 1 macro(s) on host 'zsepa-setup-a': {$SEPA.COLLECTION.RATE.MIN}",
        "update action 'SEPA problems': warning and up: step 1 to 'SEPA admins', step 2 after 45 min if not "
        "acknowledged to 'SEPA webhook' (high and up)"]


def test_the_fleet_dashboard_is_made_and_restored(tmp_path, clean):
    """Setup makes the global dashboard "SEPA fleet"; one edited by hand gets its widgets back."""
    cfg = write(tmp_path)
    assert setup(cfg)[0] == 0
    (board,) = zabbix.api("dashboard.get", {"filter": {"name": [fleet.NAME]}, "selectPages": "extend",
                                            "output": ["dashboardid", "private"]})
    widgets = board["pages"][0]["widgets"]
    assert sorted(w["type"] for w in widgets) == sorted(
        ["problemsbysv", "tophosts", "problems"] + (["hostnavigator"] if zabbix.MAJOR >= (7, 0) else []))
    zabbix.api("dashboard.update", {"dashboardid": board["dashboardid"], "pages": [
        {"dashboard_pageid": board["pages"][0]["dashboard_pageid"], "widgets": widgets[:1]}]})
    rc, lines, err = setup(cfg)
    assert rc == 0 and lines[:-1] == [f"replace the widgets of dashboard '{fleet.NAME}'"], lines
    assert setup(cfg)[1][-1].startswith("nothing to change")


def test_severity_routing_is_set_and_changed(tmp_path, clean):
    assert setup(write(tmp_path))[0] == 0

    def routing():
        (action,) = zabbix.api("action.get", {"filter": {"name": ["SEPA problems"]}, "selectFilter": "extend"})
        (user,) = zabbix.api("user.get", {"filter": {"username": ["sepa-escalation"]}, "selectMedias": "extend"})
        conditions = {(c["conditiontype"], c["operator"], c["value"]) for c in action["filter"]["conditions"]}
        return ({c for c in conditions if c[0] == "4"}, [m["severity"] for m in user["medias"]])
    assert routing() == ({("4", "5", "2")}, ["48"])            # Warning and up; the webhook: High, Disaster
    changed = write(tmp_path, "changed.yaml", notify_min_severity="average", escalate_min_severity="disaster")
    rc, lines, err = setup(changed)
    assert rc == 0, err
    assert lines[:-1] == ["update the media of user 'sepa-escalation': 'SEPA webhook' to #sepa",
                          "update action 'SEPA problems': average and up: step 1 to 'SEPA admins', step 2 after "
                          "30 min if not acknowledged to 'SEPA webhook' (disaster and up)"]
    assert routing() == ({("4", "5", "3")}, ["32"])
    assert setup(changed)[1][0].startswith("nothing to change")


def test_macros_of_a_former_name_move_to_the_current_one(tmp_path, clean):
    """An upgrade: a host an older setup made holds {$SEPA.MEMBER.NO_MANDATE.MAX} (and a user's
    per-country override of {$SEPA.MANDATE.IBAN_INVALID.MAX}); setup moves both, once."""
    cfg = write(tmp_path)
    assert setup(cfg)[0] == 0
    (h,) = zabbix.api("host.get", {"filter": {"host": [SITES[0]]}, "selectMacros": ["macro", "value"]})
    macros = [{"macro": m["macro"], "value": m["value"]} for m in h["macros"]
              if m["macro"] != "{$SEPA.MEMBER.WITHOUT.MANDATE.MAX}"]
    zabbix.api("host.update", {"hostid": h["hostid"], "macros": macros + [
        {"macro": "{$SEPA.MEMBER.NO_MANDATE.MAX}", "value": "0"},
        {"macro": '{$SEPA.MANDATE.IBAN_INVALID.MAX:"NL"}', "value": "4", "description": "Dutch banks"}]})

    rc, lines, err = setup(cfg)
    assert rc == 0, err
    assert lines[:-1] == [
        f"rename macro(s) on host '{SITES[0]}': "
        '{$SEPA.MANDATE.IBAN_INVALID.MAX:"NL"} -> {$SEPA.MANDATE.IBAN.INVALID.MAX:"NL"}, '
        "{$SEPA.MEMBER.NO_MANDATE.MAX} -> {$SEPA.MEMBER.WITHOUT.MANDATE.MAX}"], lines
    (h,) = zabbix.api("host.get", {"filter": {"host": [SITES[0]]},
                                   "selectMacros": ["macro", "value", "description"]})
    after = {m["macro"]: m for m in h["macros"]}
    assert "{$SEPA.MEMBER.NO_MANDATE.MAX}" not in after and '{$SEPA.MANDATE.IBAN_INVALID.MAX:"NL"}' not in after
    assert after["{$SEPA.MEMBER.WITHOUT.MANDATE.MAX}"]["value"] == "0"
    moved = after['{$SEPA.MANDATE.IBAN.INVALID.MAX:"NL"}']
    assert (moved["value"], moved["description"]) == ("4", "Dutch banks")
    assert setup(cfg)[1][0].startswith("nothing to change")


def test_agent_variant_switches_the_template_and_adds_the_interface(tmp_path, clean):
    cfg = write(tmp_path)
    assert setup(cfg)[0] == 0
    port = str(zabbix.AGENT_PORT)          # the stack's agent: 10050 for 7.0, 10060 for 6.0
    rc, lines, err = setup(cfg, "--agent", "--agent-port", port)
    assert rc == 0, err
    assert f"link template 'SEPA by Zabbix agent' to host '{SITES[0]}'" in lines
    assert f"add an agent interface (127.0.0.1:{port}) to host '{SITES[0]}'" in lines
    (h,) = zabbix.api("host.get", {"filter": {"host": [SITES[0]]}, "selectParentTemplates": ["host"],
                                   "selectInterfaces": ["type", "ip", "port"], "selectMacros": ["macro", "value"]})
    assert [t["host"] for t in h["parentTemplates"]] == ["SEPA by Zabbix agent"]
    assert [(i["type"], i["ip"], i["port"]) for i in h["interfaces"]] == [("1", "127.0.0.1", port)]
    assert {m["macro"]: m["value"] for m in h["macros"]}["{$SEPA.SITE}"] == SITES[0]
    assert setup(cfg, "--agent", "--agent-port", port)[1][0].startswith("nothing to change")


def test_clear_errors(tmp_path, clean):
    closed = write(tmp_path, "closed.yaml", api={"url": "http://127.0.0.1:9/api_jsonrpc.php", "token": "x" * 64})
    rc, lines, err = setup(closed)
    assert rc == 1 and "cannot connect to http://127.0.0.1:9/api_jsonrpc.php" in err and "Traceback" not in err

    token = write(tmp_path, "token.yaml", api={"url": zabbix.API_URL, "token": "0" * 64})
    rc, lines, err = setup(token)
    assert rc == 1 and "refused the credentials" in err

    # a user who may log in but is no Super admin
    password = secrets.token_urlsafe(16)
    (gid,) = [g["usrgrpid"] for g in zabbix.api("usergroup.get", {"filter": {"name": ["Guests"]}})]
    zabbix.api("user.create", {"username": "zsepa-limited", "passwd": password, "roleid": "1",
                               "usrgrps": [{"usrgrpid": gid}]})
    limited = write(tmp_path, "limited.yaml", api={"url": zabbix.API_URL, "user": "zsepa-limited",
                                                   "password": password})
    rc, lines, err = setup(limited)
    assert rc == 1 and "Super admin" in err, err

    missing = write(tmp_path, "missing.yaml")
    raw = yaml.safe_load(open(missing))
    del raw["zabbix"]["api"]
    open(missing, "w").write(yaml.safe_dump(raw))
    rc, lines, err = setup(missing)
    assert rc == 2 and "zabbix.api: is required for `zabbix setup`" in err


def test_slack_uses_zabbixs_own_media_type(tmp_path, clean):
    """alerts.slack: Zabbix's stock Slack media type gets the bot token and the frontend's address,
    the escalation user posts to the channel (High and up), beside the generic webhook.
    (Slack itself is not reached from the tests: the stock script posts to slack.com.)"""
    (stock,) = zabbix.api("mediatype.get", {"filter": {"name": ["Slack"]},
                                            "output": ["mediatypeid", "status", "parameters"]})
    token = tmp_path / "slack-token"
    token.write_text("xoxb-zsepa-test-token\n")
    token.chmod(0o600)
    raw = yaml.safe_load(open(write(tmp_path)))
    raw["alerts"]["slack"] = {"token_file": str(token), "channel": "#sepa-alerts"}
    cfg = tmp_path / "slack.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    cfg.chmod(0o600)
    try:
        zabbix.api("mediatype.update", {"mediatypeid": stock["mediatypeid"], "status": "1"})   # as shipped
        rc, lines, err = setup(str(cfg))
        assert rc == 0, err
        assert "configure media type 'Slack' (enabled, bot_token, zabbix_url)" in lines
        (slack,) = zabbix.api("mediatype.get", {"filter": {"name": ["Slack"]},
                                                "output": ["status", "parameters"]})
        params = {p["name"]: p["value"] for p in slack["parameters"]}
        assert slack["status"] == "0" and params["bot_token"] == "xoxb-zsepa-test-token"
        assert params["zabbix_url"] == zabbix.API_URL.rsplit("/", 1)[0] + "/"
        assert params["channel"] == "{ALERT.SENDTO}"                 # the rest of the stock type as it was
        (user,) = zabbix.api("user.get", {"filter": {"username": [n.ESCALATION_USER]}, "selectMedias": "extend"})
        assert sorted((m["mediatypeid"] == stock["mediatypeid"], m["sendto"], m["severity"])
                      for m in user["medias"]) == [(False, "#sepa", "48"), (True, "#sepa-alerts", "48")]
        (action,) = zabbix.api("action.get", {"filter": {"name": [n.ACTION]}, "selectOperations": "extend"})
        step2 = [o for o in action["operations"] if o["esc_step_from"] == "2"]
        assert [o["opmessage"]["mediatypeid"] for o in step2] == ["0"]   # every chat media of the user
        assert setup(str(cfg))[1][0].startswith("nothing to change")
    finally:
        zabbix.api("mediatype.update", {"mediatypeid": stock["mediatypeid"], "status": stock["status"],
                                        "parameters": stock["parameters"]})


def test_mail_through_an_authenticated_encrypted_relay(tmp_path, clean):
    password = tmp_path / "smtp-password"
    password.write_text("relay pass\n")
    password.chmod(0o600)
    cfg = write(tmp_path, email={"smtp_server": "smtp.example.org", "security": "ssl", "user": "zabbix",
                                 "password_file": str(password)})
    rc, lines, err = setup(cfg)
    assert rc == 0, err
    (mail,) = zabbix.api("mediatype.get", {"filter": {"name": [n.EMAIL]}, "output": "extend"})
    assert (mail["smtp_server"], mail["smtp_port"], mail["smtp_security"], mail["smtp_verify_peer"],
            mail["smtp_verify_host"], mail["smtp_authentication"], mail["username"]) == \
        ("smtp.example.org", "465", "2", "1", "1", "1", "zabbix")
    assert setup(cfg)[1][0].startswith("nothing to change")       # the stored password compares equal
