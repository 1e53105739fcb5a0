"""Frappe Error Log: volume, categories and SEPA-related errors."""
from zabbix_sepa.registry import INT, Group, Metric, Section

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


def _contains_any(patterns, params):
    """SQL testing whether any pattern occurs in the lowered method or error.

    LOCATE, not LIKE: `_` in `direct_debit` must not be a wildcard. The
    patterns travel as parameters."""
    tests = []
    for p in patterns:
        name = f"p{len(params)}"
        params[name] = p.lower()
        tests.append(f"LOCATE(%({name})s, x.m) > 0 OR LOCATE(%({name})s, x.e) > 0")
    return "(" + " OR ".join(tests) + ")"


def _build():
    params = {}
    case = " ".join(f"WHEN {_contains_any(pats, params)} THEN '{cat}'" for cat, pats in CATEGORIES)
    sepa = _contains_any(SEPA_PATTERNS, params)
    sql = f"""
SELECT COALESCE(SUM(y.creation >= %(h1)s), 0), COUNT(*),
  {", ".join(f"COALESCE(SUM(y.cat = '{cat}'), 0)" for cat, _ in CATEGORIES)},
  COALESCE(SUM(y.sepa), 0)
FROM (
  SELECT x.creation, CASE {case} ELSE 'other' END AS cat, {sepa} AS sepa
  FROM (
    SELECT l.creation, LOWER(COALESCE(l.method, '')) AS m, LOWER(COALESCE(l.error, '')) AS e
    FROM `{ERROR_LOG}` l WHERE l.creation >= %(h24)s AND l.creation <= %(now)s
  ) x
) y
"""
    return sql, params


SQL, PATTERN_PARAMS = _build()


def collect(ctx):
    count_1h, count_24h, *rest = ctx.db.one(SQL, ctx.params(**PATTERN_PARAMS))
    per_cat, sepa = rest[:-1], rest[-1]
    out = {"sepa.error.count_1h": int(count_1h), "sepa.error.count_24h": int(count_24h),
           "sepa.error.sepa_24h": int(sepa)}
    for (cat, _), n in zip(CATEGORIES, per_cat):
        out[f"sepa.error.category_24h[{cat}]"] = int(n)
    out["sepa.error.category_24h[other]"] = int(count_24h) - sum(int(n) for n in per_cat)
    return out


def _category_metrics():
    out = [Metric(f"sepa.error.category_24h[{cat}]", f"Errors in 24h: {cat}", INT,
                  description=f"Error Log rows within 24h in category {cat} "
                              f"(matching {', '.join(pats)}).") for cat, pats in CATEGORIES]
    out.append(Metric("sepa.error.category_24h[other]", "Errors in 24h: other", INT,
                      description="Error Log rows within 24h in no other category."))
    return out


GROUP = Group(
    name="errors",
    title="Error log",
    sections=(
        Section("summary", collect, tables=(ERROR_LOG,), metrics=(
            Metric("sepa.error.count_1h", "Errors in 1h", INT,
                   description="Error Log rows created within the last hour."),
            Metric("sepa.error.count_24h", "Errors in 24h", INT,
                   description="Error Log rows created within the last 24 hours."),
            *_category_metrics(),
            Metric("sepa.error.sepa_24h", "SEPA errors in 24h", INT,
                   description="Error Log rows within 24h mentioning sepa, direct debit or mandate."),
        )),
    ),
)
