"""The generated templates: in sync with the committed files, internally consistent, and in
the native export format of each Zabbix major.

(Import into the real Zabbix and the triggers firing are in
tests/integration/test_template_live.py.)"""
import os
import re

import pytest
import yaml

from zabbix_sepa import __version__, cli, registry
from zabbix_sepa.config import DEFAULT_THRESHOLDS
from zabbix_sepa.zabbix.template import (AGENT_TIMEOUT_MACRO, AGENT_TIMEOUT_MACROS, DEFAULT_VERSION, DEFAULTS_70,
                                         INTERVAL_MACROS, VARIANTS, VERSIONS, build_id, export, render)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UUID4 = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_committed_template_is_generated(variant, version):
    path = f"templates/{version}/sepa_{variant}.yaml"
    with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
        assert fh.read() == export(variant, version), \
            f"run: zabbix-sepa template export --variant {variant} --zabbix-version {version} -o {path}"


def test_versions_and_the_default():
    assert VERSIONS == ("7.0", "6.0") and DEFAULT_VERSION == "7.0"
    assert (cli.TEMPLATE_VERSIONS, cli.TEMPLATE_DEFAULT_VERSION) == (VERSIONS, DEFAULT_VERSION)
    assert export("agent") == export("agent", "7.0") and render("trapper") == render("trapper", "7.0")
    assert build_id("agent") == build_id("agent", "7.0") != build_id("agent", "6.0")
    for call in (export, render, build_id):
        with pytest.raises(ValueError, match=r"'6\.4'.*7\.0, 6\.0"):
            call("agent", "6.4")


def walk(node, key):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from walk(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v, key)


@pytest.mark.parametrize("version", VERSIONS)
def test_uuids_are_valid_v4_unique_and_stable(version):
    a, t = render("agent", version), render("trapper", version)
    ua, ut = list(walk(a, "uuid")), list(walk(t, "uuid"))
    group = "a571c0d144b14fd4a87a9d9b2aa9fcd6"      # Zabbix's own Templates/Applications
    assert all(UUID4.fullmatch(u) for u in ua + ut if u != group)
    assert len(set(ua)) == len(ua) and len(set(ut)) == len(ut)
    assert (set(ua) & set(ut)) == {group}            # both variants can live in one Zabbix
    assert list(walk(render("agent", version), "uuid")) == ua   # deterministic


def test_uuids_are_the_same_in_both_majors():
    """An upgrade from 6.0 to 7.0 re-imports the 7.0 template over the 6.0 one: same objects."""
    for variant in VARIANTS:
        u70, u60 = list(walk(render(variant, "7.0"), "uuid")), list(walk(render(variant, "6.0"), "uuid"))
        assert sorted(u70) == sorted(u60)


def template_of(variant, version=DEFAULT_VERSION):
    return render(variant, version)["zabbix_export"]["templates"][0]


def triggers_of(variant, version=DEFAULT_VERSION):
    """Triggers wherever the format puts them: top level (6.0) or under their item (7.0)."""
    export_ = render(variant, version)["zabbix_export"]
    return export_.get("triggers", []) + [t for i in export_["templates"][0]["items"] for t in i.get("triggers", [])]


