"""Direct debit batches and their entries."""
from zabbix_sepa.groups.base import (AVERAGE, FLOAT, HIGH, HOUR, INFO, INT, WARNING, Discovery, Group, Macro, Metric,
                                     Order, Section, Threshold, Trigger, above, below)

BATCH = "tabDirect Debit Batch"
ENTRY = "tabDirect Debit Batch Invoice"

PENDING = ("Draft", "Generated", "Submitted", "Partially Collected")
# Statuses in which a batch waits for someone to act: it has a per-batch time limit.
WAITING = ("Draft", "Generated", "Submitted")
FAILED = ("Failed", "Partially Failed", "Rolled Back")
FINISHED = ("Processed", "Partially Processed") + FAILED
STATUSES = {"draft": "Draft", "generated": "Generated", "submitted": "Submitted",
            "processed": "Processed", "failed": "Failed", "rolled_back": "Rolled Back"}

# Hours after which a pending batch is stuck: Draft/Generated, and Submitted (not yet processed)
STUCK_HOURS = Threshold("batch_stuck_hours", 2, 0.01, 8760)
UNPROCESSED_HOURS = Threshold("batch_unprocessed_hours", 72, 0.01, 8760)

# Batches that count at all: not cancelled, and existing at N.
LIVE = "b.docstatus <> 2 AND b.creation <= %(now)s"

SUMMARY_SQL = f"""
SELECT COUNT(*) AS total,
  COALESCE(SUM(b.creation >= %(h24)s), 0),
  {", ".join(f"COALESCE(SUM(b.status = %(st_{k})s), 0)" for k in STATUSES)},
  COALESCE(SUM(b.status IN %(pending)s), 0),
  COALESCE(SUM(CASE WHEN b.status IN %(pending)s THEN b.total_amount END), 0),
  MIN(CASE WHEN b.status IN %(pending)s THEN b.creation END),
  COALESCE(SUM((b.status IN ('Draft', 'Generated') AND b.creation < %(stuck_before)s)
            OR (b.status = 'Submitted' AND b.creation < %(unprocessed_before)s)), 0),
  COALESCE(SUM(b.status IN %(failed)s AND b.modified >= %(h24)s AND b.modified <= %(now)s), 0),
  COALESCE(SUM(b.status IN %(failed)s AND b.modified >= %(d7)s AND b.modified <= %(now)s), 0)
FROM `{BATCH}` b WHERE {LIVE}
"""

# The 30-day batch rates read only batches: cheap, every minute (the success rate is what
# the finance admins watch after a failed batch).
RATES_SQL = f"""
SELECT
  COALESCE(SUM(b.status = 'Processed'), 0),
  COALESCE(SUM(b.status IN %(finished)s), 0),
  COALESCE(SUM(CASE WHEN b.status = 'Processed' THEN b.total_amount END), 0)
FROM `{BATCH}` b WHERE {LIVE} AND b.batch_date >= %(D30)s AND b.batch_date <= %(D)s
"""

# The 7-day entry failure rate reads the entries of a week's batches (~120k rows on a
# large site, through the child `parent` index): more than every other per-minute
# statement together, for a 7-day ratio that moves slowly. Hourly; a failed batch is
# still seen within the minute by sepa.batch.failed_24h and the discovered batch's
# failed entries.
ENTRIES_SQL = f"""
SELECT COUNT(*), COALESCE(SUM(e.status = 'Failed'), 0)
FROM `{BATCH}` b JOIN `{ENTRY}` e ON e.parent = b.name
WHERE {LIVE} AND b.batch_date >= %(D7)s AND b.batch_date <= %(D)s AND e.creation <= %(now)s
"""


def percent(part, whole, empty):
    return round(100.0 * float(part) / float(whole), 2) if whole else empty


def summary(ctx):
    row = ctx.db.one(SUMMARY_SQL, ctx.params(
        pending=PENDING, failed=FAILED,
        stuck_before=ctx.hours_ago(ctx.thresholds[STUCK_HOURS.key]),
        unprocessed_before=ctx.hours_ago(ctx.thresholds[UNPROCESSED_HOURS.key]),
        **{f"st_{k}": v for k, v in STATUSES.items()}))
    total, created_24h, *rest = row
    per_status, rest = rest[:len(STATUSES)], rest[len(STATUSES):]
    pending_count, pending_amount, pending_oldest, stuck, failed_24h, failed_7d = rest
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
    })
    return out


