"""The metric reference, generated from the registry (docs/metrics.md)."""
from zabbix_sepa import registry
from zabbix_sepa.config import DEFAULT_COLLECT_TIMEOUT, DEFAULT_HOUR_COLLECT_TIMEOUT

HEADER = """# Metric reference

Generated from the registry by `zabbix-sepa docs`; do not edit by hand
(`tests/unit/test_registry.py` fails when this file is out of date).
Definitions are those of the metric contract (`metrics.md`, version 1).

Every metric is collected at one cadence: **minute** (what must be fresh
every minute) or **hour** (what changes slowly and costs most on a large
site). Each cadence's document reaches Zabbix as the value of its master
item, and every metric is a dependent item of that master, read with the
JSONPath `$.metrics['<key>']`:

| cadence | master item (trapper / agent) | default interval | budget |
|---|---|---|---|
{masters}

The collector's own metrics (`sepa.collector.*`) are in every document: the
template has them once per cadence, as `<key>` for the minute and
`<key>[hour]` for the hour. Each group lists the triggers of the templates
("SEPA by Zabbix trapper" / "SEPA by Zabbix agent") about it, and the macros
that hold their thresholds; a macro's default is the config key named beside
it (`thresholds.<key>`, with its allowed range), which `zabbix-sepa zabbix
setup` writes into each site's host macros. Where the meaning of two
thresholds orders them, the group says so, and the config refuses a site
whose thresholds (its own over the top-level ones over the defaults) break
the order.
"""

SEVERITY = {"INFO": "Information", "WARNING": "Warning", "AVERAGE": "Average", "HIGH": "High", "DISASTER": "Disaster"}
BUDGET = {registry.MINUTE: f"`collect_timeout` ({DEFAULT_COLLECT_TIMEOUT:g} s)",
          registry.HOUR: f"`cadences.hour.collect_timeout` ({DEFAULT_HOUR_COLLECT_TIMEOUT:g} s)"}


def _cell(text):
    return text.replace("|", "\\|")


def _interval(seconds):
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds // 60} min"


def _masters():
    return "\n".join(f"| {c} | `{registry.master_key(c)}` / `{registry.master_key(c)}[<site>]` | "
                     f"{_interval(registry.INTERVALS[c])} | {BUDGET[c]} |" for c in registry.CADENCES)


def _cadence(section):
    return "every" if section.cadence == registry.EVERY_RUN else section.cadence


def _range(t):
    return f"{t.minimum:g} - {t.maximum:g}"


def metric_reference():
    out = [HEADER.format(masters=_masters())]
    for g in registry.groups():
        out.append(f"\n## {g.title} (`{g.name}`)\n")
        out.append("| key | name | cadence | type | unit | description |")
        out.append("|---|---|---|---|---|---|")
        for s in g.sections:
            for m in s.metrics:
                out.append(f"| `{m.key}` | {_cell(m.name)} | {_cadence(s)} | {m.value_type} | {m.unit or ''} | "
                           f"{_cell(m.description)} |")
        if g.name == "collector":
            u = registry.UNSUPPORTED
            out.append(f"| `{u.key}` | {_cell(u.name)} | every | {u.value_type} | | {_cell(u.description)} "
                       f"Template item only: the document's `unsupported` map. |")
        for s in g.sections:
            for d in s.discovery:
                out.append(f"\nDiscovery list `{d.name}` (`$.discovery.{d.name}`, {_cadence(s)}): {d.description} "
                           f"Macros {', '.join(f'`{x}`' for x in d.macros)}; values "
                           f"{', '.join(f'`{x}`' for x in d.values)}. Discovery rule `sepa.{d.name}.discovery`; "
                           f"item prototypes {', '.join(f'`{d.item_key(v)}`' for v in d.values)}.")
        triggers = list(g.triggers) + [t for d in g.discovery for t in d.triggers]
        if triggers:
            out.append("\n| trigger | severity | problem when |")
            out.append("|---|---|---|")
            for t in triggers:
                expression = _cell(t.expression.replace("/T/", "/…/"))
                out.append(f"| {_cell(t.name)} | {SEVERITY[t.severity]} | `{expression}` |")
        if g.macros:
            out.append("\n| macro | default | config (range) | meaning |")
            out.append("|---|---|---|---|")
            for m in g.macros:
                out.append(f"| `{_cell(m.name)}` | `{m.default}` | `thresholds.{m.threshold.key}` "
                           f"({_range(m.threshold)}) | {_cell(m.description)} |")
        for o in g.orders:
            out.append(f"\nEach site's `thresholds.{o.lower.key}` must be {o.relation} its "
                       f"`thresholds.{o.higher.key}` (else a config error): {_cell(o.why)}.")
    return "\n".join(out) + "\n"