def trigger_prototypes_of(variant, version=DEFAULT_VERSION):
    return [t for r in template_of(variant, version)["discovery_rules"]
            for t in r.get("trigger_prototypes", []) + [t for p in r["item_prototypes"]
                                                        for t in p.get("trigger_prototypes", [])]]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_metric_is_a_dependent_item_of_its_cadence_s_master(variant, version):
    t = template_of(variant, version)
    site = "[{$SEPA.SITE}]" if variant == "agent" else ""
    masters = {c: registry.master_key(c) + site for c in registry.CADENCES}
    assert masters == ({"minute": "sepa.collect[{$SEPA.SITE}]", "hour": "sepa.collect.hour[{$SEPA.SITE}]"}
                       if variant == "agent" else {"minute": "sepa.collect", "hour": "sepa.collect.hour"})
    items = {i["key"]: i for i in t["items"]}
    for cadence, master in masters.items():
        assert items[master]["value_type"] == "TEXT" and items[master]["history"] == "1d"
        if variant == "agent":
            assert items[master]["delay"] == INTERVAL_MACROS[cadence]
        for m in registry.metrics(cadence):
            item = items[registry.item_key(m.key, cadence)]
            assert item["type"] == "DEPENDENT" and item["master_item"] == {"key": master}
            assert item["preprocessing"][0]["parameters"] == [f"$.metrics['{m.key}']"]
            assert item["history"] == "7d"       # 7.0 leaves out the default trends 365d
            assert item.get("trends", "365d") == ("0" if m.value_type == "str" else "365d")
            assert item.get("units", "") == m.unit and item["description"] == m.description
            assert item["tags"][0]["tag"] == "component"
        unsupported = items[registry.item_key("sepa.collector.unsupported", cadence)]
        assert unsupported["master_item"] == {"key": master}
        assert unsupported["preprocessing"][0]["parameters"] == ["$.unsupported"]
    # the collector's own metrics once per cadence; every other metric once
    per_cadence = {m.key for m in registry.metrics(registry.HOUR)} & {m.key for m in registry.metrics(registry.MINUTE)}
    assert per_cadence == {m.key for m in registry.metrics() if m.key.startswith("sepa.collector.")}
    assert "sepa.collector.status[hour]" in items and "sepa.mandate.dormant[hour]" not in items
    rules = {r["key"]: r for r in t["discovery_rules"]}
    assert set(rules) == {f"sepa.{d.name}.discovery" for d in registry.discoveries()}
    for d in registry.discoveries():
        rule = rules[f"sepa.{d.name}.discovery"]
        master = masters[registry.cadence_of(d.name)]
        assert rule["type"] == "DEPENDENT" and rule["master_item"] == {"key": master}
        assert sorted(p["lld_macro"] for p in rule["lld_macro_paths"]) == sorted(d.macros)
        assert sorted(p["key"] for p in rule["item_prototypes"]) == sorted(d.item_key(v) for v in d.values)


@pytest.mark.parametrize("version", VERSIONS)
def test_triggers_cover_the_alert_rules(version):
    triggers = triggers_of("trapper", version)
    names = {t["name"] for t in triggers}
    assert len(triggers) >= 12
    assert sum("forecast(" in t["expression"] or "timeleft(" in t["expression"] for t in triggers) >= 2
    for must in ("SEPA: failed direct debit batches", "SEPA: stuck direct debit batches",
                 "SEPA: error rate high", "SEPA: no data from the collector", "SEPA: scheduler inactive",
                 "SEPA: collector cannot reach the database", "SEPA: collection partial"):
        assert must in names
    error_rate = next(t for t in triggers if t["name"] == "SEPA: error rate high")
    assert error_rate["priority"] == "DISASTER"


@pytest.mark.parametrize("version", VERSIONS)
def test_business_triggers_depend_on_the_collector_and_state_their_threshold(version):
    unreachable = "SEPA: collector cannot reach the database"
    roots = {"minute": {"SEPA: no data from the collector", unreachable},
             "hour": {"SEPA: no hourly data from the collector", unreachable}}
    hourly = {m.key for m in registry.metrics(registry.HOUR)} - {m.key for m in registry.metrics(registry.MINUTE)}
    hourly |= {d.item_prefix + "." for d in registry.discoveries(registry.HOUR)}    # their item prototypes
    protos = trigger_prototypes_of("trapper", version)
    assert len(protos) == sum(len(d.triggers) for d in registry.discoveries())
    seen = set()
    for t in triggers_of("trapper", version) + protos:
        if t["name"].startswith(("SEPA: coll", "SEPA: hourly coll")) or " data from the collector" in t["name"]:
            continue
        cadence = "hour" if any(f"/{k}" in t["expression"] for k in hourly) else "minute"
        seen.add(cadence)
        assert {d["name"] for d in t["dependencies"]} == roots[cadence], t["name"]
        assert t["description"] and t["event_name"]
        macros = re.findall(r"\{\$[A-Z._]+(?::\"[^\"]*\")?\}", t["expression"])
        if "/sepa.health.status[" in t["expression"]:     # a state the collector judged by `health:`
            assert not macros and t["expression"].endswith(("=1", "=2")), t["name"]
            continue
        assert macros, t["name"]
        for m in macros:     # the event name states the threshold; the value goes to operational data
            assert m in t["event_name"], t["name"]
        assert "{ITEM.LASTVALUE" not in t["event_name"], t["name"]
    assert seen == {"minute", "hour"}


