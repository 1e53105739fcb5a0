"""Frappe Error Log: volume, categories and SEPA-related errors."""
import re

from zabbix_sepa.groups.base import (ANOMALY_DAYS, ANOMALY_MAX_DEVIATIONS, DISASTER, HOUR, INFO, INT, WARNING, Group,
                                     Macro, Metric, Order, Section, Threshold, Trigger, above, unusual)

ERROR_LOG = "tabError Log"

# metrics.md: the first category, in this order, with a pattern found
# case-insensitively in method or error wins; else "other".
CATEGORIES = (
    ("permission", ("PermissionError", "Not permitted", "Insufficient Permission")),
    ("validation", ("ValidationError", "MandatoryError", "LinkValidationError")),
    ("database", ("OperationalError", "ProgrammingError", "IntegrityError", "InterfaceError",
                  "Deadlock", "Lock wait timeout")),
    ("timeout", ("TimeoutError", "JobTimeoutException", "timed out")),
    ("integration", ("ConnectionError", "HTTPError", "requests.exceptions", "SMTPException",
                     "Connection refused")),
)
SEPA_PATTERNS = ("sepa", "direct debit", "direct_debit", "mandate")

PER_HOUR_MAX = Threshold("error_rate_per_hour", 50, 0, 1e9)
PER_DAY_MAX = Threshold("errors_per_day_max", 500, 0, 1e9)


def _matches_any(patterns, params):
    """SQL testing whether any pattern occurs, case-insensitively, in x.t.

    One PCRE per rule (`(?i)a|b|c`, the literals escaped), travelling as a
    parameter: a regular expression scans the text once where a LOCATE per
    pattern scans it once per pattern, and `_` or `.` stay literal."""
    name = f"p{len(params)}"
    params[name] = "(?i)" + "|".join(re.escape(p) for p in patterns)
    return f"x.t REGEXP %({name})s"


def category_case(params):
    """SQL naming the metrics.md category of x.t (the first rule that matches, else 'other');
    shared with the error analytics so that both apply the same rules."""
    return "CASE " + " ".join(f"WHEN {_matches_any(pats, params)} THEN '{cat}'" for cat, pats in CATEGORIES) + \
        " ELSE 'other' END"


# Minute: how many rows in the last 24 h and hour, through the `creation` index alone. The
# rows' text (tracebacks) is not read: that is what costs (a large site logs ~50k a day).
COUNTS_SQL = f"""
SELECT COUNT(*), COALESCE(SUM(l.creation >= %(h1)s), 0)
FROM `{ERROR_LOG}` l WHERE l.creation >= %(h24)s AND l.creation <= %(now)s
"""


def _classes_sql():
    """Hour: the rows of the last 24 h grouped by (category, SEPA-related), reading their
    text. x.t is method and error joined by a newline; no pattern holds a newline, so a
    match in x.t is a match in one of the two columns. Grouping by the CASE evaluates the
    rules once per row (a SUM per category over a derived column would evaluate them once
    per SUM)."""
    params = {}
    case = category_case(params)
    sepa = _matches_any(SEPA_PATTERNS, params)
    sql = f"""
SELECT {case} AS cat, {sepa} AS sepa, COUNT(*)
FROM (
  SELECT CONCAT_WS(CHAR(10), l.method, l.error) AS t
  FROM `{ERROR_LOG}` l WHERE l.creation >= %(h24)s AND l.creation <= %(now)s
) x
GROUP BY 1, 2
"""
    return sql, params


CLASSES_SQL, CLASSES_PARAMS = _classes_sql()


def counts(ctx):
    total, count_1h = ctx.db.one(COUNTS_SQL, ctx.params())
    return {"sepa.error.count_1h": int(count_1h), "sepa.error.count_24h": int(total)}


def classes(ctx):
    per_cat = {cat: 0 for cat, _ in CATEGORIES}
    per_cat["other"] = 0
    sepa = 0
    for cat, is_sepa, n in ctx.db.rows(CLASSES_SQL, ctx.params(**CLASSES_PARAMS)):
        per_cat[cat] += int(n)
        sepa += int(n) if is_sepa else 0
    out = {f"sepa.error.category_24h[{cat}]": n for cat, n in per_cat.items()}
    out["sepa.error.sepa_24h"] = sepa
    return out


def _category_metrics():
    out = [Metric(f"sepa.error.category_24h[{cat}]", f"Errors in 24h: {cat}", INT,
                  description=f"Error Log rows within 24h in category {cat} "
                              f"(matching {', '.join(pats)}).",
                  prometheus="sepa_error_category_24h", label="category") for cat, pats in CATEGORIES]
    out.append(Metric("sepa.error.category_24h[other]", "Errors in 24h: other", INT,
                      description="Error Log rows within 24h in no other category.",
                      prometheus="sepa_error_category_24h", label="category"))
    return out


