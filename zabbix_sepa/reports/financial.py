"""Financial report: invoiced against paid and collected per period, receivables by age, retries.

Invoices and batches are grouped by date in SQL (one row per date of the window); the rows
are then put into days, ISO weeks or months, whichever keeps the chart readable. The
ageing is of outstanding submitted invoices as of N: days past due_date.
"""
from zabbix_sepa.reports.model import AMOUNT, INT, PCT, Chart, Column, Table, bucket_of, buckets, label, percent

TITLE = "SEPA financial report"

INVOICE = "tabSales Invoice"
BATCH = "tabDirect Debit Batch"
RETRY = "tabSEPA Payment Retry"

INVOICED_SQL = f"""
SELECT s.posting_date, COUNT(*), COALESCE(SUM(s.grand_total), 0),
       COALESCE(SUM(s.grand_total - s.outstanding_amount), 0)
FROM `{INVOICE}` s
WHERE s.docstatus = 1 AND s.creation <= %(now)s AND s.posting_date >= %(first)s AND s.posting_date <= %(D)s
GROUP BY s.posting_date
"""

COLLECTED_SQL = f"""
SELECT b.batch_date, COALESCE(SUM(b.total_amount), 0)
FROM `{BATCH}` b
WHERE b.docstatus <> 2 AND b.creation <= %(now)s AND b.status = 'Processed'
  AND b.batch_date >= %(first)s AND b.batch_date <= %(D)s
GROUP BY b.batch_date
"""

# Overdue means due_date < D (metrics.md); 1-30 days past due is the first bucket.
AGEING = ("not overdue", "1-30 days", "31-60 days", "61-90 days", "over 90 days")
AGEING_SQL = f"""
SELECT CASE WHEN s.due_date IS NULL OR s.due_date >= %(D)s THEN 0
            WHEN DATEDIFF(%(D)s, s.due_date) <= 30 THEN 1
            WHEN DATEDIFF(%(D)s, s.due_date) <= 60 THEN 2
            WHEN DATEDIFF(%(D)s, s.due_date) <= 90 THEN 3 ELSE 4 END AS bucket,
       COUNT(*), COALESCE(SUM(s.outstanding_amount), 0)
FROM `{INVOICE}` s
WHERE s.docstatus = 1 AND s.creation <= %(now)s AND s.outstanding_amount > 0
GROUP BY bucket
"""

RETRIES_SQL = f"""
SELECT r.status, COUNT(*), COALESCE(SUM(r.retry_count), 0)
FROM `{RETRY}` r WHERE r.creation <= %(now)s
GROUP BY r.status ORDER BY 2 DESC, 1
"""


def build(ctx, report):
    params = ctx.params()
    ctx.progress("invoices of the period")
    periods = {name: {"period": name, "invoices": 0, "invoiced": 0.0, "paid": 0.0, "collected": 0.0}
               for name in buckets(ctx.current.first, ctx.today, ctx.days)}
    for day, n, gross, paid in ctx.db.rows(INVOICED_SQL, params):
        p = periods[bucket_of(day, ctx.days)]
        p["invoices"] += int(n)
        p["invoiced"] += float(gross)
        p["paid"] += float(paid)
    ctx.progress("batches of the period")
    for day, amount in ctx.db.rows(COLLECTED_SQL, params):
        periods[bucket_of(day, ctx.days)]["collected"] += float(amount)
    rows = []
    for p in periods.values():
        rows.append({**p, "invoiced": round(p["invoiced"], 2), "paid": round(p["paid"], 2),
                     "collected": round(p["collected"], 2), "collection_rate": percent(p["paid"], p["invoiced"], None)})
    total = {k: sum(r[k] for r in rows) for k in ("invoices", "invoiced", "paid", "collected")}
    total = {"period": "total", **{k: round(v, 2) for k, v in total.items()},
             "collection_rate": percent(total["paid"], total["invoiced"], None)}
    report.tables.append(Table("periods", "Invoiced, paid and collected", (
        Column("period", "Period"), Column("invoices", "Invoices", INT), Column("invoiced", "Invoiced (EUR)", AMOUNT),
        Column("paid", "Paid so far (EUR)", AMOUNT), Column("collection_rate", "Paid %", PCT),
        Column("collected", "Collected by direct debit (EUR)", AMOUNT)),
        rows, total=total, chart=Chart("bar", "period", ("invoiced", "paid", "collected")),
        note="Invoiced: submitted sales invoices by posting date; paid so far: their grand total less what "
             "is still outstanding; collected by direct debit: processed batches by batch date."))

    ctx.progress("receivables")
    ageing = {i: (0, 0.0) for i in range(len(AGEING))}
    for bucket, n, amount in ctx.db.rows(AGEING_SQL, params):
        ageing[int(bucket)] = (int(n), float(amount))
    age_rows = [{"age": AGEING[i], "invoices": n, "outstanding": round(a, 2)} for i, (n, a) in ageing.items()]
    age_total = {"age": "total", "invoices": sum(n for n, _ in ageing.values()),
                 "outstanding": round(sum(a for _, a in ageing.values()), 2)}
    report.tables.append(Table("ageing", "Outstanding by days past due", (
        Column("age", "Past due"), Column("invoices", "Invoices", INT),
        Column("outstanding", "Outstanding (EUR)", AMOUNT)),
        age_rows, total=age_total,
        note=f"Submitted invoices with an outstanding amount as of {ctx.now:%Y-%m-%d %H:%M}; "
             f"overdue means due before {ctx.today}."))

    ctx.progress("payment retries")
    present, _, _ = ctx.db.inspect((RETRY,))
    retry_cols = (Column("status", "Status"), Column("retries", "Retries", INT),
                  Column("attempts", "Attempts so far", INT))
    if RETRY in present:
        rows = [{"status": label(status), "retries": int(n), "attempts": int(attempts)}
                for status, n, attempts in ctx.db.rows(RETRIES_SQL, params)]
        report.tables.append(Table("retries", "Payment retries by status", retry_cols, rows))
    else:
        report.tables.append(Table("retries", "Payment retries by status", retry_cols, [],
                                   note=f"The optional table `{RETRY}` does not exist on this site."))
