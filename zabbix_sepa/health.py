"""`zabbix-sepa health`: seed 003's health check of a site, judged healthy, degraded or critical.

Checks: the database (reachable, latency), Redis (only when `redis` is configured: a PING
on a plain socket), the scheduler (age of the newest Scheduled Job Log), disk usage of the
configured paths (statvfs, as df counts), and errors per hour against `thresholds.error_rate_per_hour`.
Exit status and "code": 0 healthy, 1 degraded, 2 critical (the worst check wins).
"""
import time

from zabbix_sepa.collect import site_now, unix_clock
from zabbix_sepa.db import Database, DatabaseError
from zabbix_sepa.groups.health import CRITICAL, NAMES, check, database_checks, host_checks


def health(cfg, site, now=None):
    """The report: every check (zabbix_sepa.groups.health, the same the collector sends to
    Zabbix), on a connection of its own; an unreachable database makes its checks critical."""
    now = now or site_now(site.timezone)
    try:
        db = Database(site.database, time.monotonic() + site.collect_timeout)
        try:
            checks = database_checks(db, site, now)
        finally:
            db.close()
    except DatabaseError as exc:
        reason = f"database unreachable or failing: {exc}"
        checks = {"database": check(CRITICAL, None, reason), "scheduler": check(CRITICAL, None, "unknown: " + reason),
                  "error_rate": check(CRITICAL, None, "unknown: " + reason)}
    checks.update(host_checks(site.health, min(site.collect_timeout, 2.0)))
    code = max(c["code"] for c in checks.values())
    return {"site": site.name, "clock": unix_clock(now, site.timezone), "status": NAMES[code], "code": code,
            "checks": checks}


def text(report):
    lines = [f"{report['site']}: {report['status']}"]
    for name, c in report["checks"].items():
        lines.append(f"  {c['status']:<9} {name}: {c['detail']}")
    return "\n".join(lines) + "\n"
