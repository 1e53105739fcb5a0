"""The DevOps proposal's health check (seed 003) in every minute document, so that Zabbix sees
what `zabbix-sepa health` judges: the database (latency), Redis (a PING, when `health.redis`
is configured), the scheduler, errors per hour and the disks of `health.disk_paths`, each
healthy, degraded or critical by the `health:` settings.

The checks are a discovery list ({#CHECK}: database, redis, scheduler, error_rate,
disk:<path>) with a state and a value each, and the worst state is sepa.health.status. Only
database, redis and disk checks have triggers here: the scheduler and the error rate have
their own business triggers (a second problem for the same fault would be noise)."""
import datetime as dt
import os
import socket
import time

from zabbix_sepa.groups.base import FLOAT, HIGH, INT, WARNING, Discovery, Group, Metric, Section, Trigger

OK, DEGRADED, CRITICAL = 0, 1, 2
NAMES = {OK: "healthy", DEGRADED: "degraded", CRITICAL: "critical"}
STATES = tuple(NAMES.items())
NO_VALUE = -1
JOB_LOG, ERROR_LOG = "tabScheduled Job Log", "tabError Log"
REDIS_TIMEOUT = 0.5          # seconds; a PING that takes longer is as good as none for a minute check

SQL = f"""
SELECT (SELECT MAX(l.creation) FROM `{JOB_LOG}` l WHERE l.creation <= %(now)s),
       (SELECT COUNT(*) FROM `{ERROR_LOG}` e WHERE e.creation >= %(h1)s AND e.creation <= %(now)s)
"""


def check(status, value, detail):
    return {"status": NAMES[status], "code": status, "value": value, "detail": detail}


def judge_database(ms, hc):
    return check(DEGRADED if ms > hc.db_latency_warn_ms else OK, ms,
                 f"answered in {ms} ms (warn above {hc.db_latency_warn_ms:g} ms)")


def judge_scheduler(last, now, thresholds):
    limit = thresholds["scheduler_inactive_minutes"] * 60
    if last is None:
        return check(CRITICAL, None, "no Scheduled Job Log at all: the scheduler never ran")
    age = round((now - last).total_seconds())
    status = OK if age <= limit else (DEGRADED if age <= 4 * limit else CRITICAL)
    return check(status, age, f"last job log {age} s ago (degraded above {limit:g} s, critical above {4 * limit:g} s)")


def judge_error_rate(errors, thresholds):
    rate = thresholds["error_rate_per_hour"]
    status = CRITICAL if errors > rate else (DEGRADED if errors > rate / 2 else OK)
    return check(status, errors, f"{errors} errors in the last hour (critical above {rate:g}/h, "
                                 f"degraded above {rate / 2:g}/h)")


