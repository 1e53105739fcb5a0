"""Performance report: the collector measured on this site's database, against its targets.

Runs the whole collection `runs` times (default 3) in this process and reports the median
duration per section (with its cadence) and in total, the statements, and the peak resident
memory. Targets: the minute sections within `collect_timeout` (the agent's 3 s Timeout
leaves it 2.5 s by default), the hourly ones within `cadences.hour.collect_timeout`, under 5 ms per metric on average and under 100 MB of memory (seed 000's figures
for in-app monitoring), and no more statements than the sections declare (`max_statements`,
mostly one each) plus the two of the session and the table check.
"""
import statistics
import time

from zabbix_sepa import registry
from zabbix_sepa.collect import peak_rss_bytes
from zabbix_sepa.reports.model import INT, MS, NUM, Column, Table

TITLE = "zabbix-sepa collector performance"

MS_PER_METRIC_TARGET = 5.0
RSS_TARGET = 100 * 2**20


def build(ctx, report):
    report.days = None
    runs, per_section = [], {}
    for i in range(ctx.runs):
        ctx.progress(f"collection {i + 1} of {ctx.runs}")
        timings = {}
        began = time.monotonic()
        doc = ctx.document(timings=timings)
        runs.append((time.monotonic() - began, doc["metrics"].get("sepa.collector.queries", 0)))
        for name, (seconds, statements) in timings.items():
            per_section.setdefault(name, []).append((seconds, statements))
    status = doc["metrics"]["sepa.collector.status"]
    if status:
        report.notes.append(f"The last collection had status {status}: "
                            + "; ".join(sorted(set(doc["unsupported"].values())))[:500])

    sections = [(g.name, s) for g in registry.groups() for s in g.sections if s.needs_db]
    rows = []
    for group, section in sections:
        measured = per_section.get(f"{group}.{section.name}")
        rows.append({"section": f"{group}.{section.name}", "cadence": section.cadence,
                     "ms": round(1000 * statistics.median(s for s, _ in measured), 1) if measured else None,
                     "statements": max(n for _, n in measured) if measured else None,
                     "declared": section.max_statements})
    rows.sort(key=lambda r: -(r["ms"] or 0))
    report.tables.append(Table("sections", "Time per section (median)", (
        Column("section", "Section"), Column("cadence", "Cadence"), Column("ms", "Milliseconds", MS),
        Column("statements", "Statements", INT),
        Column("declared", "At most", INT)),
        rows, note="A section is one statement (or one streamed read) of a metric group; 'at most' is what "
                   "its declaration in the registry allows."))
    over = [r["section"] for r in rows if r["statements"] is not None and r["statements"] > r["declared"]]
    if over:
        report.notes.append(f"More statements than declared: {', '.join(over)}")

    duration = statistics.median(d for d, _ in runs)
    statements = runs[-1][1]
    allowed = sum(s.max_statements for _, s in sections) + 2
    n_metrics = len(doc["metrics"]) + len(doc["unsupported"])
    rss = peak_rss_bytes()

    def cadence_seconds(cadence):
        return sum(r["ms"] or 0 for r in rows if r["cadence"] == cadence) / 1000
    minute, hour = cadence_seconds(registry.MINUTE), cadence_seconds(registry.HOUR)
    limits = ctx.site.budget(registry.MINUTE), ctx.site.budget(registry.HOUR)
    targets = [
        ("minute sections (s)", round(minute, 3), f"<= {limits[0]:g} (collect_timeout)", minute <= limits[0]),
        ("hourly sections (s)", round(hour, 3), f"<= {limits[1]:g} (cadences.hour.collect_timeout)",
         hour <= limits[1]),
        ("whole collection (s)", round(duration, 3), f"<= {max(limits):g}", duration <= max(limits)),
        ("per metric (ms)", round(1000 * duration / n_metrics, 2), f"<= {MS_PER_METRIC_TARGET:g}",
         1000 * duration / n_metrics <= MS_PER_METRIC_TARGET),
        ("statements", statements, f"<= {allowed}", statements <= allowed),
        ("peak memory (MB)", round(rss / 2**20, 1), f"<= {RSS_TARGET // 2**20}", rss <= RSS_TARGET),
    ]
    report.tables.append(Table("targets", "Against the targets", (
        Column("measure", "Measure"), Column("value", "Measured", NUM), Column("target", "Target"),
        Column("met", "Met")),
        [{"measure": m, "value": v, "target": t, "met": "yes" if ok else "NO"} for m, v, t, ok in targets],
        note=f"Median of {len(runs)} collection(s) of {n_metrics} metrics as of {ctx.now:%Y-%m-%d %H:%M:%S}; "
             f"memory is this process's peak."))
