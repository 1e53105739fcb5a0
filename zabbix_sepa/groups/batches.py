"""Direct debit batches and their entries."""
from zabbix_sepa.registry import FLOAT, INT, Discovery, Group, Metric, Section

BATCH = "tabDirect Debit Batch"
ENTRY = "tabDirect Debit Batch Invoice"

PENDING = ("Draft", "Generated", "Submitted", "Partially Collected")
FAILED = ("Failed", "Partially Failed", "Rolled Back")
FINISHED = ("Processed", "Partially Processed") + FAILED
STATUSES = {"draft": "Draft", "generated": "Generated", "submitted": "Submitted",
            "processed": "Processed", "failed": "Failed", "rolled_back": "Rolled Back"}

# Batches that count at all: not cancelled, and existing at N.
LIVE = "b.docstatus <> 2 AND b.creation <= %(now)s"

SUMMARY_SQL = f"""
SELECT s.*, e.entries_7d, e.failed_7d
FROM (
  SELECT COUNT(*) AS total,
    COALESCE(SUM(b.creation >= %(h24)s), 0),
    {", ".join(f"COALESCE(SUM(b.status = %(st_{k})s), 0)" for k in STATUSES)},
    COALESCE(SUM(b.status IN %(pending)s), 0),
    COALESCE(SUM(CASE WHEN b.status IN %(pending)s THEN b.total_amount END), 0),
    MIN(CASE WHEN b.status IN %(pending)s THEN b.creation END),
    COALESCE(SUM((b.status IN ('Draft', 'Generated') AND b.creation < %(stuck_before)s)
              OR (b.status = 'Submitted' AND b.creation < %(unprocessed_before)s)), 0),
    COALESCE(SUM(b.status IN %(failed)s AND b.modified >= %(h24)s AND b.modified <= %(now)s), 0),
    COALESCE(SUM(b.status IN %(failed)s AND b.modified >= %(d7)s AND b.modified <= %(now)s), 0),
    COALESCE(SUM(b.batch_date >= %(D30)s AND b.batch_date <= %(D)s AND b.status = 'Processed'), 0),
    COALESCE(SUM(b.batch_date >= %(D30)s AND b.batch_date <= %(D)s AND b.status IN %(finished)s), 0),
    COALESCE(SUM(CASE WHEN b.batch_date >= %(D30)s AND b.batch_date <= %(D)s
                      AND b.status = 'Processed' THEN b.total_amount END), 0)
  FROM `{BATCH}` b WHERE {LIVE}
) s CROSS JOIN (
  SELECT COUNT(*) AS entries_7d, COALESCE(SUM(e.status = 'Failed'), 0) AS failed_7d
  FROM `{BATCH}` b JOIN `{ENTRY}` e ON e.parent = b.name
  WHERE {LIVE} AND b.batch_date >= %(D7)s AND b.batch_date <= %(D)s AND e.creation <= %(now)s
) e
"""


def percent(part, whole, empty):
    return round(100.0 * float(part) / float(whole), 2) if whole else empty


def summary(ctx):
    row = ctx.db.one(SUMMARY_SQL, ctx.params(
        pending=PENDING, failed=FAILED, finished=FINISHED,
        stuck_before=ctx.hours_ago(ctx.thresholds["batch_stuck_hours"]),
        unprocessed_before=ctx.hours_ago(ctx.thresholds["batch_unprocessed_hours"]),
        **{f"st_{k}": v for k, v in STATUSES.items()}))
    total, created_24h, *rest = row
    per_status, rest = rest[:len(STATUSES)], rest[len(STATUSES):]
    (pending_count, pending_amount, pending_oldest, stuck, failed_24h, failed_7d,
     processed_30d, finished_30d, collected_30d, entries_7d, failed_entries_7d) = rest
    out = {"sepa.batch.total": int(total), "sepa.batch.created_24h": int(created_24h)}
    for k, n in zip(STATUSES, per_status):
        out[f"sepa.batch.status[{k}]"] = int(n)
    out["sepa.batch.status[other]"] = int(total) - sum(int(n) for n in per_status)
    out.update({
        "sepa.batch.pending.count": int(pending_count),
        "sepa.batch.pending.amount": float(pending_amount),
        "sepa.batch.pending.oldest_age": ctx.age(pending_oldest) if pending_oldest else 0.0,
        "sepa.batch.stuck": int(stuck),
        "sepa.batch.failed_24h": int(failed_24h),
        "sepa.batch.failed_7d": int(failed_7d),
        "sepa.batch.success_rate_30d": percent(processed_30d, finished_30d, 100.0),
        "sepa.batch.collected_amount_30d": float(collected_30d),
        "sepa.batch.entry.failed_7d": int(failed_entries_7d),
        "sepa.batch.entry.failure_rate_7d": percent(failed_entries_7d, entries_7d, 0.0),
    })
    return out


