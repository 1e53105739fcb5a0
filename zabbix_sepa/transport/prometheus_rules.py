"""Prometheus alerting rules for the templates' triggers (`zabbix-sepa prometheus rules`), over
the series of the exposition (transport/prometheus.py), with the registry's default thresholds.

A trigger expression is read by a small parser for exactly the shapes the groups use:
comparisons `function(/T/item[,args]) OP number|{$MACRO}`, joined by `or` and `and`. Each becomes PromQL:

    last(/T/k)>M               k > M                     (the series of item k, by name_of)
    min(/T/k,#n)>M             min_over_time(k[n*i]) > M (i: the default interval of the
                                                          trigger's cadence, 60 s or 3600 s)
    forecast(/T/k,3d,7d)>M     predict_linear(k[3d], 604800) > M
    timeleft(/T/k,7d,L)<T      predict_linear(k[7d], T) >= L
    nodata(/T/sepa.collect,P)=1  no sample of the site for P (see NODATA_NOTE)

A threshold is its macro's default (a context macro's own, else the plain macro's, as Zabbix
resolves them) in the series' unit: a time suffix in seconds, a percentage as a ratio. A
context that is an LLD macro ({$X:"{#STATUS}"}) gives one alternative per context the registry
declares (status="Draft") and one for the other values, joined by `or`; the annotations state
the threshold by label. A recovery expression `max(/T/k,#n)<=M` (`min(...)>=M` under `<`) is
the expression false for n values in a row: keep_firing_for (n-1)*i, which resolves at the
value Zabbix recovers at. Rules have no `for:` (0): like the triggers they fire on the first
sample that meets the expression, whose persistence (min over #n, the no-data period) it
states itself. Any other shape raises ExpressionError when the rules are generated; triggers
about items the exposition has no series for, and those judged with Zabbix's trends
(baselinedev: anomalies), are NOT_TRANSLATED, with the reason.
"""
import re
import textwrap
from dataclasses import dataclass

import yaml

from zabbix_sepa import registry
from zabbix_sepa.groups.base import SIZE_SUFFIXES, TIME_SUFFIXES
from zabbix_sepa.transport.prometheus import DOCUMENT_FAMILY, discovery_family, label_of, label_value, name_of

_HOURLY_DOCUMENT = ("serve collects the hourly document itself, within a scrape, once cadences.hour.interval "
                    "has passed: there is no hourly delivery that could stop on its own. A failed hourly "
                    f"collection leaves its series out (counted in {DOCUMENT_FAMILY}); no scrape at all is "
                    "\"no data from the collector\".")
_COLLECTOR_OWN = ("the exposition carries the collector's own metrics (status, duration) of the minute run "
                  "only; serve merges the hourly document's business metrics under them. What the hourly "
                  f"collection could not read is absent and counted in {DOCUMENT_FAMILY}.")
_TRENDS = ("it judges an hour against the same hour on the days before from Zabbix's trends (baselinedev, "
           "baselinewma); a rule would need recording rules of hourly averages kept for weeks, which is "
           "the Prometheus user's own retention to decide.")
TREND_FUNCTIONS = re.compile(r"\b(baselinedev|baselinewma|trendstl|trend[a-z]+)\(")
# The triggers that have no faithful rule, and why (a unit test keeps this list exact).
NOT_TRANSLATED = {
    "SEPA: no hourly data from the collector": _HOURLY_DOCUMENT,
    "SEPA: hourly collection partial": _COLLECTOR_OWN,
    "SEPA: hourly collection slow": _COLLECTOR_OWN,
    **{t.name: _TRENDS for t in registry.triggers() if TREND_FUNCTIONS.search(t.expression)},
}
# How far back "no data" looks for a site's last sample: the per-site alert lasts this long.
NODATA_LOOKBACK = 86400
NODATA_NOTE = ("Prometheus: fires for a site none of whose series has had a sample for {period} "
               "(the family {family} is in every scrape of every site): serve stopped or unreachable, "
               "its scrapes failing (up == 0), or the site gone from its config. It lasts while the site's "
               "last sample is within {lookback}; when no site at all has had one for {lookback}, one "
               "alert without a site label follows.")
HEADER = """\
# Prometheus alerting rules for the triggers of the zabbix-sepa templates, generated from the
# registry by `zabbix-sepa prometheus rules`; do not edit by hand
# (tests/unit/test_prometheus_rules.py fails when this file is out of date).
# Thresholds are the registry's defaults; needs Prometheus 2.42 or later (keep_firing_for).
# Not translated:
{not_translated}
"""
OPERATORS = {">": ">", "<": "<", ">=": ">=", "<=": "<=", "=": "==", "<>": "!="}


class ExpressionError(ValueError):
    """A trigger expression of a shape the rules cannot be generated for."""


