"""The registry: every metric group (`zabbix_sepa.groups`), and the facts derived from them
that more than one part of zabbix-sepa needs, each stated once here.

- what is collected at which cadence (`metrics(cadence)`, `sections(cadence)`, `cadence_of`);
- the master item key of each cadence (`master_key`), which `send`, the UserParameters
  and the templates use; the item key of a collector metric for a cadence (`item_key`);
- the config thresholds with their defaults and ranges (`thresholds()`), from the macros
  the groups declare, and the orders they keep (`orders()`);
- the macros' former names (`renamed_macros()`), which `zabbix setup` moves on hosts;
- the root triggers a business trigger depends on (`roots`), and the cadence of a trigger's
  items (`trigger_cadence`).

The types are in `zabbix_sepa.groups.base` and re-exported here.
"""
import re

from zabbix_sepa.groups import ALL, collector
from zabbix_sepa.groups.base import (AVERAGE, CADENCES, COLLECTOR, DATABASE, DISASTER, EVERY_RUN, FLOAT, HIGH,
                                     HOUR, INFO, INT, MINUTE, REDIS, SOURCES, STR, TEXT, WARNING, Discovery, Group,
                                     Macro, Metric, Order, Section, SourceError, Threshold, Trigger, above, below)

__all__ = ["AVERAGE", "CADENCES", "COLLECTOR", "DATABASE", "DISASTER", "EVERY_RUN", "FLOAT", "HIGH", "HOUR", "INFO",
           "INT", "MINUTE", "REDIS", "SOURCES", "STR", "TEXT", "WARNING", "Discovery", "Group", "Macro", "Metric",
           "Order", "Section", "SourceError", "Threshold", "Trigger", "above", "below", "MASTER_KEYS", "INTERVALS", "UNSUPPORTED", "groups", "sections", "metrics", "discoveries",
           "cadence_of", "document_cadences", "master_key", "item_key", "tables", "macros", "triggers",
           "thresholds", "orders", "renamed_macros", "roots", "trigger_cadences", "trigger_cadence"]

# The value that carries each cadence's document: a trapper item of this key, or the agent
# item `<key>[<site>]` answered by the UserParameter `<key>[*]`.
MASTER_KEYS = {MINUTE: "sepa.collect", HOUR: "sepa.collect.hour"}
# Default interval of each cadence, in seconds (config: cadences.<name>.interval).
INTERVALS = {MINUTE: 60, HOUR: 3600}
UNSUPPORTED = collector.UNSUPPORTED        # the template item showing what was not collected, and why


def groups():
    """All groups, in collection order."""
    return ALL


def sections(cadence=None):
    """[(group, section)] collected at `cadence` (None: all), in collection order: with the
    collector's own section last."""
    return [(g, s) for g in ALL for s in g.sections if cadence is None or s.cadence in (cadence, EVERY_RUN)]


def metrics(cadence=None):
    return [m for _, s in sections(cadence) for m in s.metrics]


def discoveries(cadence=None):
    return [d for _, s in sections(cadence) for d in s.discovery]


def cadence_of(key):
    """The cadence of a metric key or discovery list name (EVERY_RUN for the collector's own)."""
    return _CADENCE[key]


def document_cadences(cadence):
    """The cadences a `collect --cadence` document holds: ("minute",), ("hour",) or both."""
    return CADENCES if cadence == "all" else (cadence,)


def master_key(cadence):
    return MASTER_KEYS[cadence]


def item_key(key, cadence):
    """The template item of metric `key` under `cadence`'s master. A key of one cadence is its
    own item; the collector's own metrics are in every document, so each cadence but the
    first has them as `<key>[<cadence>]` (sepa.collector.status[hour])."""
    if cadence_of(key) != EVERY_RUN or cadence == MINUTE:
        return key
    return f"{key}[{cadence}]"


def tables():
    """Every table any section reads: required and optional."""
    out = []
    for _, s in sections():
        for t in s.tables + s.optional_tables:
            if t not in out:
                out.append(t)
    return out


def macros():
    return [m for g in ALL for m in g.macros]


def triggers():
    return [t for g in ALL for t in g.triggers]


def thresholds():
    """{config key: Threshold} of every `thresholds:` key, in declaration order."""
    return {t.key: t for g in ALL for t in g.thresholds}


def orders():
    """Every Order between thresholds the groups declare, in declaration order."""
    return [o for g in ALL for o in g.orders]


def renamed_macros():
    """{former macro name: current name}: what `zabbix setup` moves on a host."""
    return {old: m.name for m in macros() for old in m.formerly}


def roots(cadence):
    """The triggers every business trigger of `cadence` depends on: no data at that cadence,
    and the database unreachable (seen by the minute collection)."""
    return (collector.NO_DATA[cadence], collector.UNREACHABLE)


_ITEM = re.compile(r"\(/T/([^,)]+)")


def trigger_cadences(trigger):
    """The cadences of the items a trigger reads ({EVERY_RUN} for the collector's own)."""
    return {_item_cadence(k) for k in _ITEM.findall(trigger.expression + trigger.recovery)}


def trigger_cadence(trigger):
    """The one cadence a trigger's items are collected at (the collector's own: minute);
    ValueError for a trigger that mixes cadences."""
    cadences = trigger_cadences(trigger) - {EVERY_RUN}
    if len(cadences) > 1:
        raise ValueError(f"trigger {trigger.name!r} reads items of several cadences ({', '.join(sorted(cadences))})")
    return cadences.pop() if cadences else MINUTE


def _item_cadence(item):
    """The cadence behind a template item key: a metric, a discovered item, a master."""
    masters = {k: c for c, k in MASTER_KEYS.items()}
    if item in masters:
        return masters[item]
    if item in _CADENCE:
        return _CADENCE[item]
    base, _, rest = item.partition("[")
    if base in _CADENCE and _CADENCE[base] == EVERY_RUN:
        return rest.rstrip("]") or MINUTE                      # sepa.collector.status[hour]
    for d in discoveries():
        if item.startswith(d.item_prefix + ".") and item.endswith(f"[{d.macros[0]}]"):
            return _CADENCE[d.name]
    raise KeyError(f"no metric, discovered item or master item {item!r}")


def _cadences():
    out = {UNSUPPORTED.key: EVERY_RUN}
    for _, s in sections():
        for key in s.keys:
            out[key] = s.cadence
    return out


_CADENCE = _cadences()
