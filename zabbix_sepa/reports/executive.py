"""Executive summary: the KPIs of the period against the period before, and alert statistics.

Period KPIs are computed for both windows by the same statements (batches grouped by date,
entries and invoices of those batches grouped by window). Point-in-time KPIs (outstanding,
overdue, active members and mandates) exist only as of N: the database keeps no history of
them, so their previous value is n/a, not a guess.
"""
from zabbix_sepa.groups.batches import FAILED, FINISHED
from zabbix_sepa.reports.model import (AMOUNT, HOURS, INT, NUM, PCT, Chart, Column, Table, bucket_of, buckets, change,
                                       collation_key, direction, percent)

TITLE = "SEPA executive summary"

BATCH = "tabDirect Debit Batch"
ENTRY = "tabDirect Debit Batch Invoice"
INVOICE = "tabSales Invoice"
MEMBER = "tabMember"
MANDATE = "tabSEPA Mandate"

LIVE = "b.docstatus <> 2 AND b.creation <= %(now)s"

# One row per batch date and status over both windows (a few hundred rows at most).
BATCH_DAYS_SQL = f"""
SELECT b.batch_date, b.status, COUNT(*), COALESCE(SUM(b.total_amount), 0)
FROM `{BATCH}` b
WHERE {LIVE} AND b.batch_date >= %(p_first)s AND b.batch_date <= %(D)s
GROUP BY b.batch_date, b.status
"""

# The batches of both windows, tagged with their window (1 current, 0 previous).
_WINDOW_BATCHES = f"""
  SELECT b.name, b.batch_date >= %(first)s AS w FROM `{BATCH}` b
  WHERE {LIVE} AND b.batch_date >= %(p_first)s AND b.batch_date <= %(D)s
"""

ENTRIES_SQL = f"""
SELECT x.w, COUNT(*), COALESCE(SUM(e.status = 'Failed'), 0)
FROM ({_WINDOW_BATCHES}) x JOIN `{ENTRY}` e ON e.parent = x.name
WHERE e.creation <= %(now)s
GROUP BY x.w
"""

# As sepa.collection.rate_30d: the distinct submitted invoices the window's batches collect.
COLLECTION_SQL = f"""
SELECT STRAIGHT_JOIN x.w, SUM(s.grand_total - s.outstanding_amount), SUM(s.grand_total)
FROM (
  SELECT DISTINCT wb.w, e.invoice
  FROM ({_WINDOW_BATCHES}) wb JOIN `{ENTRY}` e ON e.parent = wb.name
  WHERE e.creation <= %(now)s
) x JOIN `{INVOICE}` s ON s.name = x.invoice
WHERE s.docstatus = 1 AND s.creation <= %(now)s
GROUP BY x.w
"""

# Members and mandates created (creation is indexed) and mandates cancelled, per window.
GROWTH_SQL = f"""
SELECT
  (SELECT COUNT(*) FROM `{MEMBER}` p WHERE p.creation >= %(since)s AND p.creation <= %(now)s),
  (SELECT COUNT(*) FROM `{MEMBER}` p WHERE p.creation >= %(p_since)s AND p.creation <= %(p_until)s),
  (SELECT COUNT(*) FROM `{MANDATE}` m WHERE m.creation >= %(since)s AND m.creation <= %(now)s),
  (SELECT COUNT(*) FROM `{MANDATE}` m WHERE m.creation >= %(p_since)s AND m.creation <= %(p_until)s),
  (SELECT COUNT(*) FROM `{MANDATE}` m WHERE m.creation <= %(now)s
     AND m.cancelled_date >= %(first)s AND m.cancelled_date <= %(D)s),
  (SELECT COUNT(*) FROM `{MANDATE}` m WHERE m.creation <= %(now)s
     AND m.cancelled_date >= %(p_first)s AND m.cancelled_date <= %(p_last)s)
"""


def _is(status, names):
    return collation_key(status) in {collation_key(n) for n in names}


def batch_kpis(rows, first):
    """{window: {...}} and the per-day series of the current window from BATCH_DAYS_SQL rows."""
    out = {w: {"batches": 0, "processed": 0, "finished": 0, "failed": 0, "collected": 0.0} for w in (0, 1)}
    per_day = {}
    for day, status, n, amount in rows:
        w = int(day >= first)
        k = out[w]
        n, amount = int(n), float(amount)
        k["batches"] += n
        if _is(status, ("Processed",)):
            k["processed"] += n
            k["collected"] += amount
        if _is(status, FINISHED):
            k["finished"] += n
        if _is(status, FAILED):
            k["failed"] += n
        if w:
            d = per_day.setdefault(day, {"batches": 0, "collected": 0.0, "failed": 0})
            d["batches"] += n
            d["failed"] += n if _is(status, FAILED) else 0
            d["collected"] += amount if _is(status, ("Processed",)) else 0.0
    return out, per_day