class NotExposed(ExpressionError):
    """A trigger about an item the exposition has no series for."""


class ZabbixOnly(ExpressionError):
    """A trigger judged with Zabbix's trends, which a Prometheus rule has no counterpart of."""


@dataclass(frozen=True)
class Call:
    function: str
    item: str
    args: tuple


@dataclass(frozen=True)
class Comparison:
    call: Call
    operator: str
    operand: str        # a number or a {$MACRO}
    joiner: str = ""    # "and" or "or" before it (PromQL gives them Zabbix's precedence: and first)


_TOKEN = re.compile(r"""\s*(?:
      (?P<call>(?P<function>[a-z]+)\(/T/(?P<args>[^()]+)\))
    | (?P<operator><>|<=|>=|[<>=])
    | (?P<number>-?[0-9]+(?:\.[0-9]+)?)
    | (?P<macro>\{\$[A-Z0-9.]+(?::"[^"]*")?\})
    | (?P<joiner>or|and)(?![a-z])
    )\s*""", re.X)
_KINDS = ("call", "operator", "number", "macro", "joiner")
MACRO = re.compile(r'\{\$([A-Z0-9.]+)(?::"([^"]*)")?\}')
LLD_MACRO = re.compile(r"\{#[A-Z0-9_]+\}")


def parse(expression):
    """The comparisons of `comparison or comparison ...`; ExpressionError for anything else."""
    tokens, pos = [], 0
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if not match:
            raise ExpressionError(f"cannot read {expression[pos:]!r} of {expression!r}")
        tokens.append((next(k for k in _KINDS if match[k] is not None), match))
        pos = match.end()

    def take(*kinds):
        kind, match = tokens.pop(0) if tokens else (None, None)
        if kind not in kinds:
            found = repr(match[kind].strip()) if match else "the end"
            raise ExpressionError(f"expected {' or '.join(kinds)} but found {found} in {expression!r}")
        return match

    comparisons, joiner = [], ""
    while True:
        call, operator, operand = take("call"), take("operator"), take("number", "macro")
        item, *args = call["args"].split(",")
        comparisons.append(Comparison(Call(call["function"], item, tuple(args)), operator["operator"],
                                      operand["number"] or operand["macro"], joiner))
        if not tokens:
            return tuple(comparisons)
        joiner = take("joiner")["joiner"]


def seconds(text):
    """A Zabbix time (600, 10m, 3d) in seconds."""
    match = re.fullmatch(r"([0-9]+)([a-z]?)", text)
    if not match or match[2] not in ("", "s", *TIME_SUFFIXES):
        raise ExpressionError(f"not a time: {text!r}")
    return int(match[1]) * TIME_SUFFIXES.get(match[2], 1)


def duration(secs):
    """Seconds as a PromQL duration, in the largest unit that divides them."""
    secs = round(secs)
    unit = next((u for u in ("d", "h", "m") if secs % TIME_SUFFIXES[u] == 0), None)
    return f"{secs // TIME_SUFFIXES[unit]}{unit}" if unit and secs else f"{secs}s"


def number(value):
    value = round(value, 12)
    return str(int(value)) if value == int(value) else repr(value)


_MACROS = {m.name: m for m in registry.macros()}
_METRICS = {m.key: m for m in registry.metrics()}


def macro(text, contexts):
    """The registry Macro a macro in an expression resolves to, as Zabbix resolves it: with a
    context, the macro of that context if declared, else the plain one. An LLD macro as context
    takes its value from `contexts` (none: the plain macro)."""
    name, context = MACRO.fullmatch(text).groups()
    if context and LLD_MACRO.fullmatch(context):
        context = contexts.get(context)
    found = (context and _MACROS.get(f'{{${name}:"{context}"}}')) or _MACROS.get(f"{{${name}}}")
    if found is None:
        raise ExpressionError(f"no macro {text!r} in the registry")
    return found


def macro_number(m):
    """A macro's default as a number: a time suffix in seconds, a size suffix in bytes."""
    return m.threshold.default * TIME_SUFFIXES.get(m.suffix, SIZE_SUFFIXES.get(m.suffix, 1))


def _series(item):
    """(family, label matchers, scale, unit) of a template item."""
    metric = _METRICS.get(item)
    if metric is not None and metric.prometheus:
        name, label, value, scale = name_of(metric)
        return name, ((f'{label}="{label_value(value)}"',) if label else ()), scale, metric.unit
    for d in registry.discoveries():
        for field in d.fields:
            if item == d.item_key(field.key):
                name, scale = discovery_family(d, field)
                return name, (), scale, field.unit
    base = item.partition("[")[0]
    if base in _METRICS and registry.cadence_of(base) == registry.EVERY_RUN:
        raise NotExposed(f"{item}: {_COLLECTOR_OWN}")
    raise ExpressionError(f"no metric or discovered item {item!r} with a Prometheus series")


