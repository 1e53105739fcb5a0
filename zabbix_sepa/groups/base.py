"""What a metric, a discovery list, a trigger, a macro, a section and a group are: the
types every metric group module (`zabbix_sepa.groups.*`) declares itself with.

A group declares its metrics (key, name, unit, value type, description), its
discovery lists, its `Section`s (one SQL statement or one streamed read each,
with the tables it needs and the cadence it is collected at; or, for a section whose
`source` is REDIS, a few reads of the bench's Redis), the Zabbix
triggers and threshold macros about them, and the `Order`s its thresholds keep.
`zabbix_sepa.registry` gathers the groups; the collector, the docs, both template
variants, the UserParameters and the Prometheus names are generated from these
declarations.

This module imports nothing of zabbix_sepa: groups build on it, and the
registry on the groups.
"""
from dataclasses import dataclass
from typing import Callable, Tuple

FLOAT, INT, STR, TEXT = "float", "int", "str", "text"     # TEXT: template items only (JSON text)

# Cadences: every section is collected at one of them. `minute`: what must be fresh every
# minute (batches, errors, jobs...); `hour`: what changes slowly and costs most on a large
# site (mandate health, IBANs, receivables, members). EVERY_RUN: the collector's view of
# the run itself, in every document.
MINUTE, HOUR = "minute", "hour"
CADENCES = (MINUTE, HOUR)
EVERY_RUN = "every run"

# Where a section reads: the site's database (its `tables`), the bench's Redis (the RQ queues
# of Frappe's background jobs; `redis` of the site's config), or the collector itself.
DATABASE, REDIS, COLLECTOR = "database", "redis", "collector"
SOURCES = (DATABASE, REDIS, COLLECTOR)


class SourceError(Exception):
    """What a section raises when its source answered but not with anything it can collect
    (e.g. the queues of several benches and no bench chosen). Its keys are unsupported with
    this text as the reason, so the text must be safe to show: no value of the site's data."""


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    value_type: str          # FLOAT, INT or STR
    unit: str = ""           # Zabbix unit: s, B, %, EUR, ...
    description: str = ""
    valuemap: Tuple[Tuple[int, str], ...] = ()   # ((value, meaning), ...) for status codes
    # Prometheus: the family name (with its unit suffix: _seconds, _bytes, _ratio for %,
    # _eur), and for a key with a [parameter] the label that carries it; "" for a STR metric,
    # exposed as an info metric.
    prometheus: str = ""
    label: str = ""
    # The template's "SEPA overview" dashboard: the label of the metric's value widget ("":
    # not on the board), and the graph it is drawn in with the axis side.
    overview: str = ""
    graph: Tuple[str, str] = ()                   # (graph name, "left" or "right")
    # The global "SEPA fleet" dashboard (`zabbix setup`): a column of its one row per site,
    # headed by the `overview` label.
    fleet: bool = False
    # A discovery field only: the value its item prototype takes once the entry has left
    # the list (None: the item keeps its last value until the rule's lifetime removes it).
    absent: object = None


# Zabbix time suffixes a macro's value or a function's period may carry, in seconds.
TIME_SUFFIXES = {"m": 60, "h": 3600, "d": 86400}
SIZE_SUFFIXES = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}     # Zabbix's, in expressions and macros

# Trigger severities, as the Zabbix 6.0 export names them.
INFO, WARNING, AVERAGE, HIGH, DISASTER = "INFO", "WARNING", "AVERAGE", "HIGH", "DISASTER"


@dataclass(frozen=True)
class Threshold:
    """A config key under `thresholds:` with its default and allowed range. The group that
    uses it declares it (usually inside the Macro that carries it to Zabbix); the config's
    validation and defaults, the template's macro defaults and `zabbix setup`'s host macros
    all come from here."""
    key: str
    default: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class Order:
    """Two thresholds whose meaning orders them: `lower`'s value may not be above `higher`'s
    (with `strict`, must be below it), e.g. a Draft batch is stuck sooner than a Submitted one.
    The config checks every site's thresholds (its own over the top-level ones over the
    defaults) against every Order a group declares; `why` says it to the user."""
    lower: Threshold
    higher: Threshold
    why: str
    strict: bool = False

    def holds(self, thresholds):
        low, high = thresholds[self.lower.key], thresholds[self.higher.key]
        return low < high if self.strict else low <= high

    @property
    def relation(self):
        return "below" if self.strict else "at most"


