"""What a metric, a discovery list, a trigger, a macro and a group are.

Every metric group module in `zabbix_sepa.groups` declares one `Group`: its
metrics (key, name, unit, value type, description), its discovery lists, its
`Section`s, and the Zabbix triggers and threshold macros about them. A
section is one SQL statement (or one streamed read) with the tables it
needs; it returns values for the keys it declares. The collector, the docs
table, both template variants, the UserParameters and the Prometheus names
are all generated from these declarations.
"""
from dataclasses import dataclass
from typing import Callable, Tuple

FLOAT, INT, STR = "float", "int", "str"


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    value_type: str          # FLOAT, INT or STR
    unit: str = ""           # Zabbix unit: s, B, %, EUR, ...
    description: str = ""
    valuemap: Tuple[Tuple[int, str], ...] = ()   # ((value, meaning), ...) for status codes


# Trigger severities, as the Zabbix 6.0 export names them.
INFO, WARNING, AVERAGE, HIGH = "INFO", "WARNING", "AVERAGE", "HIGH"


@dataclass(frozen=True)
class Macro:
    """A user macro holding a threshold, e.g. {$SEPA.BATCH.STUCK.MAX}.

    Its value is the config key `thresholds.<threshold>` followed by `suffix`
    (a Zabbix time suffix such as "h"): the template's default comes from the
    config's default, and `zabbix setup` writes a site's own thresholds into
    host macros the same way, so template and config cannot disagree."""
    name: str
    threshold: str
    description: str
    suffix: str = ""

    def value(self, thresholds=None):
        from zabbix_sepa.config import DEFAULT_THRESHOLDS
        number = (thresholds or DEFAULT_THRESHOLDS)[self.threshold]
        seconds = {"m": 60, "h": 3600, "d": 86400}.get(self.suffix)
        if seconds and number != int(number):       # Zabbix time suffixes take whole numbers
            return f"{round(number * seconds)}s"
        text = f"{number:g}" if isinstance(number, float) else str(number)
        return text + self.suffix

    @property
    def default(self):
        return self.value()


@dataclass(frozen=True)
class Trigger:
    """A trigger (or, inside a Discovery, a trigger prototype).

    `event_name` states the threshold (macros), `opdata` the current value: a value in the event
    name is fixed when the event is made and can come out as *UNKNOWN* (seen on 6.0 when the
    value cache lags), operational data is resolved whenever the problem is shown.
    `expression` and `recovery` use `/T/` for the template, e.g.
    `last(/T/sepa.batch.stuck)>{$SEPA.BATCH.STUCK.MAX}`. `recovery` empty
    means the problem ends when the expression is false. Unless
    `independent`, the trigger depends on the collector's no-data and
    database-unreachable triggers, so one dead collector raises one problem.
    `only_when` (prototypes only): (LLD macro, regex) the trigger is
    discovered for."""
    name: str
    expression: str
    severity: str
    description: str
    event_name: str = ""
    recovery: str = ""
    scope: str = "availability"
    opdata: str = ""
    independent: bool = False
    only_when: Tuple[str, str] = ()


def above(name, key, macro, severity, description, event_name, opdata="", scope="availability"):
    """Problem while the newest value of `key` is above `macro`; over when the last three are not."""
    return Trigger(name, f"last(/T/{key})>{macro}", severity, description, event_name=event_name,
                   recovery=f"max(/T/{key},#3)<={macro}", opdata=opdata, scope=scope)


def below(name, key, macro, severity, description, event_name, opdata="", scope="availability"):
    """Problem while the newest value of `key` is below `macro`; over when the last three are not."""
    return Trigger(name, f"last(/T/{key})<{macro}", severity, description, event_name=event_name,
                   recovery=f"min(/T/{key},#3)>={macro}", opdata=opdata, scope=scope)


@dataclass(frozen=True)
class Discovery:
    name: str                # key under "discovery" in the document
    macros: Tuple[str, ...]  # LLD macros, e.g. "{#BATCH}"
    values: Tuple[str, ...]  # plain value fields
    description: str = ""
    # Template side: item prototypes `<item_prefix>.<field>[<first macro>]`, named
    # "<label>: <field name>"; `fields` is one Metric per value (key = the value name).
    item_prefix: str = ""
    label: str = ""
    fields: Tuple[Metric, ...] = ()
    triggers: Tuple[Trigger, ...] = ()
    lifetime: str = "7d"

    def item_key(self, value):
        return f"{self.item_prefix}.{value}[{self.macros[0]}]"


@dataclass(frozen=True)
class Section:
    """One unit of collection: a statement (or a stream) over some tables.

    `run(ctx)` returns {metric key or discovery name: value} for exactly the
    metrics and discovery lists the section declares. If a table in `tables`
    is missing, they are unsupported and the collection counts as failed; if a
    table in `optional_tables` is missing, they are unsupported, no failure.
    """
    name: str
    run: Callable
    metrics: Tuple[Metric, ...] = ()
    discovery: Tuple[Discovery, ...] = ()
    tables: Tuple[str, ...] = ()
    optional_tables: Tuple[str, ...] = ()
    needs_db: bool = True     # False: computed by the collector about itself
    max_statements: int = 1   # what `run` may execute; the performance report holds it to this

    @property
    def keys(self):
        return tuple(m.key for m in self.metrics) + tuple(d.name for d in self.discovery)


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    sections: Tuple[Section, ...]
    macros: Tuple[Macro, ...] = ()
    triggers: Tuple[Trigger, ...] = ()

    @property
    def metrics(self):
        return tuple(m for s in self.sections for m in s.metrics)

    @property
    def discovery(self):
        return tuple(d for s in self.sections for d in s.discovery)


def groups():
    """All groups, in collection order."""
    from zabbix_sepa.groups import ALL
    return ALL


def metrics():
    return [m for g in groups() for m in g.metrics]


def discoveries():
    return [d for g in groups() for d in g.discovery]


def tables():
    """Every table any section reads: required and optional."""
    out = []
    for g in groups():
        for s in g.sections:
            for t in s.tables + s.optional_tables:
                if t not in out:
                    out.append(t)
    return out


def macros():
    return [m for g in groups() for m in g.macros]


def triggers():
    return [t for g in groups() for t in g.triggers]
