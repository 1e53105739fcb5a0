"""The Zabbix template, rendered from the registry in the native export format
of a Zabbix major: 7.0 LTS (the default) or 6.0 LTS.

Two variants with one shape: one master item per cadence carries that
cadence's document (trapper items `sepa.collect` and `sepa.collect.hour`, or
agent items `sepa.collect[{$SEPA.SITE}]` and `sepa.collect.hour[{$SEPA.SITE}]`
polled at the interval macros); every metric is a DEPENDENT item with
JSONPath of its cadence's master, the three discovery rules are DEPENDENT
too, and triggers (each depending on its cadence's no-data trigger), macros,
value maps and the dashboard come from the same declarations as the
collector. UUIDs are derived from the
variant and the object's identity, so they are stable across releases and
a newer template updates an imported one instead of colliding; they are the
same in both majors' exports.

What 7.0's format changes (checked against 7.0.9's import validator and
converters): `template_groups` instead of top-level `groups`; a `vendor`
block (name, version: free text up to 64 and 32 characters, both or
neither); a per-item `timeout` for agent items (1s-10m, macros allowed;
only for polled types, so never on trapper or dependent items); discovery
rules say what happens to lost entities, which we keep as 6.0 did (enabled
until `lifetime` deletes them: without it 7.0 disables them at once); and
the dashboard grid and widget shapes (see dashboard.py).

The 7.0 export is moreover in Zabbix's canonical form, the one its own export
writes: defaults left out, a trigger on one item nested under that item, and
the lists it compares by position (macros, widgets, dependencies, LLD macro
paths, tags) in its order. Then the frontend's import preview
(configuration.importcompare) shows no change for a template that has not
changed. The 6.0 export keeps the shape it has always had.
"""
import hashlib
import json
import re

import yaml

from zabbix_sepa import __version__, registry
from zabbix_sepa.registry import FLOAT, HOUR, INT, MINUTE, STR, TEXT
from zabbix_sepa.zabbix.dashboard import dashboard, graphs

VERSIONS = ("7.0", "6.0")
DEFAULT_VERSION = "7.0"
VENDOR = "zabbix-sepa"
# Agent variant: each master item's interval and (7.0) timeout, per cadence. A timeout must
# exceed that cadence's collect budget; `zabbix setup` sets them per host from the config.
INTERVAL_MACROS = {MINUTE: "{$SEPA.INTERVAL}", HOUR: '{$SEPA.INTERVAL:"hour"}'}
AGENT_TIMEOUT_MACROS = {MINUTE: "{$SEPA.AGENT.TIMEOUT}", HOUR: '{$SEPA.AGENT.TIMEOUT:"hour"}'}
AGENT_TIMEOUTS = {MINUTE: "10s", HOUR: "30s"}
AGENT_TIMEOUT_MACRO, AGENT_TIMEOUT = AGENT_TIMEOUT_MACROS[MINUTE], AGENT_TIMEOUTS[MINUTE]
MASTER_NAMES = {MINUTE: "SEPA: collect", HOUR: "SEPA: collect hourly"}

VARIANTS = {
    "agent": {"name": "SEPA by Zabbix agent", "master_type": "ZABBIX_PASSIVE"},
    "trapper": {"name": "SEPA by Zabbix trapper", "master_type": "TRAP"},
}
GROUP = "Templates/Applications"
GROUP_UUID = "a571c0d144b14fd4a87a9d9b2aa9fcd6"     # the UUID Zabbix itself gives this group
VALUE_TYPES = {FLOAT: "FLOAT", INT: "UNSIGNED", STR: "CHAR", TEXT: "TEXT"}
NOT_COLLECTED = "not collected: item 'SEPA: collector unsupported' says why"
BUILD_MACRO = "{$SEPA.TEMPLATE.BUILD}"

DESCRIPTION = """\
Verenigingen (Frappe) SEPA direct debit monitoring by zabbix-sepa {version}.

The master items sepa.collect (every minute) and sepa.collect.hour (every
hour) carry the metrics documents that `zabbix-sepa collect --cadence
minute|hour` prints; every other item and the discovery rules are dependent
items reading them with JSONPath.
{how}
Thresholds are the {{$SEPA.*}} macros; `zabbix-sepa zabbix setup` sets them
on each host from the site's `thresholds` in /etc/zabbix-sepa/config.yaml.
Metric reference: docs/metrics.md of zabbix-sepa."""