@dataclass(frozen=True)
class Variant:
    """One alternative of a trigger's rule: the label matchers it adds to every series, and the
    values its LLD-context macros take ({}: their plain macro)."""
    matchers: tuple
    contexts: dict


def _variants(trigger):
    """One Variant per context the registry declares for the trigger's LLD-context macro, and one
    for the other label values; one Variant without such a macro."""
    only = ()
    if trigger.only_when:
        lld, regex = trigger.only_when     # a Zabbix filter searches; PromQL anchors the whole value
        only = (f'{label_of(lld)}=~"{label_value(f".*(?:{regex}).*")}"',)
    lld_contexts = {lld for _, lld in MACRO.findall(trigger.expression) if LLD_MACRO.fullmatch(lld)}
    if not lld_contexts:
        return [Variant(only, {})]
    if len(lld_contexts) > 1:
        raise ExpressionError(f"contexts of more than one LLD macro ({', '.join(sorted(lld_contexts))})")
    lld = lld_contexts.pop()
    bases = {name for name, context in MACRO.findall(trigger.expression) if context == lld}
    declared = [context for m in _MACROS for name, context in [MACRO.fullmatch(m).groups()]
                if name in bases and context]
    label = label_of(lld)
    rest = (f'{label}!~"{label_value("|".join(re.escape(c) for c in declared))}"',) if declared else ()
    return [Variant(only + (f'{label}="{label_value(c)}"',), {lld: c}) for c in declared] + [Variant(only + rest, {})]


def _count(args):
    """n of the one argument #n (the last n values), else None."""
    match = re.fullmatch(r"#([0-9]+)", args[0]) if len(args) == 1 else None
    return int(match[1]) if match else None


def _selector(name, matchers):
    return f"{name}{{{','.join(matchers)}}}" if matchers else name


def _no_data(comparison, contexts):
    """nodata(/T/<minute master>,P)=1: no sample of the site for P."""
    item, args = comparison.call.item, comparison.call.args
    if item != registry.master_key(registry.MINUTE):
        raise NotExposed(f"{item}: {_HOURLY_DOCUMENT}")
    if len(args) != 1 or (comparison.operator, comparison.operand) != ("=", "1"):
        raise ExpressionError("nodata() is translated as nodata(/T/item,period)=1 only")
    period = macro_number(macro(args[0], contexts)) if MACRO.fullmatch(args[0]) else seconds(args[0])
    if period >= NODATA_LOOKBACK:
        raise ExpressionError(f"a no-data period of {duration(period)} is not within the lookback of "
                              f"{duration(NODATA_LOOKBACK)}")
    family, lookback = DOCUMENT_FAMILY, duration(NODATA_LOOKBACK)
    return (f"(last_over_time({family}[{lookback}]) unless last_over_time({family}[{duration(period)}])) "
            f"or absent_over_time({family}[{lookback}])")


def _promql(comparison, variant, interval):
    call = comparison.call
    if call.function == "nodata":
        return _no_data(comparison, variant.contexts)
    name, matchers, scale, unit = _series(call.item)
    series = _selector(name, matchers + variant.matchers)
    if call.function == "last" and not call.args:
        value = series
    elif call.function in ("min", "max") and _count(call.args):
        value = f"{call.function}_over_time({series}[{duration(_count(call.args) * interval)}])"
    elif call.function == "forecast" and len(call.args) == 2:
        period, ahead = (seconds(a) for a in call.args)
        value = f"predict_linear({series}[{duration(period)}], {ahead})"
    elif call.function == "timeleft" and len(call.args) == 2 and comparison.operator in ("<", "<="):
        return _time_left(comparison, series, scale, variant)
    else:
        raise ExpressionError(f"{call.function}({', '.join(('/T/' + call.item,) + call.args)}) is not translated")
    if MACRO.fullmatch(comparison.operand):
        m = macro(comparison.operand, variant.contexts)
        if m.suffix in TIME_SUFFIXES and unit != "s":
            raise ExpressionError(f"{m.name} is a time, {call.item} is not in seconds")
        threshold = macro_number(m)
    else:
        threshold = float(comparison.operand)
    return f"{value} {OPERATORS[comparison.operator]} {number(threshold * scale)}"


def _time_left(comparison, series, scale, variant):
    """timeleft(/T/k,P,L)<T: the value extrapolated over P reaches L within T, i.e.
    predict_linear(k[P], T) >= L (an already reached L is 0 time left: also true)."""
    period, limit = comparison.call.args

    def value(text):
        return macro_number(macro(text, variant.contexts)) if MACRO.fullmatch(text) else float(text)
    horizon = macro_number(macro(comparison.operand, variant.contexts)) if MACRO.fullmatch(comparison.operand) \
        else seconds(comparison.operand)
    return f"predict_linear({series}[{duration(seconds(period))}], {number(horizon)}) >= {number(value(limit) * scale)}"


