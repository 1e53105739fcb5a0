"""Frappe scheduler: failures, liveness, and the SEPA jobs one by one."""
from zabbix_sepa.groups.base import (FLOAT, HIGH, HOUR, INT, WARNING, Discovery, Group, Macro, Metric, Section,
                                     Threshold, Trigger, above)

JOB_TYPE = "tabScheduled Job Type"
JOB_LOG = "tabScheduled Job Log"

# Both subqueries run on the creation index: a range and a backward seek.
SUMMARY_SQL = f"""
SELECT
  (SELECT COUNT(*) FROM `{JOB_LOG}` l
    WHERE l.creation >= %(h24)s AND l.creation <= %(now)s AND l.status = 'Failed'),
  (SELECT MAX(l.creation) FROM `{JOB_LOG}` l WHERE l.creation <= %(now)s)
"""


def summary(ctx):
    failed, newest = ctx.db.one(SUMMARY_SQL, ctx.params())
    return {"sepa.scheduler.failed_24h": int(failed),
            "sepa.scheduler.last_activity_age": ctx.age(newest) if newest else -1}


JOB_PATTERNS = ("sepa", "dues", "direct_debit", "payment_retry", "mandate")

# The log has no index on scheduled_job_type. Jobs that ran recently are found
# by a range scan over the last RECENT_DAYS on the creation index; only jobs
# without a success in that window need the older part of the log.
RECENT_DAYS = 7
JOBS_SQL = f"""
SELECT t.name, r.last_success, COALESCE(r.failed_24h, 0)
FROM `{JOB_TYPE}` t LEFT JOIN (
  SELECT l.scheduled_job_type AS job,
    MAX(CASE WHEN l.status = 'Complete' THEN l.creation END) AS last_success,
    SUM(l.status = 'Failed' AND l.creation >= %(h24)s) AS failed_24h
  FROM `{JOB_LOG}` l
  WHERE l.creation >= %(recent)s AND l.creation <= %(now)s
  GROUP BY l.scheduled_job_type
) r ON r.job = t.name
WHERE t.creation <= %(now)s AND ({" OR ".join(f"LOCATE(%(j{i})s, LOWER(COALESCE(t.method, ''))) > 0"
                                            for i in range(len(JOB_PATTERNS)))})
ORDER BY t.name
"""
OLDER_SQL = f"""
SELECT l.scheduled_job_type, MAX(l.creation) FROM `{JOB_LOG}` l
WHERE l.creation < %(recent)s AND l.status = 'Complete' AND l.scheduled_job_type IN %(jobs)s
GROUP BY l.scheduled_job_type
"""


def jobs(ctx):
    patterns = {f"j{i}": p for i, p in enumerate(JOB_PATTERNS)}
    recent = ctx.days_before_now(RECENT_DAYS)
    rows = ctx.db.rows(JOBS_SQL, ctx.params(recent=recent, **patterns))
    unseen = tuple(name for name, last, _ in rows if last is None)
    older = dict(ctx.db.rows(OLDER_SQL, ctx.params(recent=recent, jobs=unseen))) if unseen else {}
    out = []
    for name, last, failed in rows:
        last = last or older.get(name)
        out.append({"{#JOB}": name, "last_success_age": ctx.age(last) if last else -1,
                    "failed_24h": int(failed)})
    return {"jobs": out}


GROUP = Group(
    name="scheduler",
    title="Scheduler",
    sections=(
        Section("summary", summary, tables=(JOB_LOG,), metrics=(
            Metric("sepa.scheduler.failed_24h", "Failed scheduled jobs in 24h", INT,
                   description="Scheduled Job Log rows with status Failed within 24h.",
                   prometheus="sepa_scheduler_failed_24h",
                   overview="Job failures 24h", graph=("SEPA: errors", "left")),
            Metric("sepa.scheduler.last_activity_age", "Scheduler last activity age", FLOAT, "s",
                   description="Age of the newest Scheduled Job Log row; -1 if none. A growing value "
                               "means the scheduler is down.",
                   prometheus="sepa_scheduler_last_activity_age_seconds", overview="Scheduler idle"),
        )),
        Section("jobs", jobs, cadence=HOUR, max_statements=2, tables=(JOB_TYPE, JOB_LOG), discovery=(
            Discovery("jobs", ("{#JOB}",), ("last_success_age", "failed_24h"),
                      "Scheduled Job Types of SEPA, dues, direct debit, payment retry and mandates.",
                      item_prefix="sepa.job", label="Job {#JOB}", lifetime="7d", fields=(
                          Metric("last_success_age", "time since last success", FLOAT, "s",
                                 "Seconds since the job last completed; -1 if it never did."),
                          Metric("failed_24h", "failures in 24h", INT,
                                 description="Failed runs of the job within 24 hours."),
                      ), triggers=(
                          Trigger("SEPA job {#JOB}: no success for too long",
                                  'last(/T/sepa.job.last_success_age[{#JOB}])>{$SEPA.JOB.SUCCESS.AGE.MAX:"{#JOB}"} '
                                  'or last(/T/sepa.job.last_success_age[{#JOB}])<0', WARNING,
                                  "This SEPA job has not completed successfully for longer than the "
                                  "threshold (or never). Read its Scheduled Job Log entries.",
                                  event_name='SEPA job {#JOB}: no success for more than '
                                             '{$SEPA.JOB.SUCCESS.AGE.MAX:"{#JOB}"}'),
                      )),
        )),
    ),
    macros=(
        Macro("{$SEPA.SCHEDULER.FAILED.MAX}", Threshold("scheduler_failed_max", 0, 0, 1e9),
              "Failed scheduled jobs in 24 hours above which a problem is raised."),
        Macro("{$SEPA.SCHEDULER.INACTIVE.MAX}", Threshold("scheduler_inactive_minutes", 60, 1, 525600),
              "Time without any scheduled job log after which the scheduler is considered dead.", "m"),
        Macro("{$SEPA.JOB.SUCCESS.AGE.MAX}", Threshold("job_success_age_hours", 48, 0.01, 8760),
              'Time a SEPA job may go without a success; per job with context, e.g. '
              '{$SEPA.JOB.SUCCESS.AGE.MAX:"verenigingen.sepa.process_batches"}.', "h"),
    ),
    triggers=(
        above("SEPA: scheduled job failures", "sepa.scheduler.failed_24h", "{$SEPA.SCHEDULER.FAILED.MAX}", WARNING,
              "Scheduled jobs failed within 24 hours. The jobs discovery shows which; their Scheduled "
              "Job Log holds the tracebacks.",
              event_name="SEPA: scheduled jobs failed in 24h (more than {$SEPA.SCHEDULER.FAILED.MAX})",
              opdata="Failed jobs in 24h: {ITEM.LASTVALUE1}"),
        Trigger("SEPA: scheduler inactive",
                "last(/T/sepa.scheduler.last_activity_age)>{$SEPA.SCHEDULER.INACTIVE.MAX} or "
                "last(/T/sepa.scheduler.last_activity_age)<0", HIGH,
                "No scheduled job has logged anything for longer than the threshold: the Frappe "
                "scheduler or its workers are down, so no batch, dues or retry job runs. Check "
                "`bench doctor` and the worker processes.",
                event_name="SEPA: scheduler inactive for more than {$SEPA.SCHEDULER.INACTIVE.MAX}"),
    ),
)
