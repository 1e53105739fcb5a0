"""Run the sections of a cadence against one site within its time budget -> the document.

The document is the one of metrics.md, for the metrics of the cadence asked (minute, hour,
or all of them) plus the collector's own: every such key is in `metrics` or in
`unsupported`, whatever happened. The sections run in worker threads, one per source: the
database's, and beside it (so that neither waits for the other) the bench's Redis's for the
queue metrics. If a source hangs beyond the budget (collect_timeout for the minute,
cadences.hour.collect_timeout for the hour), the main thread still returns a document in
time and the late results are dropped. A section that fails in any way leaves only its own
keys unsupported; without `redis` configured the Redis sections' keys are unsupported
without counting as a failure (like an optional table's).
"""
import calendar
import datetime as dt
import logging
import os
import resource
import sys
import threading
import time
import traceback
from types import SimpleNamespace

from zabbix_sepa import CONTRACT_VERSION, __version__, registry, resp
from zabbix_sepa.db import Database, DatabaseError, Unreachable
from zabbix_sepa.privacy import redact

log = logging.getLogger("zabbix_sepa.collect")

# Time the main thread grants a hanging worker beyond the budget before it
# gives up on it; small, so the agent's 3 s Timeout is never hit.
GRACE = 0.15
REDIS_NOT_CONFIGURED = ("not configured: the site has no `redis` (its bench's redis_queue, where the "
                        "background jobs wait)")
# Errors of a source: their text names what went wrong and is safe to show.
SOURCE_ERRORS = (DatabaseError, resp.RedisError, registry.SourceError)


def site_now(timezone=None):
    """The current wall time of the site, naive, to the second."""
    if timezone:
        from zoneinfo import ZoneInfo
        now = dt.datetime.now(ZoneInfo(timezone)).replace(tzinfo=None)
    else:
        now = dt.datetime.now()
    return now.replace(microsecond=0)


def unix_clock(naive, timezone=None):
    """N, read in the site's zone (default: this host's), as unix seconds."""
    if timezone:
        from zoneinfo import ZoneInfo
        return int(naive.replace(tzinfo=ZoneInfo(timezone)).timestamp())
    return int(naive.timestamp())


def months_before(day, months):
    """`day` minus calendar months, clamping the day like MariaDB's DATE_SUB."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def peak_rss_bytes():
    """This process's own peak resident memory.

    Linux: VmHWM of the process's memory, not getrusage's ru_maxrss, which keeps the
    peak of the image replaced by exec: a collector started with vfork (Python's
    subprocess, posix_spawn) would report its parent's memory."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class Context:
    """What a section sees: the time N (and as unix seconds, `clock`), the site's settings, and
    the source it reads: the database, or the bench's Redis (read commands only)."""

    def __init__(self, site, now, db=None, server=None, self_metrics=None, redis=None):
        self.now = now
        self.today = now.date()
        self.clock = unix_clock(now, site.timezone)
        self.site = site
        self.thresholds = site.thresholds
        self.discovery = site.discovery
        self.db = db
        self.redis = redis
        self.server = server
        self.self_metrics = self_metrics
        d = dt.timedelta
        self._base = {
            "now": now, "D": self.today,
            "h1": now - d(hours=1), "h24": now - d(hours=24),
            "d7": now - d(days=7), "d30": now - d(days=30),
            "D7": self.today - d(days=7), "D30": self.today - d(days=30),
            "D_plus30": self.today + d(days=30),
        }

    def params(self, **extra):
        return {**self._base, **extra}

    def age(self, moment):
        """Seconds from `moment` to N."""
        return (self.now - moment).total_seconds()

    def hours_ago(self, hours):
        return self.now - dt.timedelta(hours=hours)

    def days_before_now(self, days):
        return self.now - dt.timedelta(days=days)

    def months_before_today(self, months):
        return months_before(self.today, months)


class _Run:
    """Results shared between the worker and the main thread."""

    def __init__(self, deadline):
        self.deadline = deadline
        self.lock = threading.Lock()
        self.closed = False
        self.values, self.discovery, self.unsupported = {}, {}, {}
        self.failed = set()         # the cadences of the sections that failed
        self.ends = {}              # cadence -> (time.monotonic(), statements) when its last section ended
        self.redis_ended = None     # time.monotonic() when the Redis sections (minute ones) ended
        self.reachable = None       # None: never got an answer either way
        self.unreachable_reason = None
        self.db = None

    def store(self, section, values=None, reason=None, failure=False):
        with self.lock:
            if self.closed:
                return
            if reason is not None:
                for key in section.keys:
                    self.unsupported[key] = reason
                if failure:
                    self.failed.add(section.cadence)
                return
            for key in section.keys:
                if key in {d.name for d in section.discovery}:
                    self.discovery[key] = values[key]
                else:
                    self.values[key] = values[key]


