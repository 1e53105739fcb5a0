"""Operational report: the days of the period, the batches by status, and every batch.

One statement: the period's batches (batch_date in the window) with their entries counted
through the child `parent` index. Batch names, dates, types and statuses are the app's
own codes; descriptions (free text that may name a person) are never read.
"""
import datetime as dt

from zabbix_sepa.reports.model import AMOUNT, DATE, HOURS, INT, Chart, Column, Table, collation_key, label

TITLE = "SEPA operational report"

BATCH = "tabDirect Debit Batch"
ENTRY = "tabDirect Debit Batch Invoice"

BATCHES_SQL = f"""
SELECT b.name, b.batch_date, b.batch_type, b.status, b.total_amount, b.creation,
       COUNT(e.name), COALESCE(SUM(e.status = 'Failed'), 0)
FROM `{BATCH}` b LEFT JOIN `{ENTRY}` e ON e.parent = b.name AND e.creation <= %(now)s
WHERE b.docstatus <> 2 AND b.creation <= %(now)s AND b.batch_date >= %(first)s AND b.batch_date <= %(D)s
GROUP BY b.name, b.batch_date, b.batch_type, b.status, b.total_amount, b.creation
ORDER BY b.batch_date DESC, b.name DESC
"""


def build(ctx, report):
    ctx.progress("batches of the period")
    batches = []
    for name, day, kind, status, amount, created, entries, failed in ctx.db.rows(BATCHES_SQL, ctx.params()):
        batches.append({"batch": name, "batch_date": day.isoformat() if day else None, "type": label(kind),
                        "status": label(status), "entries": int(entries), "amount": float(amount or 0),
                        "failed_entries": int(failed),
                        "age_hours": round((ctx.now - created).total_seconds() / 3600, 1)})
    per_day = {}
    for b in batches:
        d = per_day.setdefault(b["batch_date"], {"batches": 0, "entries": 0, "failed_entries": 0, "amount": 0.0})
        d["batches"] += 1
        d["entries"] += b["entries"]
        d["failed_entries"] += b["failed_entries"]
        d["amount"] += b["amount"]
    days, day = [], ctx.current.first
    while day <= ctx.today:
        v = per_day.get(day.isoformat(), {"batches": 0, "entries": 0, "failed_entries": 0, "amount": 0.0})
        days.append({"day": day.isoformat(), **v, "amount": round(v["amount"], 2)})
        day += dt.timedelta(days=1)
    report.tables.append(Table("days", "Per day", (
        Column("day", "Day", DATE), Column("batches", "Batches", INT), Column("entries", "Entries", INT),
        Column("failed_entries", "Failed entries", INT), Column("amount", "Amount (EUR)", AMOUNT)),
        days, chart=Chart("bar", "day", ("entries", "failed_entries"))))

    statuses = {}
    for b in batches:
        s = statuses.setdefault(collation_key(b["status"]), {"status": b["status"], "batches": 0, "amount": 0.0})
        s["batches"] += 1
        s["amount"] += b["amount"]
    report.tables.append(Table("statuses", "Batches by status", (
        Column("status", "Status"), Column("batches", "Batches", INT), Column("amount", "Amount (EUR)", AMOUNT)),
        sorted(({**s, "amount": round(s["amount"], 2)} for s in statuses.values()),
               key=lambda s: (-s["batches"], s["status"]))))
    report.tables.append(Table("batches", "Batches", (
        Column("batch", "Batch"), Column("batch_date", "Date", DATE), Column("type", "Type"),
        Column("status", "Status"), Column("entries", "Entries", INT), Column("amount", "Amount (EUR)", AMOUNT),
        Column("failed_entries", "Failed entries", INT), Column("age_hours", "Age (h)", HOURS)),
        batches, note=f"Batches dated {ctx.current.first} .. {ctx.today}, newest first (documents cancelled "
                      f"in Frappe, docstatus 2, left out)."))
