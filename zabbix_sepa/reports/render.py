"""A Report as JSON, Markdown, CSV (one table per file, RFC 4180) or self-contained HTML."""
import csv
import io
import json
from html import escape

from zabbix_sepa import __version__
from zabbix_sepa.reports import svg
from zabbix_sepa.reports.model import AMOUNT, DATE, HOURS, INT, MS, NUM, PCT, TEXT

def cell(value, kind):
    """A value as people read it (Markdown, HTML): amounts and rates with two decimals."""
    if value is None:
        return "n/a"
    if (kind in (AMOUNT, PCT) and isinstance(value, (int, float))) or (kind == NUM and isinstance(value, float)):
        return f"{value:,.2f}"
    if kind in (HOURS, MS) and isinstance(value, (int, float)):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool) and kind in (INT, NUM):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _period(report):
    if report.days is None:
        return f"as of {report.now:%Y-%m-%d %H:%M:%S}"
    return (f"{report.first_day.isoformat()} .. {report.now:%Y-%m-%d %H:%M:%S} "
            f"({report.days} days)")


def _with_total(table):
    return table.rows + ([table.total] if table.total else [])


def to_json(report):
    return json.dumps({
        "report": report.kind, "title": report.title, "site": report.site,
        "as_of": report.now.isoformat(sep=" "), "days": report.days,
        "from": report.first_day.isoformat() if report.first_day else None,
        "tables": {t.name: {"title": t.title, "columns": [c.key for c in t.columns], "rows": t.rows,
                            **({"total": t.total} if t.total else {}),
                            **({"note": t.note} if t.note else {})} for t in report.tables},
        "notes": report.notes, "version": __version__,
    }, indent=1, default=str) + "\n"


def to_markdown(report):
    out = [f"# {report.title}: {report.site}", "", f"Period: {_period(report)}", ""]
    for t in report.tables:
        out += [f"## {t.title}", ""]
        if t.note:
            out += [t.note, ""]
        if not t.rows:
            out += ["(none)", ""]
            continue
        out.append("| " + " | ".join(c.heading for c in t.columns) + " |")
        out.append("|" + "|".join("---:" if c.kind not in (TEXT, DATE) else "---" for c in t.columns) + "|")
        for row in _with_total(t):
            out.append("| " + " | ".join(cell(row.get(c.key), c.kind).replace("|", "\\|")
                                         for c in t.columns) + " |")
        out.append("")
    for note in report.notes:
        out.append(f"- {note}")
    out += ["", f"zabbix-sepa {__version__}", ""]
    return "\n".join(out)


def to_csv(table):
    """One table, RFC 4180: a header row of column keys, CRLF line ends, quotes where needed."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.key for c in table.columns])
    for row in _with_total(table):
        writer.writerow(["" if row.get(c.key) is None else row.get(c.key) for c in table.columns])
    return buf.getvalue()


STYLE = """
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1100px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; } th { background: #f0f0f0; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
p.note { color: #555; font-size: 13px; } footer { color: #777; font-size: 12px; margin-top: 24px; }
"""


def to_html(report):
    e = escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(report.title)}: {e(report.site)}</title>", f"<style>{STYLE}</style></head><body>",
           f"<h1>{e(report.title)}: {e(report.site)}</h1>", f"<p>Period: {e(_period(report))}</p>"]
    for t in report.tables:
        out.append(f'<h2 id="{e(t.name)}">{e(t.title)}</h2>')
        if t.note:
            out.append(f'<p class="note">{e(t.note)}</p>')
        if t.chart and t.rows:
            labels = [str(r.get(t.chart.x)) for r in t.rows]
            series = {t.heading(k): [r.get(k) for r in t.rows] for k in t.chart.series}
            out.append(svg.chart(t.chart.kind, labels, series, t.title))
        if not t.rows:
            out.append("<p>(none)</p>")
            continue
        out.append("<table><thead><tr>" + "".join(f"<th>{e(c.heading)}</th>" for c in t.columns)
                   + "</tr></thead><tbody>")
        for row in _with_total(t):
            out.append("<tr>" + "".join(
                f'<td{"" if c.kind in (TEXT, DATE) else " class=n"}>{e(cell(row.get(c.key), c.kind))}</td>'
                for c in t.columns) + "</tr>")
        out.append("</tbody></table>")
    if report.notes:
        out.append("<ul>" + "".join(f'<li class="note">{e(n)}</li>' for n in report.notes) + "</ul>")
    out.append(f"<footer>zabbix-sepa {e(__version__)}, as of {report.now:%Y-%m-%d %H:%M:%S}</footer>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render(report, fmt, table=None):
    """The text of `report` in `fmt`; for CSV, `table` names the one table to write."""
    if fmt == "json":
        return to_json(report)
    if fmt == "md":
        return to_markdown(report)
    if fmt == "html":
        return to_html(report)
    if fmt == "csv":
        return to_csv(report.table(table))
    raise ValueError(f"unknown format {fmt!r}")