@pytest.mark.parametrize("version", VERSIONS)
def test_count_triggers_have_hysteresis(version):
    for t in triggers_of("trapper", version):
        if t["expression"].startswith("last(") and ">{$" in t["expression"] and "_age" not in t["expression"]:
            assert t.get("recovery_mode") == "RECOVERY_EXPRESSION", t["name"]


def test_macros_defaults_come_from_the_config_and_all_are_used():
    text = export("trapper")
    t = template_of("trapper")
    macros = {m["macro"]: m for m in t["macros"]}
    for m in registry.macros():
        assert macros[m.name]["value"] == m.value(DEFAULT_THRESHOLDS)
        assert m.threshold.key in DEFAULT_THRESHOLDS and macros[m.name]["description"]
    exprs = yaml.safe_dump([triggers_of("trapper"), trigger_prototypes_of("trapper")])
    for m in registry.macros():
        assert m.name.split(":")[0].rstrip("}") in exprs, f"{m.name} is never used in an expression"
    used = set(re.findall(r"\{\$(SEPA\.[A-Z._]+)", text))
    declared = {m["macro"].split(":")[0].strip("{$}") for m in t["macros"]}
    assert used <= declared, used - declared
    assert macros["{$SEPA.ERROR.RATE.MAX}"]["value"] == "50"        # seed 003: > 50/hour is critical
    assert macros['{$SEPA.BATCH.PENDING.AGE.MAX:"Draft"}']["value"] == "2h"


@pytest.mark.parametrize("version", VERSIONS)
def test_expressions_reference_existing_items(version):
    t = template_of("trapper", version)
    keys = {i["key"] for i in t["items"]} | {p["key"] for r in t["discovery_rules"] for p in r["item_prototypes"]}
    text = yaml.safe_dump(triggers_of("trapper", version)) + yaml.safe_dump(t["discovery_rules"])
    refs = re.findall(r"/SEPA by Zabbix trapper/([^,)]+)", text)
    assert refs
    for ref in refs:
        assert ref in keys, ref


@pytest.mark.parametrize("version", VERSIONS)
def test_dashboard_widgets_point_at_template_items(version):
    export_ = render("agent", version)["zabbix_export"]
    t = export_["templates"][0]
    keys = {i["key"] for i in t["items"]}
    graphs = {g["name"] for g in export_["graphs"]}
    (board,) = t["dashboards"]
    for w in board["pages"][0]["widgets"]:
        (value,) = [f["value"] for f in w["fields"] if f["type"] in ("ITEM", "GRAPH")]
        assert value["host"] == "SEPA by Zabbix agent"
        assert value.get("key") in keys or value.get("name") in graphs


# -- the native formats of the two majors ------------------------------------------------------------