def _variant_expr(comparisons, variant, interval, alone):
    """One variant's PromQL: its comparisons with the trigger's joiners, in parentheses when
    `and` meets the `or` between variants."""
    text = " ".join(filter(None, (part for c in comparisons for part in (c.joiner, _promql(c, variant, interval)))))
    return text if alone or all(c.joiner != "and" for c in comparisons) else f"({text})"


def _interval(trigger):
    """The default interval of the cadence the trigger's items are collected at."""
    try:
        return registry.INTERVALS[registry.trigger_cadence(trigger)]
    except (KeyError, ValueError) as exc:     # an unknown item; items of two cadences
        raise ExpressionError(exc.args[0]) from None


def _keep_firing_for(trigger, comparisons, interval):
    """The recovery `max(/T/k,#n)<=M` of `last(/T/k)>M` (min, >= of <) as seconds to keep firing."""
    if not trigger.recovery:
        return 0
    negation = {">": ("max", "<="), "<": ("min", ">=")}
    recovery = parse(trigger.recovery)
    if len(comparisons) == 1 and len(recovery) == 1:
        (problem,), (over,) = comparisons, recovery
        if (problem.call.function == "last" and over.call.item == problem.call.item
                and over.operand == problem.operand and _count(over.call.args)
                and (over.call.function, over.operator) == negation.get(problem.operator)):
            return (_count(over.call.args) - 1) * interval
    raise ExpressionError(f"recovery {trigger.recovery!r} is not the expression false for the last n values")


def _text(text, variants):
    """Zabbix text with macros at their defaults and LLD macros as the series' labels. A macro
    whose default depends on an LLD macro is a template choosing by that label."""
    def default(match):
        values = [(v, macro(match[0], v.contexts).default) for v in variants]
        if len({value for _, value in values}) == 1:
            return values[0][1]
        branches = [f'if eq $labels.{label_of(lld)} "{label_value(c)}" }}}}{value}'
                    for v, value in values for lld, c in v.contexts.items()]
        return "{{ " + "{{ else ".join(branches) + "{{ else }}" + values[-1][1] + "{{ end }}"

    return LLD_MACRO.sub(lambda m: "{{ $labels.%s }}" % label_of(m[0]), MACRO.sub(default, text))


def alert_name(trigger):
    """SEPA batch {#BATCH}: failed entries -> SepaBatchFailedEntries."""
    return "".join(w.capitalize() for w in re.findall(r"[A-Za-z0-9]+", LLD_MACRO.sub("", trigger.name)))


def translate(trigger):
    """The alerting rule of one trigger."""
    if TREND_FUNCTIONS.search(trigger.expression):
        raise ZabbixOnly(f"trigger {trigger.name!r}: {_TRENDS}")
    try:
        comparisons = parse(trigger.expression)
        interval = _interval(trigger)
        keep = _keep_firing_for(trigger, comparisons, interval)
        variants = _variants(trigger)
        rule = {"alert": alert_name(trigger), "expr": " or ".join(
            _variant_expr(comparisons, v, interval, alone=len(variants) == 1) for v in variants)}
    except ExpressionError as exc:
        raise type(exc)(f"trigger {trigger.name!r}: {exc}") from None
    if keep:
        rule["keep_firing_for"] = duration(keep)
    rule["labels"] = {"severity": trigger.severity.lower()}
    description = _text(trigger.description, variants)
    nodata = [c for c in comparisons if c.call.function == "nodata"]
    if nodata:
        description += " " + NODATA_NOTE.format(period=_text(nodata[0].call.args[0], variants),
                                                family=DOCUMENT_FAMILY, lookback=duration(NODATA_LOOKBACK))
    rule["annotations"] = {"summary": _text(trigger.event_name or trigger.name, variants), "description": description}
    return rule


def group_triggers(group):
    """A group's triggers and trigger prototypes."""
    return list(group.triggers) + [t for d in group.discovery for t in d.triggers]


def rules():
    """The rule file's content: one rule group per metric group, in registry order."""
    groups = []
    for g in registry.groups():
        translated = [translate(t) for t in group_triggers(g) if t.name not in NOT_TRANSLATED]
        if translated:
            groups.append({"name": f"sepa_{g.name}", "rules": translated})
    return {"groups": groups}


def export():
    """The rule file (YAML) with a header saying what it is and what is not translated."""
    listed = "\n".join(textwrap.fill(f"- {name}: {why}", 96, initial_indent="# ", subsequent_indent="#   ",
                                     break_long_words=False, break_on_hyphens=False)
                       for name, why in NOT_TRANSLATED.items())
    return HEADER.format(not_translated=listed) + yaml.safe_dump(rules(), sort_keys=False, width=float("inf"),
                                                                   allow_unicode=True)