GROUP = Group(
    name="errors",
    title="Error log",
    sections=(
        Section("summary", counts, tables=(ERROR_LOG,), metrics=(
            Metric("sepa.error.count_1h", "Errors in 1h", INT,
                   description="Error Log rows created within the last hour.",
                   prometheus="sepa_error_count_1h", overview="Errors 1h", graph=("SEPA: errors", "left"),
                   fleet=True),
            Metric("sepa.error.count_24h", "Errors in 24h", INT,
                   description="Error Log rows created within the last 24 hours.",
                   prometheus="sepa_error_count_24h"),
        )),
        Section("classes", classes, cadence=HOUR, tables=(ERROR_LOG,), metrics=(
            *_category_metrics(),
            Metric("sepa.error.sepa_24h", "SEPA errors in 24h", INT,
                   description="Error Log rows within 24h mentioning sepa, direct debit or mandate.",
                   prometheus="sepa_error_sepa_24h", overview="SEPA errors 24h", graph=("SEPA: errors", "left")),
        )),
    ),
    macros=(
        Macro("{$SEPA.ERROR.RATE.MAX}", PER_HOUR_MAX,
              "Error Log rows per hour above which a problem is raised (seed: 50/hour is critical)."),
        Macro("{$SEPA.ERROR.DAY.MAX}", PER_DAY_MAX,
              "Error Log rows per 24 hours that the forecast trigger warns about."),
        Macro("{$SEPA.ERROR.SEPA.MAX}", Threshold("sepa_errors_max", 0, 0, 1e9),
              "SEPA-related Error Log rows in 24 hours above which a problem is raised."),
        Macro("{$SEPA.ERROR.ANOMALY.MAX}", Threshold("error_anomaly_deviations", 3, 1, ANOMALY_MAX_DEVIATIONS),
              f"Standard deviations from the same hour on the {ANOMALY_DAYS} days before above which an "
              "hour's error count is unusual (lower: more sensitive)."),
    ),
    triggers=(
        above("SEPA: error rate high", "sepa.error.count_1h", "{$SEPA.ERROR.RATE.MAX}", DISASTER,
              "The site logs more errors per hour than the threshold (an error storm: the DevOps "
              "proposal's critical alert). Look at the error categories and the Error Log for the "
              "dominating method.",
              event_name="SEPA: more than {$SEPA.ERROR.RATE.MAX} errors in the last hour",
              opdata="Errors in 1h: {ITEM.LASTVALUE1}",
              scope="performance"),
        Trigger("SEPA: errors forecast to exceed the daily maximum",
                "forecast(/T/sepa.error.count_24h,6h,1d)>{$SEPA.ERROR.DAY.MAX}", INFO,
                "Extrapolating the last 6 hours, errors per 24 hours will pass the threshold within a "
                "day. Look for a growing category before it turns into an outage.",
                event_name="SEPA: errors forecast above {$SEPA.ERROR.DAY.MAX} per day within 24h",
                scope="performance"),
        above("SEPA: SEPA-related errors", "sepa.error.sepa_24h", "{$SEPA.ERROR.SEPA.MAX}", WARNING,
              "Errors mentioning SEPA, direct debit or mandates were logged within 24 hours. Read "
              "them in the Error Log: they often mean a batch or mandate operation failed.",
              event_name="SEPA: SEPA-related errors in 24h (more than {$SEPA.ERROR.SEPA.MAX})",
              opdata="SEPA errors in 24h: {ITEM.LASTVALUE1}"),
        unusual("SEPA: unusual error rate", "sepa.error.count_1h", "{$SEPA.ERROR.ANOMALY.MAX}", WARNING,
                f"The last hour's error count is far above what the same hour brought on the {ANOMALY_DAYS} "
                "days before (from trends), and errors are still above that level: something changed, "
                "even if it is below the error-rate maximum. Needs two weeks of history to judge.",
                event_name="SEPA: unusual error rate (more than {$SEPA.ERROR.ANOMALY.MAX} deviations above "
                           "the same hour before)",
                opdata="Errors in 1h: {ITEM.LASTVALUE1}"),
    ),
    orders=(
        Order(PER_HOUR_MAX, PER_DAY_MAX, "an hour's errors are part of its day's: more allowed in one hour "
              "than in the whole day contradicts the daily maximum"),
    ),
)