def test_6_0_format():
    for variant in VARIANTS:
        export_ = render(variant, "6.0")["zabbix_export"]
        assert export_["version"] == "6.0" and "template_groups" not in export_
        assert export_["groups"] == [{"uuid": "a571c0d144b14fd4a87a9d9b2aa9fcd6", "name": "Templates/Applications"}]
        t = export_["templates"][0]
        assert "vendor" not in t                        # 6.2+
        assert not list(walk(export_, "timeout"))       # 6.0: HTTP agent and script items only
        assert not list(walk(export_, "enabled_lifetime_type"))
        assert AGENT_TIMEOUT_MACRO not in export(variant, "6.0")
        widgets = t["dashboards"][0]["pages"][0]["widgets"]
        assert {w["type"] for w in widgets} == {"ITEM", "GRAPH_CLASSIC"}
        assert {f["name"] for w in widgets for f in w["fields"]} == {"itemid", "graphid", "value_size"}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_7_0_format(variant):
    export_ = render(variant, "7.0")["zabbix_export"]
    assert export_["version"] == "7.0" and "groups" not in export_
    assert export_["template_groups"] == [{"uuid": "a571c0d144b14fd4a87a9d9b2aa9fcd6",
                                           "name": "Templates/Applications"}]
    t = export_["templates"][0]
    assert t["groups"] == [{"name": "Templates/Applications"}]     # a template's own groups keep the name
    assert list(t)[:5] == ["uuid", "template", "name", "description", "vendor"]
    assert t["vendor"] == {"name": "zabbix-sepa", "version": __version__}
    assert len(t["vendor"]["name"]) <= 64 and 0 < len(t["vendor"]["version"]) <= 32   # hosts.vendor_*
    lifetimes = {f"sepa.{d.name}.discovery": d.lifetime for d in registry.discoveries()}
    for rule in t["discovery_rules"]:                # lost entities stay enabled until deleted, as on 6.0
        assert rule["enabled_lifetime_type"] == "DISABLE_NEVER"
        assert "lifetime_type" not in rule             # the default: delete after `lifetime` (7.0's default 7d)
        assert rule.get("lifetime", "7d") == lifetimes[rule["key"]]


def test_7_0_agent_master_items_have_a_timeout_macro_and_nothing_else_has_one():
    for variant in VARIANTS:
        export_ = render(variant, "7.0")["zabbix_export"]
        timed = [i for i in export_["templates"][0]["items"] if "timeout" in i]
        everywhere = list(walk(export_, "timeout"))
        macros = {m["macro"]: m for m in export_["templates"][0]["macros"]}
        if variant == "trapper":      # trapper and dependent items take no timeout
            assert timed == [] and everywhere == [] and not set(AGENT_TIMEOUT_MACROS.values()) & set(macros)
            continue
        assert {i["key"]: i["timeout"] for i in timed} == {
            "sepa.collect[{$SEPA.SITE}]": AGENT_TIMEOUT_MACRO, "sepa.collect.hour[{$SEPA.SITE}]": AGENT_TIMEOUT_MACROS["hour"]}
        assert sorted(everywhere) == sorted(AGENT_TIMEOUT_MACROS.values())
        assert all(i.get("type", "ZABBIX_PASSIVE") == "ZABBIX_PASSIVE" for i in timed)   # 7.0 leaves the default out
        for cadence, name in AGENT_TIMEOUT_MACROS.items():
            macro = macros[name]
            assert re.fullmatch(r"\d+[smh]?", macro["value"]) and "collect_timeout" in macro["description"]
            seconds = int(macro["value"].rstrip("smh")) * {"s": 1, "m": 60, "h": 3600}.get(macro["value"][-1], 1)
            budget = {"minute": 2.5, "hour": 25}[cadence]   # the config's default budgets
            assert budget < seconds <= 600                  # room for the collection, within 7.0's 1s..10m
            assert name in export_["templates"][0]["description"]


def widgets_of(version):
    """name -> (x, y, width, height), the defaults that 7.0 leaves out filled in."""
    board = template_of("agent", version)["dashboards"][0]["pages"][0]["widgets"]
    place = {w["name"]: tuple(int(w.get(k, DEFAULTS_70["widget"][k])) for k in ("x", "y", "width", "height"))
             for w in board}
    assert len(place) == len(board)
    return place


@pytest.mark.parametrize("version,columns", [("6.0", 24), ("7.0", 72)])
def test_dashboard_fits_the_grid_and_looks_the_same_in_both_majors(version, columns):
    widgets, reference = widgets_of(version), widgets_of("6.0")
    scale = columns // 24
    assert set(widgets) == set(reference)
    cells = set()
    for name, (x, y, width, height) in widgets.items():
        assert 0 <= x and x + width <= columns and y + height <= 64
        rx, ry, rwidth, rheight = reference[name]
        assert (x, width, y, height) == (rx * scale, rwidth * scale, ry, rheight), name
        for cx in range(x, x + width):               # no two widgets overlap
            for cy in range(y, y + height):
                assert (cx, cy) not in cells, name
                cells.add((cx, cy))
    assert max(x + width for x, _, width, _ in widgets.values()) == columns    # the full width is used