HOW = {
    "trapper": """
Push mode: link this template to a host named like the site's `name` in the
zabbix-sepa config, and run `zabbix-sepa send --all` every minute (the
systemd timer or cron line that install.sh places): it sends the minute
document each time and the hourly one when it is due. Values keep the clock
of their collection; what cannot be delivered is spooled and sent later.""",
    "agent": """
Pull mode: install userparameters/zabbix_sepa.conf in the agent's include
directory, restart the agent, link this template to the host running the
agent, and set {$SEPA.SITE} to the site's `name` (empty: the only site).
The agent's Timeout (3 s) must exceed collect_timeout (2.5 s), and for the
hourly item cadences.hour.collect_timeout (25 s: set Timeout=30 on the
agent and on the server or proxy that polls it).""",
}
# 7.0 sends the item's own timeout to the agent (7.0+), so the 3 s no longer binds.
HOW_AGENT_70 = """
Pull mode: install userparameters/zabbix_sepa.conf in the agent's include
directory, restart the agent, link this template to the host running the
agent, and set {$SEPA.SITE} to the site's `name` (empty: the only site).
The items' timeouts {$SEPA.AGENT.TIMEOUT} (10s) and
{$SEPA.AGENT.TIMEOUT:"hour"} (30s; up to 10m) must exceed collect_timeout
(2.5 s) and cadences.hour.collect_timeout (25 s); a Zabbix agent older than
7.0 uses its own Timeout (3 s by default, at most 30 s) instead."""