def _sections_of(source, cadence):
    """The sections of `cadence` that read `source`: the minute ones first, so that a whole
    collection cut off by its budget loses the slow hourly ones."""
    found = [(g, s) for g, s in registry.sections(None if cadence == ALL else cadence) if s.source == source]
    return sorted(found, key=lambda gs: registry.CADENCES.index(gs[1].cadence))


def _db_sections(cadence):
    return _sections_of(registry.DATABASE, cadence)


def _redis_sections(cadence):
    return _sections_of(registry.REDIS, cadence)


def _run_section(ctx, site, group, section):
    """(values, None) or (None, reason): whatever goes wrong stays with this section's keys.
    A failure that is not a source's (SOURCE_ERRORS: the database's, Redis's, a SourceError)
    is a bug, named by its type and place only: its message could quote the data (an IBAN)
    that must not leave the collector."""
    name = f"{group.name}.{section.name}"
    try:
        values = section.run(ctx)
    except SOURCE_ERRORS as exc:
        log.warning("site %s: %s failed: %s", site.name, name, redact(str(exc)))
        return None, f"{name}: {redact(str(exc))}"
    except Exception as exc:  # noqa: BLE001 - a bug in one section must not cost the others
        where = _where(exc)
        log.error("site %s: %s failed: %s at %s", site.name, name, type(exc).__name__, where)
        return None, f"{name}: {type(exc).__name__} at {where} (a collector bug)"
    missing = [k for k in section.keys if not isinstance(values, dict) or k not in values]
    if missing:
        log.error("site %s: %s returned no value for %s", site.name, name, missing[0])
        return None, f"{name}: returned no value for {missing[0]} (a collector bug)"
    return values, None


def _where(exc):
    """file:line of the innermost zabbix_sepa frame of `exc`, e.g. groups/mandates.py:91."""
    package = f"{os.sep}zabbix_sepa{os.sep}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if package in f.filename]
    if not frames:
        return "?"
    return f"{frames[-1].filename.rsplit(package, 1)[1]}:{frames[-1].lineno}"


def _work(run, site, now, timings, cadence):
    try:
        db = Database(site.database, run.deadline)
    except Unreachable as exc:
        with run.lock:
            run.reachable, run.unreachable_reason = False, str(exc)
        return
    with run.lock:
        if run.closed:          # connected too late: the document is already out
            db.close()
            return
        run.reachable, run.db = True, db
    try:
        try:
            present, size, threads = db.inspect(registry.tables())
        except DatabaseError as exc:
            for _, section in _db_sections(cadence):
                run.store(section, reason=f"cannot list the site's tables: {exc}", failure=True)
            return
        ctx = Context(site, now, db, SimpleNamespace(schema_bytes=size, threads_connected=threads))
        for group, section in _db_sections(cadence):
            missing = [t for t in section.tables if t not in present]
            missing_optional = [t for t in section.optional_tables if t not in present]
            if missing:
                run.store(section, reason=f"required table `{missing[0]}` does not exist", failure=True)
                continue
            if missing_optional:
                run.store(section, reason=f"optional table `{missing_optional[0]}` does not exist")
                continue
            began, statements = time.monotonic(), db.statements
            values, reason = _run_section(ctx, site, group, section)
            run.ends[section.cadence] = (time.monotonic(), db.statements)
            if reason is not None:
                run.store(section, reason=reason, failure=True)
                continue
            took = time.monotonic() - began
            log.debug("site %s: %s.%s took %.1f ms", site.name, group.name, section.name, 1000 * took)
            if timings is not None:
                timings[f"{group.name}.{section.name}"] = (took, db.statements - statements)
            run.store(section, values)
    finally:
        db.close()


def _work_redis(run, site, now, cadence):
    """The Redis sections of `cadence` (the site's `redis` is configured): one connection,
    logged in, for all of them; whatever fails stays with their keys."""
    sections = _redis_sections(cadence)
    try:
        redis = resp.connect(site.redis, run.deadline)
    except resp.RedisError as exc:
        reason = redact(str(exc))
        log.warning("site %s: %s", site.name, reason)
        for _, section in sections:
            run.store(section, reason=reason, failure=True)
        return
    try:
        ctx = Context(site, now, redis=redis)
        for group, section in sections:
            values, reason = _run_section(ctx, site, group, section)
            if reason is not None:
                run.store(section, reason=reason, failure=True)
            else:
                log.debug("site %s: %s.%s: %d Redis commands", site.name, group.name, section.name, redis.commands)
                run.store(section, values)
        with run.lock:
            run.redis_ended = time.monotonic()
    finally:
        redis.close()


def _workers(run, site, now, timings, cadence):
    """The threads that collect: the database's, and the Redis's when it has work. Without
    `redis` configured its sections are unsupported at once, no failure."""
    threads = [threading.Thread(target=_work, args=(run, site, now, timings, cadence), name="collect",
                                daemon=True)]
    if _redis_sections(cadence):
        if site.redis is None:
            for _, section in _redis_sections(cadence):
                run.store(section, reason=REDIS_NOT_CONFIGURED)
        else:
            threads.append(threading.Thread(target=_work_redis, args=(run, site, now, cadence),
                                            name="collect-redis", daemon=True))
    return threads


