"""Sales invoices, collection rate and payment retries."""
from zabbix_sepa.groups.base import (ANOMALY_DAYS, ANOMALY_MAX_DEVIATIONS, AVERAGE, FLOAT, HOUR, INFO, INT, WARNING,
                                     Group, Macro, Metric, Section, Threshold, Trigger, above, below, unusual)

INVOICE = "tabSales Invoice"
BATCH = "tabDirect Debit Batch"
ENTRY = "tabDirect Debit Batch Invoice"
RETRY = "tabSEPA Payment Retry"

# The paid share starts from the batches dated within 30 days (few; a stock
# site has no index on batch_date, but the batch table is small), their
# entries by `parent`, DISTINCT so that an invoice in two batches counts once,
# then the invoices by primary key. STRAIGHT_JOIN keeps that order: left to
# itself MariaDB scans every invoice and probes the entry list for each.
INVOICES_SQL = f"""
SELECT i.*, c.collected, c.invoiced
FROM (
  SELECT COALESCE(SUM(CASE WHEN s.outstanding_amount > 0 THEN s.outstanding_amount END), 0),
    COALESCE(SUM(s.outstanding_amount > 0 AND s.due_date < %(D)s), 0),
    COALESCE(SUM(CASE WHEN s.outstanding_amount > 0 AND s.due_date < %(D)s
                      THEN s.outstanding_amount END), 0),
    COALESCE(SUM(s.creation >= %(h24)s), 0),
    MAX(s.creation)
  FROM `{INVOICE}` s WHERE s.docstatus = 1 AND s.creation <= %(now)s
) i CROSS JOIN (
  SELECT STRAIGHT_JOIN SUM(s.grand_total - s.outstanding_amount) AS collected, SUM(s.grand_total) AS invoiced
  FROM (
    SELECT DISTINCT e.invoice
    FROM `{BATCH}` b JOIN `{ENTRY}` e ON e.parent = b.name
    WHERE b.docstatus <> 2 AND b.creation <= %(now)s
      AND b.batch_date >= %(D30)s AND b.batch_date <= %(D)s AND e.creation <= %(now)s
  ) x JOIN `{INVOICE}` s ON s.name = x.invoice
  WHERE s.docstatus = 1 AND s.creation <= %(now)s
) c
"""


def invoices(ctx):
    outstanding, overdue_n, overdue_amount, created_24h, newest, collected, invoiced = \
        ctx.db.one(INVOICES_SQL, ctx.params())
    return {
        "sepa.invoice.outstanding.amount": float(outstanding),
        "sepa.invoice.overdue.count": int(overdue_n),
        "sepa.invoice.overdue.amount": float(overdue_amount),
        "sepa.invoice.created_24h": int(created_24h),
        "sepa.invoice.last_age": ctx.age(newest) if newest else -1,
        # 100 when nothing was invoiced: no collection can have failed.
        "sepa.collection.rate_30d": round(100.0 * float(collected) / float(invoiced), 2)
        if invoiced else 100.0,
    }


RETRY_SQL = f"""
SELECT COALESCE(SUM(r.status IN ('Pending', 'Scheduled')), 0), COALESCE(SUM(r.status = 'Escalated'), 0)
FROM `{RETRY}` r WHERE r.creation <= %(now)s
"""


def retries(ctx):
    pending, escalated = ctx.db.one(RETRY_SQL, ctx.params())
    return {"sepa.retry.pending": int(pending), "sepa.retry.escalated": int(escalated)}


