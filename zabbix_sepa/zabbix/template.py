"""The Zabbix 6.0 template, rendered from the registry.

Two variants with one shape: the master item `sepa.collect` (a trapper item,
or an agent item `sepa.collect[{$SEPA.SITE}]`) carries the whole document;
every metric is a DEPENDENT item with JSONPath, the three discovery rules
are DEPENDENT too, and triggers, macros, value maps and the dashboard come
from the same declarations as the collector. UUIDs are derived from the
variant and the object's identity, so they are stable across releases and
a newer template updates an imported one instead of colliding.
"""
import hashlib

import yaml

from zabbix_sepa import __version__, registry
from zabbix_sepa.registry import FLOAT, INT, STR
from zabbix_sepa.zabbix.dashboard import dashboard, graphs

VARIANTS = {
    "agent": {"name": "SEPA by Zabbix agent", "master_key": "sepa.collect[{$SEPA.SITE}]",
              "master_type": "ZABBIX_PASSIVE"},
    "trapper": {"name": "SEPA by Zabbix trapper", "master_key": "sepa.collect", "master_type": "TRAP"},
}
GROUP = "Templates/Applications"
GROUP_UUID = "a571c0d144b14fd4a87a9d9b2aa9fcd6"     # the UUID Zabbix itself gives this group
VALUE_TYPES = {FLOAT: "FLOAT", INT: "UNSIGNED", STR: "CHAR"}
NOT_COLLECTED = "not collected: item 'SEPA: collector unsupported' says why"
BUILD_MACRO = "{$SEPA.TEMPLATE.BUILD}"
DEPENDS_ON = ("SEPA: no data from the collector", "SEPA: collector cannot reach the database")

DESCRIPTION = """\
Verenigingen (Frappe) SEPA direct debit monitoring by zabbix-sepa {version}.

The master item sepa.collect carries the whole metrics document that
`zabbix-sepa collect` prints; every other item and the discovery rules are
dependent items reading it with JSONPath.
{how}
Thresholds are the {{$SEPA.*}} macros; `zabbix-sepa zabbix setup` sets them
on each host from the site's `thresholds` in /etc/zabbix-sepa/config.yaml.
Metric reference: docs/metrics.md of zabbix-sepa."""

HOW = {
    "trapper": """
Push mode: link this template to a host named like the site's `name` in the
zabbix-sepa config, and run `zabbix-sepa send --all` every minute (the
systemd timer or cron line that install.sh places). Values keep the clock
of their collection; what cannot be delivered is spooled and sent later.""",
    "agent": """
Pull mode: install userparameters/zabbix_sepa.conf in the agent's include
directory, restart the agent, link this template to the host running the
agent, and set {$SEPA.SITE} to the site's `name` (empty: the only site).
The agent's Timeout (3 s) must exceed collect_timeout (2.5 s).""",
}


