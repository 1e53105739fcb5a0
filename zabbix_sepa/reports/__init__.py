"""Reports and analytics over a site's database: aggregate SQL only, no personal data.

`build(kind, site, now, days, ...)` makes a `model.Report` of one type; `render` writes it.
Each type is a small module with `TITLE` and `build(ctx, report)`. Values that the collector
also computes (dormant mandates, banks, outstanding totals, ...) are taken from one
collection at N, so a report and Zabbix never disagree on them.
"""
import dataclasses
import importlib
import time

from zabbix_sepa.db import Database, DatabaseError
from zabbix_sepa.reports.model import Report, windows

TYPES = ("executive", "operational", "financial", "mandates", "performance", "daily")


class ReportError(Exception):
    """The report could not be made; str() is safe to show."""


class Context:
    """What a report type sees: the database, N, the period, and the collector's document."""

    def __init__(self, site, now, days, db, timeout, progress=None, alerts=None, runs=3):
        self.site, self.now, self.today, self.days, self.db = site, now, now.date(), days, db
        self.current, self.previous = windows(now, days)
        self.timeout, self.runs, self.alerts = timeout, runs, alerts
        self._progress = progress or (lambda text: None)
        self._documents = {}

    def progress(self, text):
        self._progress(text)

    def params(self, **extra):
        c, p = self.current, self.previous
        return {"now": self.now, "D": self.today, "since": c.since, "first": c.first,
                "p_since": p.since, "p_until": p.until, "p_first": p.first, "p_last": p.last, **extra}

    def document(self, timings=None, cadence="all"):
        """One collection at N of `cadence` (default: all metrics), with the report's time budget
        instead of collect_timeout; passing `timings` collects anew and fills it (see
        collect.collect)."""
        if cadence not in self._documents or timings is not None:
            from zabbix_sepa.collect import collect
            self.progress("collecting the site's metrics")
            site = dataclasses.replace(self.site, collect_timeout=self.timeout, hour_collect_timeout=self.timeout)
            self._documents[cadence] = collect(site, self.now, timings=timings, cadence=cadence)
        return self._documents[cadence]

    def metric(self, key, notes):
        """A metric of the document, or None with the reason added to `notes`."""
        doc = self.document()
        if key in doc["metrics"]:
            return doc["metrics"][key]
        note = f"{key}: not collected ({doc['unsupported'].get(key, 'unknown reason')})"
        if note not in notes:
            notes.append(note)
        return None


def build(kind, site, now, days, *, timeout=300, progress=None, alerts=None, runs=3):
    """The Report of type `kind` for `site` as of N over the `days` before it."""
    if kind not in TYPES:
        raise ReportError(f"unknown report type {kind!r} (one of: {', '.join(TYPES)})")
    module = importlib.import_module(f"zabbix_sepa.reports.{kind}")
    try:
        db = Database(site.database, time.monotonic() + timeout)
    except DatabaseError as exc:
        raise ReportError(f"site {site.name}: {exc}") from None
    try:
        ctx = Context(site, now, days, db, timeout, progress, alerts, runs)
        report = Report(kind, module.TITLE, site.name, now, days)
        module.build(ctx, report)
        return report
    except DatabaseError as exc:
        raise ReportError(f"site {site.name}: {kind} report: {exc}") from None
    finally:
        db.close()