def rates(ctx):
    processed_30d, finished_30d, collected_30d = ctx.db.one(RATES_SQL, ctx.params(finished=FINISHED))
    return {
        "sepa.batch.success_rate_30d": percent(processed_30d, finished_30d, 100.0),
        "sepa.batch.collected_amount_30d": float(collected_30d),
    }


def entries(ctx):
    entries_7d, failed_7d = ctx.db.one(ENTRIES_SQL, ctx.params())
    return {
        "sepa.batch.entry.failed_7d": int(failed_7d),
        "sepa.batch.entry.failure_rate_7d": percent(failed_7d, entries_7d, 0.0),
    }


# The LIMIT inside the derived table lets the entries be read only for the batches that
# make the list: each batch's entries once, through the child `parent` index, counted and
# their failures summed in one pass (two correlated counts read them twice).
DISCOVERY_SQL = f"""
SELECT t.name, t.status, t.batch_type, t.creation, t.total_amount, t.status IN %(waiting)s,
  COUNT(e.name), COALESCE(SUM(e.status = 'Failed'), 0)
FROM (
  SELECT b.name, b.status, b.batch_type, b.creation, b.total_amount
  FROM `{BATCH}` b
  WHERE {LIVE} AND (b.status IN %(pending)s OR (b.batch_date >= %(D7)s AND b.batch_date <= %(D)s))
  ORDER BY b.creation DESC, b.name DESC LIMIT %(limit)s
) t
LEFT JOIN `{ENTRY}` e ON e.parent = t.name AND e.creation <= %(now)s
GROUP BY t.name, t.status, t.batch_type, t.creation, t.total_amount
ORDER BY t.creation DESC, t.name DESC
"""


def discovery(ctx):
    rows = ctx.db.rows(DISCOVERY_SQL, ctx.params(pending=PENDING, waiting=WAITING,
                                                 limit=ctx.discovery["max_batches"]))
    return {"batches": [
        {"{#BATCH}": name, "{#STATUS}": status or "", "{#TYPE}": btype or "",
         "age": ctx.age(creation), "waiting_age": ctx.age(creation) if waiting else 0.0,
         "entries": int(entries), "amount": float(amount or 0), "failed_entries": int(failed)}
        for name, status, btype, creation, amount, waiting, entries, failed in rows]}


def _status_metrics():
    out = [Metric(f"sepa.batch.status[{k}]", f"Batches in status {v}", INT,
                  description=f"Batches whose status is {v} (site collation).",
                  prometheus="sepa_batch_status", label="status")
           for k, v in STATUSES.items()]
    out.append(Metric("sepa.batch.status[other]", "Batches in other statuses", INT,
                      description="Batches whose status is none of the six named ones "
                                  "(e.g. Cancelled, Partially Processed).",
                      prometheus="sepa_batch_status", label="status"))
    return out


SUMMARY_METRICS = (
    Metric("sepa.batch.total", "Batches", INT, description="Direct debit batches (cancelled excluded).",
           prometheus="sepa_batches"),
    Metric("sepa.batch.created_24h", "Batches created in 24h", INT,
           description="Batches created within the last 24 hours.", prometheus="sepa_batch_created_24h"),
    *_status_metrics(),
    Metric("sepa.batch.pending.count", "Pending batches", INT,
           description="Batches in Draft, Generated, Submitted or Partially Collected.",
           prometheus="sepa_batch_pending", overview="Pending batches", graph=("SEPA: batches", "left"), fleet=True),
    Metric("sepa.batch.pending.amount", "Pending amount", FLOAT, "EUR",
           description="Sum of total_amount over pending batches.",
           prometheus="sepa_batch_pending_amount_eur",
           overview="Pending amount", graph=("SEPA: amounts", "right")),
    Metric("sepa.batch.pending.oldest_age", "Oldest pending batch age", FLOAT, "s",
           description="Age of the oldest pending batch by creation; 0 if none.",
           prometheus="sepa_batch_pending_oldest_age_seconds"),
    Metric("sepa.batch.stuck", "Stuck batches", INT,
           description="Draft/Generated batches older than batch_stuck_hours plus Submitted "
                       "batches older than batch_unprocessed_hours.",
           prometheus="sepa_batch_stuck", overview="Stuck batches", graph=("SEPA: batches", "left")),
    Metric("sepa.batch.failed_24h", "Failed batches in 24h", INT,
           description="Batches in Failed, Partially Failed or Rolled Back modified within 24h.",
           prometheus="sepa_batch_failed_24h", overview="Failed batches 24h", graph=("SEPA: batches", "left"),
           fleet=True),
    Metric("sepa.batch.failed_7d", "Failed batches in 7d", INT,
           description="Batches in Failed, Partially Failed or Rolled Back modified within 7 days.",
           prometheus="sepa_batch_failed_7d"),
)