def uuid4_for(*identity):
    """A stable, valid version-4 UUID (32 hex digits) derived from `identity`."""
    b = bytearray(hashlib.sha256("\x1f".join(("zabbix-sepa",) + identity).encode()).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return b.hex()


class _Render:
    def __init__(self, variant):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}: agent or trapper")
        self.variant = variant
        self.v = VARIANTS[variant]
        self.name = self.v["name"]

    def uuid(self, kind, ident):
        return uuid4_for(self.variant, kind, ident)

    def expr(self, text):
        text = text.replace("/T/sepa.collect,", f"/T/{self.v['master_key']},")
        return text.replace("/T/", f"/{self.name}/")

    # -- items -----------------------------------------------------------------

    def master(self):
        item = {"uuid": self.uuid("item", "sepa.collect"), "name": "SEPA: collect",
                "type": self.v["master_type"], "key": self.v["master_key"]}
        if self.variant == "agent":
            item["delay"] = "1m"
        item.update({"history": "1d", "trends": "0", "value_type": "TEXT",
                     "description": "The whole metrics document of the site (JSON). Every SEPA item "
                                    "and discovery rule of this template is computed from it. Short "
                                    "history: the dependent items keep the values.",
                     "tags": [{"tag": "component", "value": "raw"}]})
        return item

    def dependent(self, uuid_ident, name, key, value_type, path, unit="", description="", tags=(),
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
        item["master_item"] = {"key": self.v["master_key"]}
        item["tags"] = list(tags)
        return item

    def items(self):
        out = [self.master()]
        for g in registry.groups():
            for m in g.metrics:
                out.append(self.dependent(
                    m.key, f"SEPA: {m.name}", m.key, VALUE_TYPES[m.value_type],
                    f"$.metrics['{m.key}']", m.unit, m.description,
                    [{"tag": "component", "value": g.name}],
                    valuemap=self.valuemap_name(m) if m.valuemap else None, on_fail=NOT_COLLECTED))
        out.append(self.dependent(
            "sepa.collector.unsupported", "SEPA: collector unsupported", "sepa.collector.unsupported",
            "TEXT", "$.unsupported", description="What the last collection could not collect, and "
            "why: {\"metric key\": \"reason\"}; {} when everything was collected.",
            tags=[{"tag": "component", "value": "collector"}]))
        return out

    @staticmethod
    def valuemap_name(metric):
        return "SEPA " + metric.name.lower()

    def valuemaps(self):
        out = []
        for m in registry.metrics():
            if m.valuemap:
                name = self.valuemap_name(m)
                out.append({"uuid": self.uuid("valuemap", name), "name": name,
                            "mappings": [{"value": str(v), "newvalue": text} for v, text in m.valuemap]})
        return out

    # -- discovery ---------------------------------------------------------------

    def discovery_rules(self):
        out = []
        for g in registry.groups():
            for d in g.discovery:
                rule = {"uuid": self.uuid("lld", d.name), "name": f"SEPA: {d.name} discovery",
                        "type": "DEPENDENT", "key": f"sepa.{d.name}.discovery", "delay": "0",
                        "lifetime": d.lifetime, "description": d.description}
                rule["item_prototypes"] = [self.prototype(d, f, g) for f in d.fields]
                if d.triggers:
                    rule["trigger_prototypes"] = [self.trigger(t, prototype=True) for t in d.triggers]
                rule["master_item"] = {"key": self.v["master_key"]}
                rule["lld_macro_paths"] = [{"lld_macro": m, "path": f"$['{m}']"} for m in d.macros]
                rule["preprocessing"] = [{"type": "JSONPATH", "parameters": [f"$.discovery.{d.name}"]}]
                overrides = [t for t in d.triggers if t.only_when]
                if overrides:
                    rule["overrides"] = [{
                        "name": f"Only {t.only_when[0]} matching {t.only_when[1]}: {t.name}", "step": str(i + 1),
                        "filter": {"conditions": [{"macro": t.only_when[0], "value": t.only_when[1],
                                                   "operator": "NOT_MATCHES_REGEX", "formulaid": "A"}]},
                        "operations": [{"operationobject": "TRIGGER_PROTOTYPE", "operator": "EQUAL",
                                        "value": t.name, "discover": "NO_DISCOVER"}]}
                        for i, t in enumerate(overrides)]
                out.append(rule)
        return out

    def prototype(self, d, f, g):
        """An item prototype: the list (JSONPath), our entry (JavaScript), the field (JSONPath).

        The entries' keys are literally "{#BATCH}" etc. (metrics.md), and Zabbix substitutes
        every {#BATCH} in a prototype's parameters, so a JSONPath filter cannot name that key;
        the script spells it in two pieces and returns the entry, or {} once the batch has
        left the list: then the last step discards the value and the item keeps its last one
        until the rule's lifetime removes it."""
        first = d.macros[0]
        script = (f"var list = JSON.parse(value);\n"
                  f"var key = '{{' + '{first[1:-1]}}}';\n"
                  f"for (var i = 0; i < list.length; i++) {{\n"
                  f"    if (list[i][key] === '{first}') {{\n"
                  f"        return JSON.stringify(list[i]);\n"
                  f"    }}\n"
                  f"}}\n"
                  f"return '{{}}';")
        item = self.dependent(f"{d.name}.{f.key}", f"{d.label}: {f.name}", d.item_key(f.key),
                              VALUE_TYPES[f.value_type], f"$.discovery.{d.name}", f.unit, f.description,
                              [{"tag": "component", "value": g.name}], on_fail="discard")
        item["uuid"] = self.uuid("item_prototype", item["key"])
        item["preprocessing"] += [{"type": "JAVASCRIPT", "parameters": [script]},
                                  {"type": "JSONPATH", "parameters": [f"$['{f.key}']"],
                                   "error_handler": "DISCARD_VALUE"}]
        return item

    # -- triggers ----------------------------------------------------------------

    def trigger(self, t, prototype=False):
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
        if not t.independent:
            by_name = {x.name: x for x in registry.triggers()}
            out["dependencies"] = [{"name": n, "expression": self.expr(by_name[n].expression)}
                                   for n in DEPENDS_ON]
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
        out += [{"macro": m.name, "value": m.default, "description":
                 f"{m.description} Config: thresholds.{m.threshold}."} for m in registry.macros()]
        return sorted(out, key=lambda m: m["macro"])

    # -- the whole export ------------------------------------------------------------

    def document(self, build=None):
        template = {
            "uuid": self.uuid("template", self.name), "template": self.name, "name": self.name,
            "description": DESCRIPTION.format(version=__version__, how=HOW[self.variant]),
            "groups": [{"name": GROUP}],
            "items": self.items(),
            "discovery_rules": self.discovery_rules(),
            "macros": self.macros(build),
            "dashboards": [dashboard(self)],
            "valuemaps": self.valuemaps(),
        }
        return {"zabbix_export": {
            "version": "6.0",
            "groups": [{"uuid": GROUP_UUID, "name": GROUP}],
            "templates": [template],
            "triggers": self.triggers(),
            "graphs": graphs(self),
        }}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, the way Zabbix's own exports read."""


def _str(dumper, text):
    if "\n" in text:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", text)


_Dumper.add_representer(str, _str)


def _dump(document):
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def build_id(variant):
    """Content hash of the template without its build macro: what `setup` compares."""
    return hashlib.sha256(_dump(_Render(variant).document()).encode()).hexdigest()[:16]


def render(variant):
    """The template as a Python structure (Zabbix 6.0 export format), build macro included."""
    return _Render(variant).document(build_id(variant))


def export(variant):
    """The template as YAML text, ready for Data collection > Templates > Import."""
    header = (f"# {VARIANTS[variant]['name']}: Zabbix 6.0 template generated by zabbix-sepa {__version__}\n"
              f"# (`zabbix-sepa template export --variant {variant}`); do not edit, regenerate.\n")
    return header + _dump(render(variant))
