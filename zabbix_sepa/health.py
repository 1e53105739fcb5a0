"""`zabbix-sepa health`: seed 003's health check of a site, judged healthy, degraded or critical.

Checks: the database (reachable, latency), Redis (only when `redis` is configured: a PING
on a plain socket), the scheduler (age of the newest Scheduled Job Log), disk usage of the
configured paths (psutil), and errors per hour against `thresholds.error_rate_per_hour`.
Exit status and "code": 0 healthy, 1 degraded, 2 critical (the worst check wins).
"""
import socket
import time

from zabbix_sepa.collect import site_now, unix_clock
from zabbix_sepa.db import Database, DatabaseError

OK, DEGRADED, CRITICAL = 0, 1, 2
NAMES = {OK: "healthy", DEGRADED: "degraded", CRITICAL: "critical"}

SQL = """
SELECT (SELECT MAX(l.creation) FROM `tabScheduled Job Log` l WHERE l.creation <= %(now)s),
       (SELECT COUNT(*) FROM `tabError Log` e WHERE e.creation >= %(h1)s AND e.creation <= %(now)s)
"""


def _check(status, value, detail):
    return {"status": NAMES[status], "code": status, "value": value, "detail": detail}


def _database_checks(site, hc, now):
    """database, scheduler, error_rate: one connection, one statement."""
    import datetime as dt
    began = time.monotonic()
    try:
        db = Database(site.database, began + site.collect_timeout)
        try:
            last, errors = db.one(SQL, {"now": now, "h1": now - dt.timedelta(hours=1)})
        finally:
            db.close()
    except DatabaseError as exc:
        reason = f"database unreachable or failing: {exc}"
        return {"database": _check(CRITICAL, None, reason),
                "scheduler": _check(CRITICAL, None, "unknown: " + reason),
                "error_rate": _check(CRITICAL, None, "unknown: " + reason)}
    ms = round(1000 * (time.monotonic() - began), 1)
    out = {"database": _check(DEGRADED if ms > hc.db_latency_warn_ms else OK, ms,
                              f"answered in {ms} ms (warn above {hc.db_latency_warn_ms:g} ms)")}
    limit = site.thresholds["scheduler_inactive_minutes"] * 60
    if last is None:
        out["scheduler"] = _check(CRITICAL, None, "no Scheduled Job Log at all: the scheduler never ran")
    else:
        age = round((now - last).total_seconds())
        status = OK if age <= limit else (DEGRADED if age <= 4 * limit else CRITICAL)
        out["scheduler"] = _check(status, age, f"last job log {age} s ago (degraded above {limit:g} s, "
                                               f"critical above {4 * limit:g} s)")
    rate = site.thresholds["error_rate_per_hour"]
    errors = int(errors)
    status = CRITICAL if errors > rate else (DEGRADED if errors > rate / 2 else OK)
    out["error_rate"] = _check(status, errors, f"{errors} errors in the last hour (critical above {rate:g}/h, "
                                               f"degraded above {rate / 2:g}/h)")
    return out


def _redis(hc, timeout):
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
        return _check(CRITICAL, None, f"Redis at {where}: {exc.strerror or exc}")
    ms = round(1000 * (time.monotonic() - began), 1)
    if reply.startswith(b"+PONG"):
        return _check(OK, ms, f"Redis at {where} answered PONG in {ms} ms")
    if reply.startswith(b"-NOAUTH"):
        return _check(OK, ms, f"Redis at {where} answers (it wants AUTH for commands)")
    return _check(CRITICAL, None, f"Redis at {where} answered {reply[:30]!r} to PING")


def _disks(hc):
    import psutil
    out = {}
    for path in hc.disk_paths:
        try:
            pct = psutil.disk_usage(path).percent
        except OSError as exc:
            out[path] = _check(DEGRADED, None, f"cannot read {path}: {exc.strerror or exc}")
            continue
        status = CRITICAL if pct >= hc.disk_critical_percent else (DEGRADED if pct >= hc.disk_warn_percent else OK)
        out[path] = _check(status, pct, f"{pct:g}% used (degraded at {hc.disk_warn_percent:g}%, "
                                        f"critical at {hc.disk_critical_percent:g}%)")
    return out


def health(cfg, site, now=None):
    now = now or site_now(site.timezone)
    checks = _database_checks(site, cfg.health, now)
    redis = _redis(cfg.health, min(site.collect_timeout, 2.0))
    if redis:
        checks["redis"] = redis
    for path, check in _disks(cfg.health).items():
        checks[f"disk:{path}"] = check
    code = max(c["code"] for c in checks.values())
    return {"site": site.name, "clock": unix_clock(now, site.timezone), "status": NAMES[code], "code": code,
            "checks": checks}


def text(report):
    lines = [f"{report['site']}: {report['status']}"]
    for name, c in report["checks"].items():
        lines.append(f"  {c['status']:<9} {name}: {c['detail']}")
    return "\n".join(lines) + "\n"
