"""The metric reference, generated from the registry (docs/metrics.md)."""
from zabbix_sepa import registry

HEADER = """# Metric reference

Generated from the registry by `zabbix-sepa docs`; do not edit by hand
(`tests/unit/test_generated.py` fails when this file is out of date).
Definitions are those of the metric contract (`metrics.md`, version 1).
Every metric is a dependent item of the master item `sepa.collect`, read
from the document with the JSONPath `$.metrics['<key>']`.
"""


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
                       f"{', '.join(f'`{x}`' for x in d.values)}.")
    return "\n".join(out) + "\n"
