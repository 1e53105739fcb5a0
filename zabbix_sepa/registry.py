"""What a metric, a discovery list and a group are.

Every metric group module in `zabbix_sepa.groups` declares one `Group`: its
metrics (key, name, unit, value type, description), its discovery lists, and
its `Section`s. A section is one SQL statement (or one streamed read) with the
tables it needs; it returns values for the keys it declares. The collector,
the docs table and later the templates, UserParameters and Prometheus names
are all generated from these declarations.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Tuple

FLOAT, INT, STR = "float", "int", "str"


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    value_type: str          # FLOAT, INT or STR
    unit: str = ""           # Zabbix unit: s, B, %, EUR, ...
    description: str = ""


@dataclass(frozen=True)
class Discovery:
    name: str                # key under "discovery" in the document
    macros: Tuple[str, ...]  # LLD macros, e.g. "{#BATCH}"
    values: Tuple[str, ...]  # plain value fields
    description: str = ""


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

    @property
    def keys(self):
        return tuple(m.key for m in self.metrics) + tuple(d.name for d in self.discovery)


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    sections: Tuple[Section, ...]
    # Triggers and macros arrive with the template issue; they live here too.
    extra: Dict = field(default_factory=dict)

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