RATES_METRICS = (
    Metric("sepa.batch.success_rate_30d", "Batch success rate 30d", FLOAT, "%",
           description="Processed / finished batches with batch_date within 30 days; 100 if none.",
           prometheus="sepa_batch_success_rate_30d_ratio",
           overview="Batch success 30d", graph=("SEPA: rates", "left")),
    Metric("sepa.batch.collected_amount_30d", "Collected amount 30d", FLOAT, "EUR",
           description="Sum of total_amount of Processed batches with batch_date within 30 days.",
           prometheus="sepa_batch_collected_amount_30d_eur",
           overview="Collected 30d", graph=("SEPA: amounts", "right")),
)

ENTRY_METRICS = (
    Metric("sepa.batch.entry.failed_7d", "Failed batch entries 7d", INT,
           description="Batch entries with status Failed in batches with batch_date within 7 days.",
           prometheus="sepa_batch_entry_failed_7d"),
    Metric("sepa.batch.entry.failure_rate_7d", "Batch entry failure rate 7d", FLOAT, "%",
           description="Failed entries / all entries of batches with batch_date within 7 days; "
                       "0 if none.",
           prometheus="sepa_batch_entry_failure_rate_7d_ratio",
           overview="Entry failures 7d", graph=("SEPA: rates", "left")),
)