def uuid4_for(*identity):
    """A stable, valid version-4 UUID (32 hex digits) derived from `identity`."""
    b = bytearray(hashlib.sha256("\x1f".join(("zabbix-sepa",) + identity).encode()).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return b.hex()


def discovered_name_pattern(name):
    """A regular expression for the names a trigger prototype's triggers get.

    An override operation on a trigger prototype is compared with the discovered trigger's
    name, LLD macros already replaced ("SEPA batch DD-1: Draft for too long"), not with the
    prototype's: each {#MACRO} becomes `.+`, the rest is matched literally."""
    parts = re.split(r"\{#[A-Z0-9_.]+\}", name)
    return "^" + ".+".join(re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", p) for p in parts) + "$"


def _check_version(version):
    if version not in VERSIONS:
        raise ValueError(f"unknown Zabbix version {version!r}: supported are {', '.join(VERSIONS)}")


def item_name(metric):
    """The template item's name of a metric (the per-cadence copies add " [cadence]")."""
    return f"SEPA: {metric.name}"


class _Render:
    def __init__(self, variant, version=DEFAULT_VERSION):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}: agent or trapper")
        _check_version(version)
        self.variant = variant
        self.version = version
        self.v7 = version != "6.0"       # 7.0's format, which newer majors convert from
        self.v = VARIANTS[variant]
        self.name = self.v["name"]

    def uuid(self, kind, ident):
        return uuid4_for(self.variant, kind, ident)

    def master_key(self, cadence):
        key = registry.master_key(cadence)
        return f"{key}[{{$SEPA.SITE}}]" if self.variant == "agent" else key

    def expr(self, text):
        for cadence in registry.CADENCES:
            text = text.replace(f"/T/{registry.master_key(cadence)},", f"/T/{self.master_key(cadence)},")
        return text.replace("/T/", f"/{self.name}/")

    # -- items -----------------------------------------------------------------

    def master(self, cadence):
        key = registry.master_key(cadence)
        item = {"uuid": self.uuid("item", key), "name": MASTER_NAMES[cadence],
                "type": self.v["master_type"], "key": self.master_key(cadence)}
        if self.variant == "agent":
            item["delay"] = INTERVAL_MACROS[cadence]
        elif self.v7:
            item["delay"] = "0"      # what 7.0 exports for an item without an interval
        item.update({"history": "1d", "trends": "0", "value_type": "TEXT",
                     "description": f"The {cadence} metrics document of the site (JSON). Every SEPA item "
                                    f"and discovery rule of the {cadence} cadence is computed from it. Short "
                                    "history: the dependent items keep the values."})
        if self.variant == "agent" and self.v7:
            item["timeout"] = AGENT_TIMEOUT_MACROS[cadence]
        item["tags"] = [{"tag": "component", "value": "raw"}]
        return item

    def dependent(self, uuid_ident, name, key, value_type, path, cadence, unit="", description="", tags=(),
                  valuemap=None, on_fail=None, history="7d"):
        item = {"uuid": self.uuid("item", uuid_ident), "name": name, "type": "DEPENDENT", "key": key,
                "delay": "0", "history": history}
        if value_type in ("CHAR", "TEXT"):
            item["trends"] = "0"
        else:
            item["trends"] = "365d"
        if value_type != "UNSIGNED":
            item["value_type"] = value_type
        if unit:
            item["units"] = unit
        if description:
            item["description"] = description
        if valuemap:
            item["valuemap"] = {"name": valuemap}
        step = {"type": "JSONPATH", "parameters": [path]}
        if on_fail == "discard":
            step.update(error_handler="DISCARD_VALUE")
        elif on_fail:
            step.update(error_handler="CUSTOM_ERROR", error_handler_params=on_fail)
        item["preprocessing"] = [step]
        item["master_item"] = {"key": self.master_key(cadence)}
        item["tags"] = list(tags)
        return item

    def items(self):
        out = [self.master(c) for c in registry.CADENCES]
        for cadence in registry.CADENCES:
            for g, section in registry.sections(cadence):
                for m in section.metrics:
                    key = registry.item_key(m.key, cadence)
                    name = item_name(m) + ("" if key == m.key else f" [{cadence}]")
                    out.append(self.dependent(
                        key, name, key, VALUE_TYPES[m.value_type], f"$.metrics['{m.key}']", cadence, m.unit,
                        m.description, [{"tag": "component", "value": g.name}],
                        valuemap=self.valuemap_name(m) if m.valuemap else None, on_fail=NOT_COLLECTED))
            u = registry.UNSUPPORTED
            key = registry.item_key(u.key, cadence)
            out.append(self.dependent(
                key, f"SEPA: {u.name}" + ("" if key == u.key else f" [{cadence}]"), key, VALUE_TYPES[u.value_type],
                "$.unsupported", cadence, description=u.description, tags=[{"tag": "component", "value": "collector"}]))
        return out

    @staticmethod
    def valuemap_names():
        """mappings -> value map name: one value map per distinct mapping, named after the first
        metric (or discovery field) that uses it."""
        names = {}
        fields = [f for d in registry.discoveries() for f in d.fields]
        for m in list(registry.metrics()) + fields:
            if m.valuemap:
                names.setdefault(m.valuemap, "SEPA " + m.name.lower())
        return names

    def valuemap_name(self, metric):
        return self.valuemap_names()[metric.valuemap]

    def valuemaps(self):
        return [{"uuid": self.uuid("valuemap", name), "name": name,
                 "mappings": [{"value": str(v), "newvalue": text} for v, text in mappings]}
                for mappings, name in self.valuemap_names().items()]

    # -- discovery ---------------------------------------------------------------

    def discovery_rules(self):
        out = []
        for g in registry.groups():
            for d in g.discovery:
                cadence = registry.cadence_of(d.name)
                rule = {"uuid": self.uuid("lld", d.name), "name": f"SEPA: {d.name} discovery",
                        "type": "DEPENDENT", "key": f"sepa.{d.name}.discovery", "delay": "0",
                        "lifetime": d.lifetime}
                if self.v7:
                    rule["enabled_lifetime_type"] = "DISABLE_NEVER"
                rule["description"] = d.description
                rule["item_prototypes"] = [self.prototype(d, f, g, cadence) for f in d.fields]
                if d.triggers:
                    rule["trigger_prototypes"] = [self.trigger(t, cadence) for t in d.triggers]
                rule["master_item"] = {"key": self.master_key(cadence)}
                rule["lld_macro_paths"] = [{"lld_macro": m, "path": f"$['{m}']"} for m in d.macros]
                rule["preprocessing"] = [{"type": "JSONPATH", "parameters": [f"$.discovery.{d.name}"]}]
                overrides = [t for t in d.triggers if t.only_when]
                if overrides:
                    rule["overrides"] = [{
                        "name": f"Only {t.only_when[0]} matching {t.only_when[1]}: {t.name}", "step": str(i + 1),
                        "filter": {"conditions": [{"macro": t.only_when[0], "value": t.only_when[1],
                                                   "operator": "NOT_MATCHES_REGEX", "formulaid": "A"}]},
                        "operations": [{"operationobject": "TRIGGER_PROTOTYPE", "operator": "REGEXP",
                                        "value": discovered_name_pattern(t.name), "discover": "NO_DISCOVER"}]}
                        for i, t in enumerate(overrides)]
                out.append(rule)
        return out

    def prototype(self, d, f, g, cadence):
        """An item prototype: the list (JSONPath), our entry (JavaScript), the field (JSONPath).

        The entries' keys are literally "{#BATCH}" etc. (metrics.md), and Zabbix substitutes
        every {#BATCH} in a prototype's parameters, so a JSONPath filter cannot name that key;
        the script spells it in two pieces and returns the entry. Once the batch has left the
        list it returns the field's `absent` value, or {}: then the last step discards the
        value and the item keeps its last one until the rule's lifetime removes it."""
        first = d.macros[0]
        absent = "{}" if f.absent is None else json.dumps({f.key: f.absent})
        script = (f"var list = JSON.parse(value);\n"
                  f"var key = '{{' + '{first[1:-1]}}}';\n"
                  f"for (var i = 0; i < list.length; i++) {{\n"
                  f"    if (list[i][key] === '{first}') {{\n"
                  f"        return JSON.stringify(list[i]);\n"
                  f"    }}\n"
                  f"}}\n"
                  f"return '{absent}';")
        item = self.dependent(f"{d.name}.{f.key}", f"{d.label}: {f.name}", d.item_key(f.key),
                              VALUE_TYPES[f.value_type], f"$.discovery.{d.name}", cadence, f.unit,
                              f.description, [{"tag": "component", "value": g.name}], on_fail="discard",
                              valuemap=self.valuemap_name(f) if f.valuemap else None)
        item["uuid"] = self.uuid("item_prototype", item["key"])
        item["preprocessing"] += [{"type": "JAVASCRIPT", "parameters": [script]},
                                  {"type": "JSONPATH", "parameters": [f"$['{f.key}']"],
                                   "error_handler": "DISCARD_VALUE"}]
        return item

    # -- triggers ----------------------------------------------------------------

    def trigger(self, t, prototype_of=None):
        """A trigger, or (prototype_of: the discovery's cadence) a trigger prototype."""
        prototype = prototype_of is not None
        out = {"uuid": self.uuid("trigger_prototype" if prototype else "trigger", t.name),
               "expression": self.expr(t.expression), "name": t.name}
        if t.recovery:
            out["recovery_mode"] = "RECOVERY_EXPRESSION"
            out["recovery_expression"] = self.expr(t.recovery)
        if t.event_name:
            out["event_name"] = t.event_name
        if t.opdata:
            out["opdata"] = t.opdata
        out["priority"] = t.severity
        out["description"] = t.description
        if prototype:
            out["manual_close"] = "YES"
        roots = t.depends_on if t.independent else registry.roots(prototype_of or registry.trigger_cadence(t))
        if roots:
            out["dependencies"] = [{"name": root.name, "expression": self.expr(root.expression)} for root in roots]
        out["tags"] = [{"tag": "scope", "value": t.scope}]
        return out

    def triggers(self):
        return [self.trigger(t) for t in registry.triggers()]

    def macros(self, build):
        out = [{"macro": BUILD_MACRO, "value": build,
                "description": "Identifies this generated template (content hash); `zabbix-sepa zabbix "
                               "setup` re-imports when it differs from its own."}] if build else []
        out += [{"macro": "{$SEPA.SITE}", "value": "",
                "description": "Agent variant: the site name passed to sepa.collect[] (empty: the only "
                               "configured site)."}] if self.variant == "agent" else []
        if self.variant == "agent":
            for cadence in registry.CADENCES:
                out.append({"macro": INTERVAL_MACROS[cadence], "value": interval(registry.INTERVALS[cadence]),
                            "description": f"Agent variant: how often the {cadence} document "
                                           f"{registry.master_key(cadence)}[] is polled (config: "
                                           f"cadences.{cadence}.interval)."})
                if self.v7:
                    budget = "collect_timeout" if cadence == MINUTE else f"cadences.{cadence}.collect_timeout"
                    out.append({"macro": AGENT_TIMEOUT_MACROS[cadence], "value": AGENT_TIMEOUTS[cadence],
                                "description": f"Agent variant: timeout of the master item "
                                               f"{registry.master_key(cadence)}[] (1s to 10m). It must exceed "
                                               f"the site's {budget}; Zabbix agents older than 7.0 use their "
                                               f"own Timeout instead."})
        out += [{"macro": m.name, "value": m.default, "description":
                 f"{m.description} Config: thresholds.{m.threshold.key}."} for m in registry.macros()]
        return sorted(out, key=lambda m: m["macro"])

    # -- the whole export ------------------------------------------------------------

    def document(self, build=None):
        how = HOW_AGENT_70 if self.variant == "agent" and self.v7 else HOW[self.variant]
        template = {
            "uuid": self.uuid("template", self.name), "template": self.name, "name": self.name,
            "description": DESCRIPTION.format(version=__version__, how=how)}
        if self.v7:
            template["vendor"] = {"name": VENDOR, "version": __version__}
        template.update({
            "groups": [{"name": GROUP}],
            "items": self.items(),
            "discovery_rules": self.discovery_rules(),
            "macros": self.macros(build),
            "dashboards": [dashboard(self)],
            "valuemaps": self.valuemaps(),
        })
        groups = "template_groups" if self.v7 else "groups"
        document = {"zabbix_export": {
            "version": self.version,
            groups: [{"uuid": GROUP_UUID, "name": GROUP}],
            "templates": [template],
            "triggers": self.triggers(),
            "graphs": graphs(self),
        }}
        return _canonical_70(document) if self.v7 else document


# -- Zabbix 7.0's canonical form ------------------------------------------------------------------

# Values the 7.0 import schema fills in when a field is left out, so its export leaves them out.
DEFAULTS_70 = {
    "item": {"type": "ZABBIX_PASSIVE", "delay": "1m", "history": "31d", "trends": "365d",
             "value_type": "UNSIGNED", "units": "", "description": ""},
    "rule": {"type": "ZABBIX_PASSIVE", "delay": "1m", "lifetime_type": "DELETE_AFTER", "lifetime": "7d",
             "enabled_lifetime_type": "DISABLE_IMMEDIATELY", "description": ""},
    "trigger": {"recovery_mode": "EXPRESSION", "priority": "NOT_CLASSIFIED", "manual_close": "NO",
                "opdata": "", "event_name": "", "description": ""},
    "macro": {"value": "", "type": "TEXT", "description": ""},
    "widget": {"x": "0", "y": "0", "width": "1", "height": "2", "hide_header": "NO"},
    "graph_item": {"sortorder": "0", "drawtype": "SINGLE_LINE", "color": "009600", "yaxisside": "LEFT",
                   "calc_fnc": "AVG", "type": "SIMPLE"},
    "operation": {"operator": "EQUAL"},
    "condition": {"operator": "MATCHES_REGEX"},
    "mapping": {"type": "EQUAL", "value": ""},
}


def _natural(text):
    """PHP's strnatcasecmp order, which Zabbix sorts with: digit runs by number, case folded."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.upper())
            for part in re.split(r"(\d+)", str(text)) if part]


def _lean(obj, kind):
    for key, default in DEFAULTS_70[kind].items():
        if obj.get(key) == default:
            del obj[key]
    return obj


def _item_keys_in(trigger, host, keys):
    text = trigger["expression"] + "\n" + trigger.get("recovery_expression", "")
    return {k for k in keys if f"/{host}/{k}," in text or f"/{host}/{k})" in text}


def _nest(triggers, host, items, field):
    """Move each trigger on exactly one of `items` under that item (as Zabbix exports it);
    return the triggers on several items, which stay where they were."""
    by_key = {i["key"]: i for i in items}
    rest = []
    for t in triggers:
        keys = _item_keys_in(t, host, by_key)
        if len(keys) == 1:
            by_key[keys.pop()].setdefault(field, []).append(t)
        else:
            rest.append(t)
    for item in items:
        if field in item:
            item[field].sort(key=lambda t: (_natural(t["name"]), t["expression"]))
    return rest


def _lean_trigger(t):
    if "dependencies" in t:
        t["dependencies"].sort(key=lambda d: (_natural(d["name"]), d["expression"]))
    t.get("tags", []).sort(key=lambda g: (_natural(g["tag"]), _natural(g.get("value", ""))))
    return _lean(t, "trigger")


def _lean_item(item):
    for t in item.get("triggers", []) + item.get("trigger_prototypes", []):
        _lean_trigger(t)
    item.get("tags", []).sort(key=lambda g: (_natural(g["tag"]), _natural(g.get("value", ""))))
    return _lean(item, "item")


def _canonical_70(document):
    export_ = document["zabbix_export"]
    (template,) = export_["templates"]
    host = template["template"]
    top = _nest(export_.pop("triggers", []), host, template["items"], "triggers")
    if top:
        export_["triggers"] = [_lean_trigger(t) for t in top]
    for item in template["items"]:
        _lean_item(item)
    for rule in template.get("discovery_rules", []):
        rest = _nest(rule.pop("trigger_prototypes", []), host, rule["item_prototypes"], "trigger_prototypes")
        for proto in rule["item_prototypes"]:
            _lean_item(proto)
        if rest:       # keep the rule's key order: prototypes sit between the item prototypes and master_item
            ordered = {}
            for k, v in rule.items():
                ordered[k] = v
                if k == "item_prototypes":
                    ordered["trigger_prototypes"] = [_lean_trigger(t) for t in rest]
            rule.clear()
            rule.update(ordered)
        rule["lld_macro_paths"].sort(key=lambda m: _natural(m["lld_macro"]))
        for override in rule.get("overrides", []):
            for condition in override.get("filter", {}).get("conditions", []):
                _lean(condition, "condition")
            for operation in override.get("operations", []):
                _lean(operation, "operation")
        _lean(rule, "rule")
    template["macros"] = [_lean(m, "macro") for m in sorted(template["macros"],
                                                             key=lambda m: _natural(m["macro"][2:-1]))]
    for board in template.get("dashboards", []):
        for page in board["pages"]:
            page["widgets"].sort(key=lambda w: (_natural(w.get("x", "0")), _natural(w.get("y", "0"))))
            for widget in page["widgets"]:
                _lean(widget, "widget")
    for valuemap in template.get("valuemaps", []):
        for mapping in valuemap["mappings"]:
            _lean(mapping, "mapping")
    for graph in export_.get("graphs", []):
        for graph_item in graph["graph_items"]:
            _lean(graph_item, "graph_item")
    return document


def interval(seconds):
    """Seconds as Zabbix writes an interval: 1m, 1h, 90s."""
    for suffix, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Multi-line strings as literal blocks, the way Zabbix's own exports read. libyaml's
    emitter when PyYAML has it (same text, five times faster)."""


def _str(dumper, text):
    if "\n" in text:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", text)


_Dumper.add_representer(str, _str)


def _dump(document):
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def build_id(variant, version=DEFAULT_VERSION):
    """Content hash of the template without its build macro: what `setup` compares."""
    return hashlib.sha256(_dump(_Render(variant, version).document()).encode()).hexdigest()[:16]


def render(variant, version=DEFAULT_VERSION):
    """The template as a Python structure in `version`'s export format, build macro included."""
    return _Render(variant, version).document(build_id(variant, version))


def export(variant, version=DEFAULT_VERSION):
    """The template as YAML text, ready for Data collection > Templates > Import."""
    body = _dump(render(variant, version))
    header = (f"# {VARIANTS[variant]['name']}: Zabbix {version} template generated by zabbix-sepa "
              f"{__version__}\n# (`zabbix-sepa template export --variant {variant} --zabbix-version "
              f"{version}`); do not edit, regenerate.\n")
    return header + body