ALL = "all"


def collect(site, now=None, started=None, timings=None, cadence=ALL):
    """The document of metrics.md for `site` at N (`now`, default: the site's current time),
    holding the metrics of `cadence` (minute, hour or all) and the collector's own.

    `timings`, a dict, receives {"group.section": (seconds, statements)} for each section
    that ran (the performance report reads it).

    The budget `site.budget(cadence)` counts from `started` (a time.monotonic()
    value, default: now); the CLI passes its process start time, so that
    Python's own start-up is inside the budget the agent's Timeout sees."""
    if cadence != ALL and cadence not in registry.CADENCES:
        raise ValueError(f"unknown cadence {cadence!r}: {', '.join(registry.CADENCES)} or {ALL}")
    return _Collection(site, now, started, timings, cadence).document(cadence)


def collect_each(site, now=None, started=None, timings=None):
    """One collection of everything, as one document per cadence: what `send` delivers to
    each cadence's master item when both are due. Each document's own metrics describe its
    cadence within the run: its status, and (the minute sections run first) the time and
    statements until its last section ended."""
    run = _Collection(site, now, started, timings, ALL)
    return {cadence: run.document(cadence) for cadence in registry.CADENCES}


class _Collection:
    """One run of the sections of `cadence` within its budget; documents of it."""

    def __init__(self, site, now, started, timings, cadence):
        self.began = time.monotonic()
        started = self.began if started is None else min(started, self.began)
        self.site, self.now, self.cadence = site, now or site_now(site.timezone), cadence
        budget = site.budget(cadence)
        run = self.run = _Run(started + budget)
        workers = _workers(run, site, self.now, timings, cadence)
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(max(0.0, run.deadline - time.monotonic()) + GRACE)
        with run.lock:
            run.closed = True
            self.finished = time.monotonic()
            if run.reachable is None:
                run.reachable = False
                run.unreachable_reason = (f"no answer from the database within {_budget_name(site, cadence)} "
                                          f"({budget:g} s)")
            if not run.reachable:
                log.warning("site %s: database unreachable: %s", site.name, run.unreachable_reason)
            for _, section in _db_sections(cadence):
                for key in section.keys:
                    if key in run.values or key in run.discovery or key in run.unsupported:
                        continue
                    if not run.reachable:
                        run.unsupported[key] = f"database unreachable: {run.unreachable_reason}"
                    else:
                        run.unsupported[key] = f"{_budget_name(site, cadence)} ({budget:g} s) exceeded"
                        run.failed.add(section.cadence)
            for _, section in _redis_sections(cadence):
                late = [k for k in section.keys if k not in run.values and k not in run.discovery
                        and k not in run.unsupported]
                for key in late:
                    run.unsupported[key] = f"{_budget_name(site, cadence)} ({budget:g} s) exceeded (Redis)"
                    run.failed.add(section.cadence)

    def self_metrics(self, cadence):
        """The collector's own metrics for the document of `cadence`."""
        run = self.run
        failed = run.failed if cadence == ALL else run.failed & {cadence}
        ended, statements = self.finished, (run.db.statements if run.db else 0)
        if cadence == registry.MINUTE and self.cadence == ALL and cadence in run.ends:
            ended, statements = run.ends[cadence]
            ended = max(ended, run.redis_ended or ended)     # the Redis sections ran beside them
        return {"sepa.collector.duration": round(ended - self.began, 6),
                "sepa.collector.queries": statements,
                "sepa.collector.rss": peak_rss_bytes(),
                "sepa.collector.status": 2 if not run.reachable else (1 if failed else 0),
                "sepa.collector.version": __version__}

    def document(self, cadence):
        run, values = self.run, dict(self.run.values)
        chosen = registry.sections(None if cadence == ALL else cadence)
        for _, section in chosen:
            if section.source == registry.COLLECTOR:
                values.update(section.run(Context(self.site, self.now, self_metrics=lambda: self.self_metrics(cadence))))
        metrics, unsupported, discovery = {}, {}, {}
        for _, section in chosen:
            for m in section.metrics:
                if m.key in values:
                    metrics[m.key] = values[m.key]
                else:
                    unsupported[m.key] = run.unsupported[m.key]
            for d in section.discovery:
                if d.name in run.discovery:
                    discovery[d.name] = run.discovery[d.name]
                else:
                    unsupported[f"discovery.{d.name}"] = run.unsupported[d.name]
        return {"version": CONTRACT_VERSION, "site": self.site.name,
                "clock": unix_clock(self.now, self.site.timezone), "cadence": cadence,
                "metrics": metrics, "discovery": discovery, "unsupported": unsupported}


def _budget_name(site, cadence):
    """The config key of the budget a collection of `cadence` had (all: the larger one)."""
    hourly = cadence == registry.HOUR or (cadence == ALL and site.hour_collect_timeout > site.collect_timeout)
    return "cadences.hour.collect_timeout" if hourly else "collect_timeout"