GROUP = Group(
    name="finance",
    title="Invoices and collection",
    sections=(
        Section("invoices", invoices, cadence=HOUR, tables=(INVOICE, BATCH, ENTRY), metrics=(
            Metric("sepa.invoice.outstanding.amount", "Outstanding amount", FLOAT, "EUR",
                   description="Sum of outstanding_amount of submitted Sales Invoices.",
                   prometheus="sepa_invoice_outstanding_amount_eur",
                   overview="Outstanding", graph=("SEPA: amounts", "left"), fleet=True),
            Metric("sepa.invoice.overdue.count", "Overdue invoices", INT,
                   description="Submitted Sales Invoices with an outstanding amount past their due date.",
                   prometheus="sepa_invoice_overdue"),
            Metric("sepa.invoice.overdue.amount", "Overdue amount", FLOAT, "EUR",
                   description="Outstanding amount of overdue submitted Sales Invoices.",
                   prometheus="sepa_invoice_overdue_amount_eur",
                   overview="Overdue", graph=("SEPA: amounts", "left")),
            Metric("sepa.invoice.created_24h", "Invoices created in 24h", INT,
                   description="Submitted Sales Invoices created within the last 24 hours.",
                   prometheus="sepa_invoice_created_24h"),
            Metric("sepa.invoice.last_age", "Newest invoice age", FLOAT, "s",
                   description="Age of the newest submitted Sales Invoice; -1 if there is none. "
                               "A growing value means invoicing stopped.",
                   prometheus="sepa_invoice_last_age_seconds"),
            Metric("sepa.collection.rate_30d", "Collection rate 30d", FLOAT, "%",
                   description="Paid share of the invoices in batches dated within 30 days; 100 if none.",
                   prometheus="sepa_collection_rate_30d_ratio",
                   overview="Collection rate 30d", graph=("SEPA: rates", "left"), fleet=True),
        )),
        Section("retries", retries, optional_tables=(RETRY,), metrics=(
            Metric("sepa.retry.pending", "Pending payment retries", INT,
                   description="SEPA Payment Retry rows in Pending or Scheduled.",
                   prometheus="sepa_retry_pending", overview="Retries pending"),
            Metric("sepa.retry.escalated", "Escalated payment retries", INT,
                   description="SEPA Payment Retry rows in Escalated.",
                   prometheus="sepa_retry_escalated", overview="Retries escalated"),
        )),
    ),
    macros=(
        Macro("{$SEPA.OVERDUE.AMOUNT.MAX}", Threshold("overdue_amount_max", 5000, 0, 1e12),
              "Overdue outstanding amount (EUR) above which a problem is raised, now or forecast."),
        Macro("{$SEPA.COLLECTION.RATE.MIN}", Threshold("collection_rate_min", 90, 0, 100),
              "Minimum paid share of the invoices in batches of the last 30 days, in %."),
        Macro("{$SEPA.RETRY.ESCALATED.MAX}", Threshold("retry_escalated_max", 0, 0, 1e6),
              "Escalated payment retries above which a problem is raised."),
        Macro("{$SEPA.INVOICE.SILENCE.MAX}", Threshold("invoice_silence_days", 35, 1, 3650),
              "Time without any new submitted invoice after which invoicing is considered stopped.", "d"),
        Macro("{$SEPA.COLLECTION.ANOMALY.MAX}", Threshold("collection_anomaly_deviations", 3, 1,
                                                          ANOMALY_MAX_DEVIATIONS),
              f"Standard deviations from the same hour on the {ANOMALY_DAYS} days before above which a drop "
              "of the collection rate is unusual (lower: more sensitive)."),
    ),
    triggers=(
        unusual("SEPA: unusual drop of the collection rate", "sepa.collection.rate_30d",
                "{$SEPA.COLLECTION.ANOMALY.MAX}", INFO,
                f"The 30-day collection rate fell far below its level at the same hour on the {ANOMALY_DAYS} "
                "days before (from trends), before reaching its minimum: a bank or a batch may have gone "
                "wrong. Needs two weeks of history to judge.",
                event_name="SEPA: unusual drop of the collection rate (more than {$SEPA.COLLECTION.ANOMALY.MAX} "
                           "deviations)",
                higher=False, opdata="Collection rate: {ITEM.LASTVALUE1}"),
        above("SEPA: overdue amount high", "sepa.invoice.overdue.amount", "{$SEPA.OVERDUE.AMOUNT.MAX}", WARNING,
              "Submitted invoices past their due date add up to more than the threshold. Check the "
              "failed collections and the retries; remind the members.",
              event_name="SEPA: overdue amount above {$SEPA.OVERDUE.AMOUNT.MAX} EUR",
              opdata="Overdue: {ITEM.LASTVALUE1}",
              scope="capacity"),
        Trigger("SEPA: overdue amount forecast to exceed its maximum within 7 days",
                "forecast(/T/sepa.invoice.overdue.amount,3d,7d)>{$SEPA.OVERDUE.AMOUNT.MAX}", INFO,
                "Extrapolating the last 3 days, the overdue amount will pass the threshold within a "
                "week. Act on the failed collections now.",
                event_name="SEPA: overdue amount forecast above {$SEPA.OVERDUE.AMOUNT.MAX} EUR within 7d",
                scope="capacity"),
        below("SEPA: collection rate low", "sepa.collection.rate_30d", "{$SEPA.COLLECTION.RATE.MIN}", AVERAGE,
              "Less than the expected share of the invoices in the last 30 days' batches has been "
              "paid. Look at failed batches, failed entries per bank and the retries.",
              event_name="SEPA: collection rate below {$SEPA.COLLECTION.RATE.MIN}% (30d)",
              opdata="Collection rate: {ITEM.LASTVALUE1}",
              scope="performance"),
        above("SEPA: escalated payment retries", "sepa.retry.escalated", "{$SEPA.RETRY.ESCALATED.MAX}", WARNING,
              "Payment retries were escalated: automatic retries gave up. A person must contact "
              "these members.",
              event_name="SEPA: escalated payment retries (more than {$SEPA.RETRY.ESCALATED.MAX})",
              opdata="Escalated: {ITEM.LASTVALUE1}",
              scope="notice"),
        Trigger("SEPA: no new invoices",
                "last(/T/sepa.invoice.last_age)>{$SEPA.INVOICE.SILENCE.MAX}", WARNING,
                "No submitted Sales Invoice has been created for longer than the threshold: the dues "
                "invoicing has probably stopped. Check the dues schedules and the scheduler.",
                event_name="SEPA: no new invoice for more than {$SEPA.INVOICE.SILENCE.MAX}"),
    ),
)
