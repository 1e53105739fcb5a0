"""The generated template: in sync with the committed files, and internally consistent.

(Import into a real Zabbix 6.0 and the triggers firing are in
tests/integration/test_template_live.py.)"""
import os
import re

import pytest
import yaml

from zabbix_sepa import registry
from zabbix_sepa.config import DEFAULT_THRESHOLDS
from zabbix_sepa.zabbix.template import VARIANTS, export, render

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UUID4 = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_committed_template_is_generated(variant):
    with open(os.path.join(ROOT, "templates", f"sepa_{variant}.yaml"), encoding="utf-8") as fh:
        assert fh.read() == export(variant), \
            f"run: zabbix-sepa template export --variant {variant} -o templates/sepa_{variant}.yaml"


def walk(node, key):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from walk(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v, key)


def test_uuids_are_valid_v4_unique_and_stable():
    a, t = render("agent"), render("trapper")
    ua, ut = list(walk(a, "uuid")), list(walk(t, "uuid"))
    group = "a571c0d144b14fd4a87a9d9b2aa9fcd6"      # Zabbix's own Templates/Applications
    assert all(UUID4.fullmatch(u) for u in ua + ut if u != group)
    assert len(set(ua)) == len(ua) and len(set(ut)) == len(ut)
    assert (set(ua) & set(ut)) == {group}            # both variants can live in one Zabbix
    assert list(walk(render("agent"), "uuid")) == ua   # deterministic


def template_of(variant):
    return render(variant)["zabbix_export"]["templates"][0]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_metric_is_a_dependent_item_of_the_master(variant):
    t = template_of(variant)
    master = VARIANTS[variant]["master_key"]
    items = {i["key"]: i for i in t["items"]}
    assert items[master]["value_type"] == "TEXT" and items[master]["history"] == "1d"
    for m in registry.metrics():
        item = items[m.key]
        assert item["type"] == "DEPENDENT" and item["master_item"] == {"key": master}
        assert item["preprocessing"][0]["parameters"] == [f"$.metrics['{m.key}']"]
        assert item["history"] == "7d" and item["trends"] == ("0" if m.value_type == "str" else "365d")
        assert item.get("units", "") == m.unit and item["description"] == m.description
        assert item["tags"][0]["tag"] == "component"
    rules = {r["key"]: r for r in t["discovery_rules"]}
    assert set(rules) == {f"sepa.{d.name}.discovery" for d in registry.discoveries()}
    for d in registry.discoveries():
        rule = rules[f"sepa.{d.name}.discovery"]
        assert rule["type"] == "DEPENDENT" and rule["master_item"] == {"key": master}
        assert [p["lld_macro"] for p in rule["lld_macro_paths"]] == list(d.macros)
        assert sorted(p["key"] for p in rule["item_prototypes"]) == sorted(d.item_key(v) for v in d.values)


def test_triggers_cover_the_alert_rules():
    triggers = render("trapper")["zabbix_export"]["triggers"]
    names = {t["name"] for t in triggers}
    assert len(triggers) >= 12
    assert sum("forecast(" in t["expression"] or "timeleft(" in t["expression"] for t in triggers) >= 2
    for must in ("SEPA: failed direct debit batches", "SEPA: stuck direct debit batches",
                 "SEPA: error rate high", "SEPA: no data from the collector", "SEPA: scheduler inactive",
                 "SEPA: collector cannot reach the database", "SEPA: collection partial"):
        assert must in names
    error_rate = next(t for t in triggers if t["name"] == "SEPA: error rate high")
    assert error_rate["priority"] == "HIGH"


def test_business_triggers_depend_on_the_collector_and_state_their_threshold():
    export_ = render("trapper")["zabbix_export"]
    roots = {"SEPA: no data from the collector", "SEPA: collector cannot reach the database"}
    protos = [p for r in export_["templates"][0]["discovery_rules"] for p in r.get("trigger_prototypes", [])]
    for t in export_["triggers"] + protos:
        if t["name"].startswith("SEPA: coll") or t["name"] == "SEPA: no data from the collector":
            continue
        assert {d["name"] for d in t["dependencies"]} == roots, t["name"]
        assert t["description"] and t["event_name"]
        macros = re.findall(r"\{\$[A-Z._]+(?::\"[^\"]*\")?\}", t["expression"])
        assert macros, t["name"]
        for m in macros:     # the event name states the threshold; the value goes to operational data
            assert m in t["event_name"], t["name"]
        assert "{ITEM.LASTVALUE" not in t["event_name"], t["name"]


def test_count_triggers_have_hysteresis():
    for t in render("trapper")["zabbix_export"]["triggers"]:
        if t["expression"].startswith("last(") and ">{$" in t["expression"] and "_age" not in t["expression"]:
            assert t.get("recovery_mode") == "RECOVERY_EXPRESSION", t["name"]


def test_macros_defaults_come_from_the_config_and_all_are_used():
    text = export("trapper")
    t = template_of("trapper")
    macros = {m["macro"]: m for m in t["macros"]}
    for m in registry.macros():
        assert macros[m.name]["value"] == m.value(DEFAULT_THRESHOLDS)
        assert m.threshold in DEFAULT_THRESHOLDS and macros[m.name]["description"]
    exprs = yaml.safe_dump([render("trapper")["zabbix_export"]["triggers"],
                            [r.get("trigger_prototypes") for r in t["discovery_rules"]]])
    for m in registry.macros():
        assert m.name.split(":")[0].rstrip("}") in exprs, f"{m.name} is never used in an expression"
    used = set(re.findall(r"\{\$(SEPA\.[A-Z._]+)", text))
    declared = {m["macro"].split(":")[0].strip("{$}") for m in t["macros"]}
    assert used <= declared, used - declared
    assert macros["{$SEPA.ERROR.RATE.MAX}"]["value"] == "50"        # seed 003: > 50/hour is critical
    assert macros['{$SEPA.BATCH.PENDING.AGE.MAX:"Draft"}']["value"] == "2h"


def test_expressions_reference_existing_items():
    t = template_of("trapper")
    keys = {i["key"] for i in t["items"]} | {p["key"] for r in t["discovery_rules"] for p in r["item_prototypes"]}
    text = yaml.safe_dump(render("trapper")["zabbix_export"]["triggers"]) + yaml.safe_dump(t["discovery_rules"])
    for ref in re.findall(r"/SEPA by Zabbix trapper/([^,)]+)", text):
        assert ref in keys, ref


def test_dashboard_widgets_point_at_template_items():
    t = template_of("agent")
    keys = {i["key"] for i in t["items"]}
    graphs = {g["name"] for g in render("agent")["zabbix_export"]["graphs"]}
    (board,) = t["dashboards"]
    for w in board["pages"][0]["widgets"]:
        value = w["fields"][0]["value"]
        assert value["host"] == "SEPA by Zabbix agent"
        assert value.get("key") in keys or value.get("name") in graphs
        assert int(w["x"]) + int(w["width"]) <= 24