def build(ctx, report):
    params = ctx.params()
    ctx.progress("batches")
    kpi, per_day = batch_kpis(ctx.db.rows(BATCH_DAYS_SQL, params), ctx.current.first)
    ctx.progress("batch entries")
    entries = {int(w): (int(n), int(failed)) for w, n, failed in ctx.db.rows(ENTRIES_SQL, params)}
    ctx.progress("collection rate")
    collection = {int(w): (float(paid or 0), float(gross or 0))
                  for w, paid, gross in ctx.db.rows(COLLECTION_SQL, params)}
    ctx.progress("members and mandates")
    members_now, members_before, mandates_now, mandates_before, cancelled_now, cancelled_before = \
        (int(v) for v in ctx.db.one(GROWTH_SQL, params))

    def rate(w):
        paid, gross = collection.get(w, (0.0, 0.0))
        return percent(paid, gross, 100.0)

    def period(label, current, previous):
        diff, rel = change(current, previous)
        return {"kpi": label, "current": current, "previous": previous, "change": diff,
                "change_pct": rel, "trend": direction(current, previous)}

    rows = [
        period("Collected by direct debit (EUR)", round(kpi[1]["collected"], 2), round(kpi[0]["collected"], 2)),
        period("Batch success rate (%)", percent(kpi[1]["processed"], kpi[1]["finished"], 100.0),
               percent(kpi[0]["processed"], kpi[0]["finished"], 100.0)),
        period("Collection rate (%)", rate(1), rate(0)),
        period("Batches", kpi[1]["batches"], kpi[0]["batches"]),
        period("Failed batches", kpi[1]["failed"], kpi[0]["failed"]),
        period("Batch entries", entries.get(1, (0, 0))[0], entries.get(0, (0, 0))[0]),
        period("Failed batch entries", entries.get(1, (0, 0))[1], entries.get(0, (0, 0))[1]),
        period("New members", members_now, members_before),
        period("New mandates", mandates_now, mandates_before),
        period("Cancelled mandates", cancelled_now, cancelled_before),
    ]
    notes = report.notes
    for label, key in (("Outstanding (EUR)", "sepa.invoice.outstanding.amount"),
                       ("Overdue (EUR)", "sepa.invoice.overdue.amount"),
                       ("Overdue invoices", "sepa.invoice.overdue.count"),
                       ("Active members", "sepa.member.active"),
                       ("Active mandates", "sepa.mandate.status[active]"),
                       ("Pending batches", "sepa.batch.pending.count")):
        rows.append(period(label, ctx.metric(key, notes), None))
    report.tables.append(Table(
        "kpis", "Key figures", (Column("kpi", "KPI"), Column("current", "This period", NUM),
                                Column("previous", "Previous period", NUM), Column("change", "Change", NUM),
                                Column("change_pct", "Change %", PCT), Column("trend", "Trend")),
        rows, note=f"This period: {ctx.current.first} .. {ctx.today} (batch dates) and "
                   f"{ctx.current.since:%Y-%m-%d %H:%M} .. {ctx.now:%Y-%m-%d %H:%M} (creation times); the "
                   f"previous period is as long and ends just before it. Rates of the previous period are "
                   f"as paid by now. Outstanding, overdue and active counts exist as of now only."))

    periods = {name: {"period": name, "batches": 0, "collected": 0.0, "failed": 0}
               for name in buckets(ctx.current.first, ctx.today, ctx.days)}
    for day, v in per_day.items():
        p = periods[bucket_of(day, ctx.days)]
        p["batches"] += v["batches"]
        p["failed"] += v["failed"]
        p["collected"] += v["collected"]
    report.tables.append(Table(
        "collected", "Collected per period", (
            Column("period", "Period"), Column("collected", "Collected (EUR)", AMOUNT),
            Column("batches", "Batches", INT), Column("failed", "Failed batches", INT)),
        [{**p, "collected": round(p["collected"], 2)} for p in periods.values()],
        chart=Chart("bar", "period", ("collected",)),
        note="Processed batches by batch date; days, ISO weeks or months by the length of the period."))

    if ctx.alerts is not None:
        report.tables.append(alerts_table(ctx.alerts))
    else:
        notes.append("Alert statistics: zabbix.api is not configured, so Zabbix was not asked.")


SEVERITIES = ("Disaster", "High", "Average", "Warning", "Information", "Not classified")


def alerts_table(stats):
    """Problems by severity from `zabbix.alerts.statistics` (or its error)."""
    if "error" in stats:
        return Table("alerts", "Alerts (Zabbix)", (Column("severity", "Severity"),), [],
                     note=f"Zabbix could not be asked: {stats['error']}")
    rows = []
    for sev in SEVERITIES:
        s = stats["by_severity"].get(sev)
        if s:
            rows.append({"severity": sev, "problems": s["problems"], "resolved": s["resolved"],
                         "open": s["problems"] - s["resolved"],
                         "mttr_hours": None if s["mttr_seconds"] is None else round(s["mttr_seconds"] / 3600, 2)})
    total = stats["total"]
    rows.append({"severity": "All", "problems": total["problems"], "resolved": total["resolved"],
                 "open": total["problems"] - total["resolved"],
                 "mttr_hours": None if total["mttr_seconds"] is None else round(total["mttr_seconds"] / 3600, 2)})
    return Table("alerts", "Alerts (Zabbix)", (
        Column("severity", "Severity"), Column("problems", "Problems", INT), Column("resolved", "Resolved", INT),
        Column("open", "Still open", INT), Column("mttr_hours", "Mean time to resolve (h)", HOURS)),
        rows, note=f"Problems that began in the period on host {stats['host']}; mean time to resolve over "
                   f"the resolved ones.")
