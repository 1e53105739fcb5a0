"""The collector's view of itself: how long, how many statements, how much memory, how it went."""
from zabbix_sepa.registry import FLOAT, INT, STR, Group, Metric, Section

# Value map for sepa.collector.status (the template issue renders it).
STATUS_NAMES = {0: "all groups collected", 1: "some group failed", 2: "database unreachable"}


def collect(ctx):
    return ctx.self_metrics()


GROUP = Group(
    name="collector",
    title="Collector",
    sections=(
        Section("self", collect, needs_db=False, metrics=(
            Metric("sepa.collector.duration", "Collection duration", FLOAT, "s",
                   description="Seconds the whole collection took."),
            Metric("sepa.collector.queries", "Collection SQL statements", INT,
                   description="SQL statements the collection executed."),
            Metric("sepa.collector.rss", "Collector peak memory", INT, "B",
                   description="Peak resident memory of the collector process."),
            Metric("sepa.collector.status", "Collector status", INT,
                   description="0 all groups collected; 1 some group failed (required table missing, "
                               "query error or timeout); 2 the database could not be reached."),
            Metric("sepa.collector.version", "Collector version", STR,
                   description="zabbix-sepa package version."),
        )),
    ),
)