# The LIMIT inside the derived table lets the per-batch counts run only for
# the batches that make the list.
DISCOVERY_SQL = f"""
SELECT t.name, t.status, t.batch_type, t.creation, t.total_amount,
  (SELECT COUNT(*) FROM `{ENTRY}` e WHERE e.parent = t.name AND e.creation <= %(now)s),
  (SELECT COUNT(*) FROM `{ENTRY}` e WHERE e.parent = t.name AND e.creation <= %(now)s
     AND e.status = 'Failed')
FROM (
  SELECT b.name, b.status, b.batch_type, b.creation, b.total_amount
  FROM `{BATCH}` b
  WHERE {LIVE} AND (b.status IN %(pending)s OR (b.batch_date >= %(D7)s AND b.batch_date <= %(D)s))
  ORDER BY b.creation DESC, b.name DESC LIMIT %(limit)s
) t
ORDER BY t.creation DESC, t.name DESC
"""


def discovery(ctx):
    rows = ctx.db.rows(DISCOVERY_SQL, ctx.params(pending=PENDING, limit=ctx.discovery["max_batches"]))
    return {"batches": [
        {"{#BATCH}": name, "{#STATUS}": status or "", "{#TYPE}": btype or "",
         "age": ctx.age(creation), "entries": int(entries), "amount": float(amount or 0),
         "failed_entries": int(failed)}
        for name, status, btype, creation, amount, entries, failed in rows]}


def _status_metrics():
    out = [Metric(f"sepa.batch.status[{k}]", f"Batches in status {v}", INT,
                  description=f"Batches whose status is {v} (site collation).")
           for k, v in STATUSES.items()]
    out.append(Metric("sepa.batch.status[other]", "Batches in other statuses", INT,
                      description="Batches whose status is none of the six named ones "
                                  "(e.g. Cancelled, Partially Processed)."))
    return out


SUMMARY_METRICS = (
    Metric("sepa.batch.total", "Batches", INT, description="Direct debit batches (cancelled excluded)."),
    Metric("sepa.batch.created_24h", "Batches created in 24h", INT,
           description="Batches created within the last 24 hours."),
    *_status_metrics(),
    Metric("sepa.batch.pending.count", "Pending batches", INT,
           description="Batches in Draft, Generated, Submitted or Partially Collected."),
    Metric("sepa.batch.pending.amount", "Pending amount", FLOAT, "EUR",
           description="Sum of total_amount over pending batches."),
    Metric("sepa.batch.pending.oldest_age", "Oldest pending batch age", FLOAT, "s",
           description="Age of the oldest pending batch by creation; 0 if none."),
    Metric("sepa.batch.stuck", "Stuck batches", INT,
           description="Draft/Generated batches older than batch_stuck_hours plus Submitted "
                       "batches older than batch_unprocessed_hours."),
    Metric("sepa.batch.failed_24h", "Failed batches in 24h", INT,
           description="Batches in Failed, Partially Failed or Rolled Back modified within 24h."),
    Metric("sepa.batch.failed_7d", "Failed batches in 7d", INT,
           description="Batches in Failed, Partially Failed or Rolled Back modified within 7 days."),
    Metric("sepa.batch.success_rate_30d", "Batch success rate 30d", FLOAT, "%",
           description="Processed / finished batches with batch_date within 30 days; 100 if none."),
    Metric("sepa.batch.collected_amount_30d", "Collected amount 30d", FLOAT, "EUR",
           description="Sum of total_amount of Processed batches with batch_date within 30 days."),
    Metric("sepa.batch.entry.failed_7d", "Failed batch entries 7d", INT,
           description="Batch entries with status Failed in batches with batch_date within 7 days."),
    Metric("sepa.batch.entry.failure_rate_7d", "Batch entry failure rate 7d", FLOAT, "%",
           description="Failed entries / all entries of batches with batch_date within 7 days; "
                       "0 if none."),
)

GROUP = Group(
    name="batches",
    title="Direct debit batches",
    sections=(
        Section("summary", summary, metrics=SUMMARY_METRICS, tables=(BATCH, ENTRY)),
        Section("discovery", discovery, tables=(BATCH, ENTRY), discovery=(
            Discovery("batches", ("{#BATCH}", "{#STATUS}", "{#TYPE}"),
                      ("age", "entries", "amount", "failed_entries"),
                      "Pending batches and batches dated within 7 days, newest first."),)),
    ),
)