@dataclass(frozen=True)
class Macro:
    """A user macro holding a threshold, e.g. {$SEPA.BATCH.STUCK.MAX}.

    Its value is the site's `thresholds.<threshold.key>` followed by `suffix`
    (a Zabbix time suffix such as "h"): the template's default comes from the
    threshold's default, and `zabbix setup` writes a site's own thresholds into
    host macros the same way, so template and config cannot disagree.

    Names: `{$SEPA.<AREA>.<NAME>.MAX|MIN[.WARN|.CRIT]}`, upper-case words separated by dots
    (no underscores), MAX or MIN last but for an optional WARN or CRIT, and a context
    (`:"Draft"`) if any after that. The one exception is {$SEPA.NODATA.TIME}: the period
    nodata() looks back over, not a limit a value is compared with. `formerly`: the names
    the macro had before (the one table of renames: `zabbix setup` moves a host's macro
    of a former name to this one, the README lists them)."""
    name: str
    threshold: Threshold
    description: str
    suffix: str = ""
    formerly: Tuple[str, ...] = ()

    def value(self, thresholds=None):
        number = self.threshold.default if thresholds is None else thresholds[self.threshold.key]
        seconds = TIME_SUFFIXES.get(self.suffix)
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
    discovered for. `depends_on`: what an independent trigger still depends on (no hourly
    data defers to no data at all, so a dead collector raises one problem)."""
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
    depends_on: Tuple["Trigger", ...] = ()   # for an independent trigger: the roots it still defers to


def above(name, key, macro, severity, description, event_name, opdata="", scope="availability"):
    """Problem while the newest value of `key` is above `macro`; over when the last three are not."""
    return Trigger(name, f"last(/T/{key})>{macro}", severity, description, event_name=event_name,
                   recovery=f"max(/T/{key},#3)<={macro}", opdata=opdata, scope=scope)


def below(name, key, macro, severity, description, event_name, opdata="", scope="availability"):
    """Problem while the newest value of `key` is below `macro`; over when the last three are not."""
    return Trigger(name, f"last(/T/{key})<{macro}", severity, description, event_name=event_name,
                   recovery=f"min(/T/{key},#3)>={macro}", opdata=opdata, scope=scope)


# Anomalies: an hour is compared with the same hour on this many days before, from trends.
# baselinedev counts the hour itself among the values it spreads, so one hour can deviate by
# at most sqrt(ANOMALY_DAYS) (3.74): sensitivity macros stay below that.
ANOMALY_DAYS = 14
ANOMALY_MAX_DEVIATIONS = 3.5


def unusual(name, key, macro, severity, description, event_name, higher=True, opdata="", scope="performance"):
    """Problem when the last complete hour of `key` deviates by more than `macro` standard
    deviations from the same hour on the ANOMALY_DAYS days before (baselinedev over trends)
    and the newest value is still on that side of the hour's usual level (baselinewma): higher
    (or, `higher=False`, lower). Over when either is no longer true."""
    season = f'(/T/{key},1h:now/h,"d",{ANOMALY_DAYS})'
    return Trigger(name, f"baselinedev{season}>{macro} and last(/T/{key}){'>' if higher else '<'}baselinewma{season}",
                   severity, description, event_name=event_name, opdata=opdata, scope=scope)


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
    """One unit of collection: a statement (or a stream) over some tables, or (source REDIS)
    a few reads of the bench's Redis.

    `run(ctx)` returns {metric key or discovery name: value} for exactly the
    metrics and discovery lists the section declares. If a table in `tables`
    is missing, they are unsupported and the collection counts as failed; if a
    table in `optional_tables` is missing, they are unsupported, no failure.
    A REDIS section sees `ctx.redis` (read commands only); without `redis` in the
    site's config its keys are unsupported, no failure, like an optional table's.
    If `run` fails in any way (a database or Redis error, a SourceError, a bug, a key
    it did not return), its keys are unsupported with the reason and the others are
    still collected.
    """
    name: str
    run: Callable
    metrics: Tuple[Metric, ...] = ()
    discovery: Tuple[Discovery, ...] = ()
    tables: Tuple[str, ...] = ()
    optional_tables: Tuple[str, ...] = ()
    source: str = DATABASE    # DATABASE, REDIS or (computed by the collector about itself) COLLECTOR
    max_statements: int = 1   # SQL `run` may execute; the performance report holds it to this
    cadence: str = MINUTE     # MINUTE, HOUR or (the collector's own section) EVERY_RUN

    @property
    def needs_db(self):
        return self.source == DATABASE

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
    orders: Tuple[Order, ...] = ()      # thresholds (of any group) that their meaning orders

    @property
    def metrics(self):
        return tuple(m for s in self.sections for m in s.metrics)

    @property
    def discovery(self):
        return tuple(d for s in self.sections for d in s.discovery)

    @property
    def thresholds(self):
        """The config thresholds the group's macros carry, each once."""
        out = []
        for m in self.macros:
            if m.threshold not in out:
                out.append(m.threshold)
        return tuple(out)