def test_7_0_is_6_0_in_zabbix_s_canonical_form():
    """Nesting triggers under their items, leaving defaults out and sorting loses nothing: every
    object of the 6.0 export is in the 7.0 one, field for field, apart from what 7.0 adds."""
    def objects(variant, version):
        out = {}

        def visit(node, kind):
            if isinstance(node, dict):
                if "uuid" in node:
                    out[node["uuid"]] = (kind, {k: v for k, v in node.items()
                                                if k not in ("triggers", "trigger_prototypes", "items",
                                                             "item_prototypes", "discovery_rules", "dashboards",
                                                             "valuemaps", "macros")})
                for k, v in node.items():
                    visit(v, k)
            elif isinstance(node, list):
                for v in node:
                    visit(v, kind)
        visit(render(variant, version)["zabbix_export"], "")
        return out

    kinds = {"items": "item", "item_prototypes": "item", "discovery_rules": "rule", "triggers": "trigger",
             "trigger_prototypes": "trigger"}
    added = {"timeout", "vendor", "enabled_lifetime_type", "delay"}
    for variant in VARIANTS:
        o60, o70 = objects(variant, "6.0"), objects(variant, "7.0")
        assert set(o60) == set(o70)
        for uuid, (kind, a) in o60.items():
            b = o70[uuid][1]
            defaults = DEFAULTS_70.get(kinds.get(kind, ""), {})
            for key in set(a) | set(b):
                if key in ("dependencies", "tags", "lld_macro_paths"):      # 7.0 sorts them
                    assert sorted(map(repr, a[key])) == sorted(map(repr, b[key])), (uuid, key)
                elif key not in b:
                    assert a[key] == defaults[key], (uuid, key)
                elif key not in a:
                    assert key in added, (uuid, key)
                elif key == "graph_items":
                    assert [{**DEFAULTS_70["graph_item"], **g} for g in b[key]] == \
                        [{**DEFAULTS_70["graph_item"], **g} for g in a[key]], uuid
                elif key == "overrides":
                    def filled(overrides):
                        return [{**o, "filter": {"conditions": [{**DEFAULTS_70["condition"], **c}
                                                                for c in o["filter"]["conditions"]]},
                                 "operations": [{**DEFAULTS_70["operation"], **x} for x in o["operations"]]}
                                for o in overrides]
                    assert filled(a[key]) == filled(b[key]), uuid
                elif key == "pages" or (key == "description" and kind == "templates"):
                    continue         # the dashboard's grid and shapes, and the agent's how-to, change on purpose
                else:
                    assert a[key] == b[key], (uuid, key)
    # every trigger of 7.0 sits under the one item its expressions read
    for variant in VARIANTS:
        name = VARIANTS[variant]["name"]
        export_ = render(variant, "7.0")["zabbix_export"]
        assert "triggers" not in export_             # all of ours are on one item
        for item in export_["templates"][0]["items"]:
            for t in item.get("triggers", []):
                refs = set(re.findall(rf"/{name}/([^,)]+)", t["expression"] + t.get("recovery_expression", "")))
                assert refs == {item["key"]}, t["name"]


def test_7_0_leaves_defaults_out_and_sorts_like_zabbix():
    for variant in VARIANTS:
        t = template_of(variant, "7.0")
        for item in t["items"] + [p for r in t["discovery_rules"] for p in r["item_prototypes"]]:
            assert not {k for k, v in DEFAULTS_70["item"].items() if item.get(k) == v}, item["key"]
        names = [m["macro"] for m in t["macros"]]
        assert names.index("{$SEPA.BATCH.PENDING.AGE.MAX}") + 1 == names.index('{$SEPA.BATCH.PENDING.AGE.MAX:"Draft"}')
        assert all("value" in m or m["macro"] == "{$SEPA.SITE}" for m in t["macros"])
        places = [(int(w.get("x", 0)), int(w.get("y", 0))) for w in t["dashboards"][0]["pages"][0]["widgets"]]
        assert places == sorted(places)              # Zabbix orders widgets by x, then y


