"""What a report is: a title, a period and named tables (some drawn as charts).

Every report type builds one `Report`; `render` turns it into JSON, Markdown, CSV or HTML.
A table holds aggregates only (counts, sums, rates, batch names, bank codes, job and
method code paths): no row of a person ever reaches one.
"""
import datetime as dt
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

# Column kinds steer formatting: "text", "int", "amount" (2 decimals), "pct" (2 decimals),
# "hours" (1 decimal), "ms" (1 decimal), "date", "num" (integers as such, floats 2 decimals).
TEXT, INT, AMOUNT, PCT, HOURS, MS, DATE, NUM = "text", "int", "amount", "pct", "hours", "ms", "date", "num"


@dataclass(frozen=True)
class Column:
    key: str
    heading: str
    kind: str = TEXT


@dataclass(frozen=True)
class Chart:
    """Draw the table: `x` along the bottom, one line or bar per key in `series`."""
    kind: str                        # "line" or "bar"
    x: str
    series: Tuple[str, ...]


@dataclass
class Table:
    name: str                        # for --table and the CSV file name
    title: str
    columns: Tuple[Column, ...]
    rows: List[dict] = field(default_factory=list)
    note: str = ""
    chart: Optional[Chart] = None
    total: Optional[dict] = None     # shown as the last row; not part of `rows` or the chart

    def heading(self, key):
        return next(c.heading for c in self.columns if c.key == key)


@dataclass
class Report:
    kind: str                        # executive, operational, ...
    title: str
    site: str
    now: dt.datetime                 # N: the report describes the site as of N
    days: Optional[int] = None       # the period: N - days .. N (dates D - days .. D)
    tables: List[Table] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def table(self, name):
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def first_day(self):
        return None if self.days is None else self.now.date() - dt.timedelta(days=self.days)


@dataclass(frozen=True)
class Window:
    """A reporting window: datetimes since <= t <= until, dates first <= d <= last (metrics.md's
    "within X": the 30-day window of a date column spans 31 dates)."""
    since: dt.datetime
    until: dt.datetime
    first: dt.date
    last: dt.date


def windows(now, days):
    """(current, previous): the `days` before N, and the equally long stretch before that."""
    d = dt.timedelta(days=days)
    today = now.date()
    current = Window(now - d, now, today - d, today)
    # the previous window ends just before the current one begins: a datetime a microsecond
    # earlier (Frappe keeps microseconds), the date a day earlier
    previous = Window(now - 2 * d, now - d - dt.timedelta(microseconds=1),
                      today - 2 * d - dt.timedelta(days=1), today - d - dt.timedelta(days=1))
    return current, previous


def percent(part, whole, empty):
    """part / whole x 100 with two decimals, as the collector computes its rates."""
    return round(100.0 * float(part) / float(whole), 2) if whole else empty


def change(current, previous):
    """(difference, relative change in %, or None when the previous value is 0)."""
    if current is None or previous is None:
        return None, None
    diff = current - previous
    rel = round(100.0 * diff / previous, 1) if previous else None
    return (round(diff, 2) if isinstance(diff, float) else diff), rel


def direction(current, previous):
    if current is None or previous is None:
        return "n/a"
    if current == previous:
        return "flat"
    return "up" if current > previous else "down"


def collation_key(value):
    """A status as the site's collation compares it: case-insensitive, trailing blanks ignored."""
    return (value or "").rstrip(" ").casefold()


def label(value):
    """A status or type as a table shows it: NULL and blanks are named, not left empty."""
    if value is None:
        return "(none)"
    return value if value.strip() else "(blank)"


def bucket_of(day, days):
    """The label of a date in a `days` long report: the date itself up to 31 days, ISO weeks
    up to ~6 months, else months (so that a chart keeps a readable number of points)."""
    if days <= 31:
        return day.isoformat()
    if days <= 186:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def buckets(first, last, days):
    """The labels of the dates first..last, in order, each once."""
    labels, d = [], first
    while d <= last:
        name = bucket_of(d, days)
        if not labels or labels[-1] != name:
            labels.append(name)
        d += dt.timedelta(days=1)
    return labels
