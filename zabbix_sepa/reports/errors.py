"""`zabbix-sepa errors`: what the Error Log says over the last N days.

Per day and category (the categories of metrics.md, by the same SQL rules as the
collector), the methods that fail most (hotspots) with their share, and a trend per
category: the least-squares slope of the daily counts, called rising or falling when over
the period it moves by at least a fifth of the daily mean (and by one error a day at
least), else flat. Two aggregate statements; no row leaves the database.
"""
import datetime as dt

from zabbix_sepa.groups.errors import CATEGORIES, ERROR_LOG, category_case

NAMES = [cat for cat, _ in CATEGORIES] + ["other"]
TOP = 10


def _daily_sql():
    params = {}
    sql = f"""
SELECT DATE(x.creation) AS day, {category_case(params)} AS cat, COUNT(*)
FROM (
  SELECT l.creation, CONCAT_WS(CHAR(10), l.method, l.error) AS t
  FROM `{ERROR_LOG}` l WHERE l.creation >= %(since)s AND l.creation <= %(now)s
) x
GROUP BY 1, 2
"""
    return sql, params


DAILY_SQL, DAILY_PARAMS = _daily_sql()
# Frappe's `method` column is usually a dotted code path, but log_error() titles are free
# text and may name a person: only code paths are shown, the rest is counted as one line.
CODE_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
HOTSPOTS_SQL = f"""
SELECT CASE WHEN l.method IS NULL OR l.method = '' THEN '(no method)'
            WHEN l.method REGEXP %(code_path)s THEN l.method
            ELSE '(free-text title, not shown)' END AS method, COUNT(*)
FROM `{ERROR_LOG}` l WHERE l.creation >= %(since)s AND l.creation <= %(now)s
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP}
"""


def slope(values):
    """Least-squares slope of values over x = 0..n-1 (per step); 0 for fewer than two."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    sxx = sum((x - mean_x) ** 2 for x in range(n))
    return sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values)) / sxx


def trend(values):
    s = slope(values)
    mean = sum(values) / len(values) if values else 0.0
    moved = s * max(len(values) - 1, 1)
    if abs(moved) >= max(0.2 * mean, 1.0):
        return "rising" if s > 0 else "falling"
    return "flat"


def analyse(db, now, days):
    """The analytics of the `days` calendar days ending with N's day (today included)."""
    first = now.date() - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first, dt.time())
    params = {"since": since, "now": now}
    per_day = {first + dt.timedelta(days=i): {c: 0 for c in NAMES} for i in range(days)}
    for day, cat, n in db.rows(DAILY_SQL, dict(params, **DAILY_PARAMS)):
        per_day[day][cat] += int(n)
    total = sum(sum(c.values()) for c in per_day.values())
    hotspots = [{"method": method, "count": int(n), "share": round(100.0 * int(n) / total, 1) if total else 0.0}
                for method, n in db.rows(HOTSPOTS_SQL, dict(params, code_path=CODE_PATH))]
    trends = {}
    for cat in NAMES:
        series = [per_day[d][cat] for d in sorted(per_day)]
        trends[cat] = {"total": sum(series), "slope_per_day": round(slope(series), 3), "trend": trend(series)}
    return {"days": days, "from": first.isoformat(), "to": now.date().isoformat(), "total": total,
            "per_day": [{"day": d.isoformat(), **per_day[d]} for d in sorted(per_day)],
            "hotspots": hotspots, "trends": trends}


def table(result):
    """A plain-text rendering for the terminal."""
    out = [f"Error Log {result['from']} .. {result['to']}: {result['total']} errors", "",
           "day         " + " ".join(f"{c:>11}" for c in NAMES)]
    for row in result["per_day"]:
        out.append(f"{row['day']}  " + " ".join(f"{row[c]:>11}" for c in NAMES))
    out += ["", "trend       " + " ".join(f"{result['trends'][c]['trend']:>11}" for c in NAMES),
            "slope/day   " + " ".join(f"{result['trends'][c]['slope_per_day']:>11}" for c in NAMES),
            "", "top methods:"]
    for h in result["hotspots"]:
        out.append(f"  {h['count']:>7}  {h['share']:>5}%  {h['method']}")
    return "\n".join(out) + "\n"