def test_7_0_dashboard_widget_shapes():
    widgets = template_of("agent")["dashboards"][0]["pages"][0]["widgets"]
    metrics = {m.key: m for m in registry.metrics()}
    assert {w["type"] for w in widgets} == {"item", "graph"}        # module ids, not 6.0's constants
    references = []
    for w in widgets:
        names = [f["name"] for f in w["fields"]]
        assert names == sorted(names)             # Zabbix exports them sorted: a re-import shows no change
        if w["type"] == "item":
            fields = {f["name"]: f for f in w["fields"]}
            assert fields["itemid.0"]["type"] == "ITEM"
            assert set(names) <= {"decimal_places", "itemid.0", "value_size"}
            metric = metrics[fields["itemid.0"]["value"]["key"]]
            # 7.0 gives every number 2 decimals by default ("30.00", "5.80m"); counts and seconds want none
            whole = metric.value_type == registry.INT or metric.unit == "s"
            assert ("decimal_places" in fields) == whole, w["name"]
            if whole:
                assert fields["decimal_places"] == {"type": "INTEGER", "name": "decimal_places", "value": "0"}
        else:
            assert names == ["graphid.0", "reference"] and w["fields"][0]["type"] == "GRAPH"
            references.append(w["fields"][1]["value"])
    assert len(set(references)) == len(references) == 5
    assert all(re.fullmatch("[A-Z]{5}", r) for r in references)


def test_the_overview_shows_the_figures_an_admin_looks_for():
    from zabbix_sepa.zabbix.dashboard import VALUES
    labels = [label for _, label in VALUES]
    assert len(labels) == len(set(labels)) == 28
    assert {"Pending batches", "Failed batches 24h", "Stuck batches", "Collection rate 30d", "Outstanding",
            "Active mandates", "Invalid IBAN", "Errors 1h", "Scheduler idle", "Jobs queued", "Job workers",
            "Collector", "Active users 24h"} <= set(labels)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_dead_collector_raises_one_problem_not_one_per_cadence(version):
    (hourly,) = [t for t in triggers_of("trapper", version) if t["name"] == "SEPA: no hourly data from the collector"]
    assert [d["name"] for d in hourly["dependencies"]] == ["SEPA: no data from the collector"]
    (minute,) = [t for t in triggers_of("trapper", version) if t["name"] == "SEPA: no data from the collector"]
    assert "dependencies" not in minute


def test_override_patterns_match_the_discovered_names_of_their_own_prototype_only():
    # Zabbix compares an override's trigger-prototype operation with the *discovered* name
    # ({#MACRO}s replaced); comparing with the prototype's own name never matched (issue 16).
    from zabbix_sepa.zabbix.template import discovered_name_pattern
    samples = {"{#BATCH}": "DD-BATCH-00328", "{#STATUS}": "Failed", "{#TYPE}": "RCUR",
               "{#BANK}": "NL:ABNA", "{#JOB}": "direct_debit_batch.process_sepa_batches", "{#CHECK}": "disk:/",
               "{#QUEUE}": "short"}
    checked = 0
    for d in registry.discoveries():
        names = {t.name: re.sub(r"\{#[A-Z_]+\}", lambda m: samples[m.group(0)], t.name) for t in d.triggers}
        for t in d.triggers:
            if not t.only_when:
                continue
            pattern = re.compile(discovered_name_pattern(t.name))
            assert pattern.match(names[t.name]) and not pattern.match(t.name + "x")
            assert not [n for other, n in names.items() if other != t.name and pattern.match(n)]
            checked += 1
    assert checked
    for version in VERSIONS:
        ops = [op for rule in walk(yaml.safe_load(export("trapper", version)), "overrides") for o in rule
               for op in o["operations"]]
        assert ops and {op["operator"] for op in ops} == {"REGEXP"}