GROUP = Group(
    name="batches",
    title="Direct debit batches",
    sections=(
        Section("summary", summary, metrics=SUMMARY_METRICS, tables=(BATCH,)),
        Section("rates", rates, metrics=RATES_METRICS, tables=(BATCH,)),
        Section("entries", entries, cadence=HOUR, metrics=ENTRY_METRICS, tables=(BATCH, ENTRY)),
        Section("discovery", discovery, tables=(BATCH, ENTRY), discovery=(
            Discovery("batches", ("{#BATCH}", "{#STATUS}", "{#TYPE}"),
                      ("age", "waiting_age", "entries", "amount", "failed_entries"),
                      "Pending batches and batches dated within 7 days, newest first.",
                      item_prefix="sepa.batch", label="Batch {#BATCH}", lifetime="7d", fields=(
                          Metric("age", "age", FLOAT, "s", "Seconds since the batch was created."),
                          Metric("waiting_age", "waiting age", FLOAT, "s",
                                 "Seconds since the batch was created while it is Draft, Generated or "
                                 "Submitted; 0 in any other status, and once it has left the list.",
                                 absent=0),
                          Metric("entries", "entries", INT, description="Entries in the batch."),
                          Metric("amount", "amount", FLOAT, "EUR", "The batch's total_amount."),
                          Metric("failed_entries", "failed entries", INT,
                                 description="Entries of the batch with status Failed."),
                      ), triggers=(
                          Trigger("SEPA batch {#BATCH}: {#STATUS} for too long",
                                  'last(/T/sepa.batch.waiting_age[{#BATCH}])>{$SEPA.BATCH.PENDING.AGE.MAX:"{#STATUS}"}',
                                  INFO, "This batch has been in {#STATUS} longer than "
                                  '{$SEPA.BATCH.PENDING.AGE.MAX:"{#STATUS}"}. Generate, submit or '
                                  "cancel it; the bank will not collect a batch that is not submitted.",
                                  event_name='SEPA batch {#BATCH} in {#STATUS} for more than '
                                             '{$SEPA.BATCH.PENDING.AGE.MAX:"{#STATUS}"}',
                                  only_when=("{#STATUS}", f"^({'|'.join(WAITING)})$")),
                          Trigger("SEPA batch {#BATCH}: failed entries",
                                  "last(/T/sepa.batch.failed_entries[{#BATCH}])>{$SEPA.BATCH.ENTRIES.FAILED.MAX}",
                                  WARNING, "Entries of this batch were returned or rejected by the bank. "
                                  "Look at the batch's failed entries in Verenigingen and start retries "
                                  "or contact the members.",
                                  event_name="SEPA batch {#BATCH}: failed entries (more than "
                                             "{$SEPA.BATCH.ENTRIES.FAILED.MAX})",
                                  opdata="Failed entries: {ITEM.LASTVALUE1}"),
                      )),)),
    ),
    macros=(
        Macro("{$SEPA.BATCH.FAILED.MAX}", Threshold("batch_failed_max", 0, 0, 1e6),
              "Failed (or rolled back) batches in 24 hours above which a problem is raised."),
        Macro("{$SEPA.BATCH.STUCK.MAX}", Threshold("batch_stuck_max", 0, 0, 1e6),
              "Stuck batches (see sepa.batch.stuck) above which a problem is raised."),
        Macro("{$SEPA.BATCH.SUCCESS.MIN}", Threshold("batch_success_min", 95, 0, 100),
              "Minimum batch success rate over 30 days, in %."),
        Macro("{$SEPA.ENTRY.FAILURE.MAX}", Threshold("entry_failure_rate_max", 5, 0, 100),
              "Maximum failure rate of batch entries over 7 days, in %."),
        Macro("{$SEPA.BATCH.ENTRIES.FAILED.MAX}", Threshold("batch_entries_failed_max", 0, 0, 1e6),
              "Failed entries in one discovered batch above which a problem is raised."),
        Macro("{$SEPA.BATCH.PENDING.AGE.MAX}", UNPROCESSED_HOURS,
              "How long a discovered batch may stay Submitted (default for any status).", "h"),
        Macro('{$SEPA.BATCH.PENDING.AGE.MAX:"Draft"}', STUCK_HOURS,
              "How long a discovered batch may stay Draft.", "h"),
        Macro('{$SEPA.BATCH.PENDING.AGE.MAX:"Generated"}', STUCK_HOURS,
              "How long a discovered batch may stay Generated.", "h"),
    ),
    triggers=(
        above("SEPA: failed direct debit batches", "sepa.batch.failed_24h", "{$SEPA.BATCH.FAILED.MAX}", HIGH,
              "A batch went to Failed, Partially Failed or Rolled Back within 24 hours: members' dues "
              "were not collected. Open the batch in Verenigingen, read the bank's return reasons, "
              "correct and resubmit or start retries.",
              event_name="SEPA: batches failed in 24h (more than {$SEPA.BATCH.FAILED.MAX})",
              opdata="Failed in 24h: {ITEM.LASTVALUE1}"),
        above("SEPA: stuck direct debit batches", "sepa.batch.stuck", "{$SEPA.BATCH.STUCK.MAX}", AVERAGE,
              "Batches stay in Draft/Generated longer than batch_stuck_hours or in Submitted longer "
              "than batch_unprocessed_hours. Check the batch processing job and the bank upload.",
              event_name="SEPA: stuck batches (more than {$SEPA.BATCH.STUCK.MAX})",
              opdata="Stuck: {ITEM.LASTVALUE1}"),
        below("SEPA: batch success rate low", "sepa.batch.success_rate_30d", "{$SEPA.BATCH.SUCCESS.MIN}", AVERAGE,
              "Too few batches dated within 30 days ended Processed. Review the failed batches and "
              "their causes (bank rejections, file format, mandates).",
              event_name="SEPA: batch success rate below {$SEPA.BATCH.SUCCESS.MIN}% (30d)",
              opdata="Success rate: {ITEM.LASTVALUE1}",
              scope="performance"),
        above("SEPA: batch entry failure rate high", "sepa.batch.entry.failure_rate_7d",
              "{$SEPA.ENTRY.FAILURE.MAX}", WARNING,
              "More batch entries than usual fail (7 days). Look for a common bank or mandate cause "
              "in the banks discovery.",
              event_name="SEPA: batch entry failure rate above {$SEPA.ENTRY.FAILURE.MAX}% (7d)",
              opdata="Failure rate: {ITEM.LASTVALUE1}",
              scope="performance"),
    ),
    orders=(
        Order(STUCK_HOURS, UNPROCESSED_HOURS, "a Draft or Generated batch waits for the association and is "
              "stuck sooner than a Submitted one, which waits for the bank", strict=True),
    ),
)
