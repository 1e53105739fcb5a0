"""The metric reference, generated from the registry (docs/metrics.md)."""
from zabbix_sepa import registry

HEADER = """# Metric reference

Generated from the registry by `zabbix-sepa docs`; do not edit by hand
(`tests/unit/test_registry.py` fails when this file is out of date).
Definitions are those of the metric contract (`metrics.md`, version 1).
Every metric is a dependent item of the master item `sepa.collect`, read
from the document with the JSONPath `$.metrics['<key>']`. Each group lists
the triggers of the templates ("SEPA by Zabbix trapper" / "SEPA by Zabbix
agent") about it, and the macros that hold their thresholds; a macro's
default is the config key named beside it (`thresholds.<key>`), which
`zabbix-sepa zabbix setup` writes into each site's host macros.
"""

SEVERITY = {"INFO": "Information", "WARNING": "Warning", "AVERAGE": "Average", "HIGH": "High"}


def _cell(text):
    return text.replace("|", "\\|")


def metric_reference():
    out = [HEADER]
    for g in registry.groups():
        out.append(f"\n## {g.title} (`{g.name}`)\n")
        out.append("| key | name | type | unit | description |")
        out.append("|---|---|---|---|---|")
        for m in g.metrics:
            out.append(f"| `{m.key}` | {_cell(m.name)} | {m.value_type} | {m.unit or ''} | "
                       f"{_cell(m.description)} |")
        for d in g.discovery:
            out.append(f"\nDiscovery list `{d.name}` (`$.discovery.{d.name}`): {d.description} "
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
            out.append("\n| macro | default | config | meaning |")
            out.append("|---|---|---|---|")
            for m in g.macros:
                out.append(f"| `{_cell(m.name)}` | `{m.default}` | `thresholds.{m.threshold}` | "
                           f"{_cell(m.description)} |")
    return "\n".join(out) + "\n"