def ping_redis(hc, timeout):
    """The Redis check, or None when `health.redis` is not configured."""
    if not hc.redis_host:
        return None
    where = f"{hc.redis_host}:{hc.redis_port}"
    began = time.monotonic()
    try:
        with socket.create_connection((hc.redis_host, hc.redis_port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = s.recv(64)
    except OSError as exc:
        return check(CRITICAL, None, f"Redis at {where}: {exc.strerror or exc}")
    ms = round(1000 * (time.monotonic() - began), 1)
    if reply.startswith(b"+PONG"):
        return check(OK, ms, f"Redis at {where} answered PONG in {ms} ms")
    if reply.startswith(b"-NOAUTH"):
        return check(OK, ms, f"Redis at {where} answers (it wants AUTH for commands)")
    return check(CRITICAL, None, f"Redis at {where} answered {reply[:30]!r} to PING")


def used_percent(path):
    """A file system's used share as `df` and psutil count it: blocks in use against those in
    use plus those free to unprivileged users (os.statvfs: psutil's import alone costs a
    minute collection 20-70 ms)."""
    st = os.statvfs(path)
    used, free = (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_bavail * st.f_frsize
    return round(100.0 * used / (used + free), 1) if used + free else 0.0


def disks(hc):
    out = {}
    for path in hc.disk_paths:
        try:
            pct = used_percent(path)
        except OSError as exc:
            out[f"disk:{path}"] = check(DEGRADED, None, f"cannot read {path}: {exc.strerror or exc}")
            continue
        status = CRITICAL if pct >= hc.disk_critical_percent else (DEGRADED if pct >= hc.disk_warn_percent else OK)
        out[f"disk:{path}"] = check(status, pct, f"{pct:g}% used (degraded at {hc.disk_warn_percent:g}%, "
                                                 f"critical at {hc.disk_critical_percent:g}%)")
    return out


def database_checks(db, site, now):
    """database, scheduler, error_rate: one statement on `db`, timed (the database's latency)."""
    began = time.monotonic()
    last, errors = db.one(SQL, {"now": now, "h1": now - dt.timedelta(hours=1)})
    ms = round(1000 * (time.monotonic() - began), 1)
    return {"database": judge_database(ms, site.health), "scheduler": judge_scheduler(last, now, site.thresholds),
            "error_rate": judge_error_rate(int(errors), site.thresholds)}


def host_checks(hc, redis_timeout):
    """redis (when configured) and the disks: what the database does not answer."""
    redis = ping_redis(hc, redis_timeout)
    return {**({"redis": redis} if redis else {}), **disks(hc)}


def collect(ctx):
    checks = {**database_checks(ctx.db, ctx.site, ctx.now), **host_checks(ctx.site.health, REDIS_TIMEOUT)}
    return {"sepa.health.status": max(c["code"] for c in checks.values()),
            "health": [{"{#CHECK}": name, "status": c["code"],
                        "value": NO_VALUE if c["value"] is None else float(c["value"])}
                       for name, c in checks.items()]}


# Triggers for what no business trigger covers (see the module's docstring).
OWN_TRIGGERS = ("{#CHECK}", "^(database|redis|disk:.*)$")

GROUP = Group(
    name="health",
    title="Health check",
    sections=(
        Section("checks", collect, tables=(JOB_LOG, ERROR_LOG), metrics=(
            Metric("sepa.health.status", "Health", INT, valuemap=STATES,
                   description="The worst state of the health checks (0 healthy, 1 degraded, 2 critical), "
                               "as `zabbix-sepa health` judges them by the `health:` settings.",
                   prometheus="sepa_health_overall_status", overview="Health"),
        ), discovery=(
            Discovery("health", ("{#CHECK}",), ("status", "value"),
                      "The health checks: database, redis (when configured), scheduler, error_rate and "
                      "disk:<path> per health.disk_paths.",
                      item_prefix="sepa.health", label="Health {#CHECK}", lifetime="1d", fields=(
                          Metric("status", "state", INT, valuemap=STATES,
                                 description="0 healthy, 1 degraded, 2 critical."),
                          Metric("value", "value", FLOAT,
                                 description="What the check measured: the database's answer in ms, "
                                             "Redis's PING in ms, the scheduler's last job log age in s, "
                                             "errors in the last hour, a disk's used %; -1 if none."),
                      ), triggers=(
                          Trigger("SEPA health {#CHECK}: critical", "last(/T/sepa.health.status[{#CHECK}])=2", HIGH,
                                  "The health check {#CHECK} is critical: Redis does not answer, or the disk "
                                  "is above health.disk_critical_percent. `zabbix-sepa health` on the "
                                  "collector's host says why.",
                                  event_name="SEPA health check {#CHECK} is critical", only_when=OWN_TRIGGERS),
                          Trigger("SEPA health {#CHECK}: degraded", "last(/T/sepa.health.status[{#CHECK}])=1",
                                  WARNING,
                                  "The health check {#CHECK} is degraded: the database answers slower than "
                                  "health.db_latency_warn_ms, or the disk is above health.disk_warn_percent. "
                                  "`zabbix-sepa health` on the collector's host says why.",
                                  event_name="SEPA health check {#CHECK} is degraded", only_when=OWN_TRIGGERS),
                      )),
        )),
    ),
)
