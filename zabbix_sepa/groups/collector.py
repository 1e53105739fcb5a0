"""The collector's view of itself: how long, how many statements, how much memory, how it went."""
from zabbix_sepa.registry import FLOAT, HIGH, INT, STR, WARNING, Group, Macro, Metric, Section, Trigger

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
                               "query error or timeout); 2 the database could not be reached.",
                   valuemap=tuple(STATUS_NAMES.items())),
            Metric("sepa.collector.version", "Collector version", STR,
                   description="zabbix-sepa package version."),
        )),
    ),
    macros=(
        Macro("{$SEPA.NODATA.TIME}", "nodata_minutes",
              "Time without a value of sepa.collect after which the collector is considered silent.", "m"),
        Macro("{$SEPA.COLLECTOR.DURATION.MAX}", "collector_duration_max",
              "Collection duration (s) above which a warning is raised: near collect_timeout, groups "
              "start to be cut off."),
    ),
    triggers=(
        Trigger("SEPA: no data from the collector",
                "nodata(/T/sepa.collect,{$SEPA.NODATA.TIME})=1", HIGH,
                "No document arrived for the threshold time: the send timer or the agent stopped, the "
                "host cannot reach Zabbix, or values are rejected. Run `zabbix-sepa send` by hand on "
                "the collector host and read its output.",
                event_name="SEPA: no data from the collector for {$SEPA.NODATA.TIME}", independent=True),
        Trigger("SEPA: collector cannot reach the database",
                "last(/T/sepa.collector.status)=2", HIGH,
                "The collector could not reach the site's database (down, wrong credentials, or no "
                "answer within collect_timeout); no SEPA metric is current. The reason is in the "
                "document's unsupported map (item SEPA: collector unsupported).",
                event_name="SEPA: collector cannot reach the database", independent=True),
        Trigger("SEPA: collection partial",
                "last(/T/sepa.collector.status)=1", WARNING,
                "Some metric group could not be collected (a required table is missing, a query "
                "failed or collect_timeout was exceeded). The item SEPA: collector unsupported says "
                "which and why.",
                event_name="SEPA: collection partial (some groups failed)", independent=True),
        Trigger("SEPA: collection slow",
                "min(/T/sepa.collector.duration,#3)>{$SEPA.COLLECTOR.DURATION.MAX}", WARNING,
                "Three collections in a row took longer than the threshold; close to collect_timeout "
                "groups are cut off. See README, Sizing.",
                event_name="SEPA: collection took more than {$SEPA.COLLECTOR.DURATION.MAX}s three times",
                scope="performance"),
    ),
)
