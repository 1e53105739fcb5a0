"""Seed 003's daily report: errors by method (top 10), active users, SEPA batch status of the
last 7 days, scheduler failures, and the background jobs as of N (the RQ queues of the site's
bench: the collector's own values, from a minute collection). Windows are fixed (24 hours,
7 days before N); `--days` does not apply."""
import datetime as dt

from zabbix_sepa.groups.users import ACTIVE_SQL, ACTIVITY_LOG
from zabbix_sepa.reports.errors import CODE_PATH, HOTSPOTS_SQL
from zabbix_sepa.reports.model import AMOUNT, INT, NUM, Column, Table, label

TITLE = "Verenigingen daily report"

BATCH = "tabDirect Debit Batch"
JOB_LOG = "tabScheduled Job Log"

BATCH_STATUS_SQL = f"""
SELECT b.status, COUNT(*), COALESCE(SUM(b.total_amount), 0)
FROM `{BATCH}` b
WHERE b.docstatus <> 2 AND b.creation <= %(now)s AND b.modified >= %(d7)s AND b.modified <= %(now)s
GROUP BY b.status ORDER BY 2 DESC, 1
"""

SCHEDULER_FAILURES_SQL = f"""
SELECT g.scheduled_job_type, COUNT(*)
FROM `{JOB_LOG}` g
WHERE g.status = 'Failed' AND g.creation >= %(h24)s AND g.creation <= %(now)s
GROUP BY g.scheduled_job_type ORDER BY 2 DESC, 1 LIMIT 20
"""


def active_users(ctx, params):
    """The users table: the collector's own statement (sepa.users.active_24h), so the report and
    Zabbix count alike; the count only, never a name. A site without the Activity Log gets a note."""
    columns = (Column("window", "Window"), Column("users", "Users with a successful login", INT))
    title = "Active users, last 24 hours"
    present, _, _ = ctx.db.inspect((ACTIVITY_LOG,))
    if ACTIVITY_LOG not in present:
        return Table("users", title, columns, [],
                     note=f"The optional table `{ACTIVITY_LOG}` does not exist on this site.")
    (count,) = ctx.db.one(ACTIVE_SQL, params)
    return Table("users", title, columns, [{"window": "last 24 hours", "users": int(count)}],
                 note="Distinct users who logged in (Activity Log: Login, Success); Administrator counts, "
                      "Guest does not. A session resumed without logging in again is not a login.")


def build(ctx, report):
    report.days = None
    now = ctx.now
    params = {"now": now, "h24": now - dt.timedelta(hours=24), "d7": now - dt.timedelta(days=7)}
    ctx.progress("errors")
    errors = [{"method": m, "errors": int(n)} for m, n in ctx.db.rows(
        HOTSPOTS_SQL, {"since": params["h24"], "now": now, "code_path": CODE_PATH})]
    report.tables.append(Table("errors", "Errors by method, last 24 hours (top 10)", (
        Column("method", "Method"), Column("errors", "Errors", INT)), errors,
        note="Methods that are not code paths (free-text titles may name people) are counted on one line."))
    ctx.progress("active users")
    report.tables.append(active_users(ctx, params))
    ctx.progress("batches")
    report.tables.append(Table("batches", "Direct debit batches modified in the last 7 days", (
        Column("status", "Status"), Column("batches", "Batches", INT), Column("amount", "Amount (EUR)", AMOUNT)),
        [{"status": label(s), "batches": int(n), "amount": round(float(a), 2)}
         for s, n, a in ctx.db.rows(BATCH_STATUS_SQL, params)]))
    ctx.progress("scheduler")
    report.tables.append(Table("scheduler", "Scheduler failures, last 24 hours", (
        Column("job", "Scheduled job type"), Column("failures", "Failures", INT)),
        [{"job": label(j), "failures": int(n)} for j, n in ctx.db.rows(SCHEDULER_FAILURES_SQL, params)]))
    ctx.progress("background jobs")
    report.tables.append(background_jobs(ctx.document(cadence="minute")))


QUEUE_TOTALS = {"queued": "sepa.queue.queued", "oldest_age": "sepa.queue.oldest_age",
                "failed": "sepa.queue.failed", "workers": "sepa.queue.workers"}


def background_jobs(doc):
    """The queues of the collector's document as a table, the bench's totals as its last row;
    when they were not collected, an empty table saying why."""
    columns = (Column("queue", "Queue"), Column("queued", "Jobs queued", INT),
               Column("oldest_age", "Next job waits (s)", NUM), Column("failed", "Failed jobs kept", INT),
               Column("workers", "Workers alive", INT))
    title = "Background jobs (RQ queues of the bench, now)"
    if "queues" not in doc["discovery"]:
        reason = doc["unsupported"].get("discovery.queues", "unknown reason")
        return Table("queues", title, columns, [], note=f"Not collected: {reason}.")
    rows = [{"queue": q["{#QUEUE}"], **{k: q[k] for k in QUEUE_TOTALS}} for q in doc["discovery"]["queues"]]
    total = {"queue": "all queues", **{k: doc["metrics"].get(key) for k, key in QUEUE_TOTALS.items()}}
    return Table("queues", title, columns, rows, total=total,
                 note="Workers: alive RQ workers listening to the queue (one worker may listen to several: the "
                      "total counts it once). Failed jobs: those RQ still keeps (Frappe: 7 days).")
