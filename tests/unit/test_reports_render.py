"""Pure parts of the reports: periods, buckets, formatting, CSV quoting, SVG charts; and the
collection budget's start (the process age)."""
import csv
import datetime as dt
import io
import subprocess
import sys

from zabbix_sepa import cli, reports
from zabbix_sepa.reports import svg
from zabbix_sepa.reports.model import AMOUNT, INT, NUM, Column, Report, Table, bucket_of, buckets, change, windows
from zabbix_sepa.reports.render import cell, render

N = dt.datetime(2026, 11, 22, 12, 0, 0)


def test_windows_follow_the_contract_and_touch_without_overlap():
    cur, prev = windows(N, 30)
    assert (cur.since, cur.until, cur.first, cur.last) == (N - dt.timedelta(days=30), N, dt.date(2026, 10, 23),
                                                           dt.date(2026, 11, 22))
    assert prev.last == cur.first - dt.timedelta(days=1)
    assert (prev.last - prev.first).days == (cur.last - cur.first).days        # as many dates
    assert prev.until < cur.since and cur.since - prev.until == dt.timedelta(microseconds=1)


def test_buckets_are_days_weeks_or_months():
    assert bucket_of(dt.date(2026, 11, 22), 30) == "2026-11-22"
    assert bucket_of(dt.date(2026, 11, 22), 120) == "2026-W47"
    assert bucket_of(dt.date(2027, 1, 1), 120) == "2026-W53"                   # ISO year, not calendar year
    assert bucket_of(dt.date(2026, 11, 22), 365) == "2026-11"
    assert buckets(dt.date(2026, 10, 30), dt.date(2026, 12, 2), 365) == ["2026-10", "2026-11", "2026-12"]


def test_change_and_cells():
    assert change(120.0, 100.0) == (20.0, 20.0) and change(5, 0) == (5, None) and change(None, 3) == (None, None)
    assert cell(1234.5, AMOUNT) == "1,234.50" and cell(1234, INT) == "1,234" and cell(None, INT) == "n/a"
    assert cell(3, NUM) == "3" and cell(3.0, NUM) == "3.00" and cell("x", INT) == "x"


def test_csv_is_rfc4180():
    t = Table("t", "T", (Column("a", "A"), Column("b", "B", INT)),
              [{"a": 'comma, "quote"\nnewline', "b": 1}, {"a": None, "b": 2}], total={"a": "total", "b": 3})
    text = render(Report("x", "X", "s", N, 1, tables=[t]), "csv", "t")
    assert text.startswith("a,b\r\n") and text.endswith("total,3\r\n")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["a", "b"], ['comma, "quote"\nnewline', "1"], ["", "2"], ["total", "3"]]


def test_html_escapes_and_has_no_script():
    t = Table("t", "<b>T</b>", (Column("a", "A"),), [{"a": "<script>alert(1)</script>"}])
    html = render(Report("x", "X & Y", "s", N, 1, tables=[t]), "html")
    assert "<script>" not in html and "&lt;script&gt;" in html and "X &amp; Y" in html


def test_svg_scales_and_labels_without_overlap():
    labels = [f"2026-11-{d:02d}" for d in range(1, 31)]
    out = svg.chart("bar", labels, {"amount": [float(d) for d in range(30)]}, "t")
    assert out.startswith("<svg") and out.count("<rect") == 29 + 1      # 29 non-zero bars and the legend
    assert ">11-01<" in out and "2026-11-01" not in out.split("<title>")[0]
    shown = out.count('font-size="10"')                  # x labels: as many as fit, 6 px a character
    assert shown * (6 * len("11-01") + 10) <= svg.WIDTH - svg.LEFT - svg.RIGHT and shown >= 10
    assert svg._nice_max(0) == 1 and svg._nice_max(7) == 10 and svg._nice_max(120) == 200 and svg._nice_max(500) == 500
    line = svg.chart("line", ["a", "b"], {"x": [1, None]})
    assert "<polyline" in line


def test_cli_knows_every_report_type():
    assert cli.REPORT_TYPES == reports.TYPES


def test_process_age_is_the_real_start_not_a_rounded_one():
    """The collection budget counts from the process start; psutil's create_time can be up to a
    second early (boot time in whole seconds), which cost up to 40 % of a 2.5 s budget."""
    code = ("import time; t0 = time.monotonic(); from zabbix_sepa.cli import _process_start; "
            "print(t0 - _process_start())")
    ages = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(3)]
    # what elapsed before t0 is Python's own start-up: well under half a second
    assert all(-0.02 <= a < 0.5 for a in ages), ages
