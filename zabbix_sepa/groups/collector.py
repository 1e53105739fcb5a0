"""The collector's view of itself: how long, how many statements, how much memory, how it went.

Its metrics are in every document, whatever the cadence: the template has them once per
cadence (sepa.collector.status for the minute, sepa.collector.status[hour] for the hour).
The triggers here are the roots the business triggers depend on: no data at a cadence,
and the database unreachable."""
from zabbix_sepa.groups.base import (ANOMALY_DAYS, ANOMALY_MAX_DEVIATIONS, COLLECTOR, EVERY_RUN, FLOAT, HIGH, HOUR,
                                     INFO, INT, MINUTE, STR, TEXT, WARNING, Group, Macro, Metric, Order, Section,
                                     Threshold, Trigger, unusual)

# Value map for sepa.collector.status (the template issue renders it).
STATUS_NAMES = {0: "all groups collected", 1: "some group failed", 2: "database unreachable"}


def collect(ctx):
    return ctx.self_metrics()


# Not a metric of the document: the template item reading its `unsupported` map.
UNSUPPORTED = Metric("sepa.collector.unsupported", "Collector unsupported", TEXT,
                     description="What the last collection could not collect, and why: "
                                 "{\"metric key\": \"reason\"}; {} when everything was collected.")

NODATA = {MINUTE: Macro("{$SEPA.NODATA.TIME}", Threshold("nodata_minutes", 10, 0.5, 10080),
                        "Time without a minute document (sepa.collect) after which the collector is "
                        "considered silent.", "m"),
          HOUR: Macro('{$SEPA.NODATA.TIME:"hour"}', Threshold("nodata_hour_minutes", 150, 5, 10080),
                      "Time without an hourly document (sepa.collect.hour) after which the hourly "
                      "collection is considered silent.", "m")}
DURATION = {MINUTE: Macro("{$SEPA.COLLECTOR.DURATION.MAX}", Threshold("collector_duration_max", 2, 0.1, 3600),
                          "Minute collection duration (s) above which a warning is raised: near "
                          "collect_timeout, groups start to be cut off."),
            HOUR: Macro('{$SEPA.COLLECTOR.DURATION.MAX:"hour"}',
                        Threshold("collector_hour_duration_max", 20, 0.1, 3600),
                        "Hourly collection duration (s) above which a warning is raised: near "
                        "cadences.hour.collect_timeout, groups start to be cut off.")}

_NO_DATA_MINUTE = Trigger(
    "SEPA: no data from the collector", "nodata(/T/sepa.collect,{$SEPA.NODATA.TIME})=1", HIGH,
    "No document arrived for the threshold time: the send timer or the agent stopped, the "
    "host cannot reach Zabbix, or values are rejected. Run `zabbix-sepa send` by hand on "
    "the collector host and read its output.",
    event_name="SEPA: no data from the collector for {$SEPA.NODATA.TIME}", independent=True)
NO_DATA = {
    MINUTE: _NO_DATA_MINUTE,
    HOUR: Trigger("SEPA: no hourly data from the collector",
                  'nodata(/T/sepa.collect.hour,{$SEPA.NODATA.TIME:"hour"})=1', HIGH,
                  "No hourly document arrived for the threshold time, while the minute one may still "
                  "arrive: the hourly collection fails or is not sent (agent: the item's timeout; "
                  "send: the timer). Run `zabbix-sepa send --cadence hour` by hand and read its output.",
                  event_name='SEPA: no hourly data from the collector for {$SEPA.NODATA.TIME:"hour"}',
                  independent=True, depends_on=(_NO_DATA_MINUTE,)),
}
UNREACHABLE = Trigger("SEPA: collector cannot reach the database",
                      "last(/T/sepa.collector.status)=2", HIGH,
                      "The collector could not reach the site's database (down, wrong credentials, or no "
                      "answer within collect_timeout); no SEPA metric is current. The reason is in the "
                      "document's unsupported map (item SEPA: collector unsupported).",
                      event_name="SEPA: collector cannot reach the database", independent=True)


DURATION_ANOMALY = Macro("{$SEPA.COLLECTOR.ANOMALY.MAX}", Threshold("collector_anomaly_deviations", 3, 1,
                                                                   ANOMALY_MAX_DEVIATIONS),
                         f"Standard deviations from the same hour on the {ANOMALY_DAYS} days before above "
                         "which an hour's minute-collection duration is unusual (lower: more sensitive).")


def _partial(cadence):
    key, what = ("sepa.collector.status", "") if cadence == MINUTE else \
        (f"sepa.collector.status[{cadence}]", "hourly ")
    unsupported = "SEPA: collector unsupported" + ("" if cadence == MINUTE else f" [{cadence}]")
    return Trigger(f"SEPA: {what}collection partial",
                   f"last(/T/{key})=1", WARNING,
                   f"Some metric group of the {cadence} collection could not be collected (a required "
                   f"table is missing, a query failed, its collect_timeout was exceeded, or the bench's "
                   f"Redis did not answer or refused the login). The item "
                   f"{unsupported} says which and why. (A database that cannot be reached is the minute "
                   f"collection's problem \"collector cannot reach the database\".)",
                   event_name=f"SEPA: {what}collection partial (some groups failed)", independent=True)


def _slow(cadence):
    key, what, n = ("sepa.collector.duration", "", "three times") if cadence == MINUTE else \
        (f"sepa.collector.duration[{cadence}]", "hourly ", "three hours in a row")
    macro = DURATION[cadence].name
    return Trigger(f"SEPA: {what}collection slow",
                   f"min(/T/{key},#3)>{macro}", WARNING,
                   f"Three {cadence} collections in a row took longer than the threshold; close to its "
                   f"collect_timeout groups are cut off. See README, Sizing.",
                   event_name=f"SEPA: {what}collection took more than {macro}s {n}", scope="performance")


GROUP = Group(
    name="collector",
    title="Collector",
    sections=(
        Section("self", collect, source=COLLECTOR, cadence=EVERY_RUN, metrics=(
            Metric("sepa.collector.duration", "Collection duration", FLOAT, "s",
                   description="Seconds the whole collection took.", prometheus="sepa_collector_duration_seconds"),
            Metric("sepa.collector.queries", "Collection SQL statements", INT,
                   description="SQL statements the collection executed.", prometheus="sepa_collector_queries"),
            Metric("sepa.collector.rss", "Collector peak memory", INT, "B",
                   description="Peak resident memory of the collector process.",
                   prometheus="sepa_collector_rss_bytes"),
            Metric("sepa.collector.status", "Collector status", INT,
                   description="0 all groups collected; 1 some group failed (required table missing, "
                               "query error, timeout, or the configured Redis failing); 2 the database could "
                               "not be reached.",
                   valuemap=tuple(STATUS_NAMES.items()), prometheus="sepa_collector_status", overview="Collector"),
            Metric("sepa.collector.version", "Collector version", STR,
                   description="zabbix-sepa package version."),
        )),
    ),
    macros=(NODATA[MINUTE], NODATA[HOUR], DURATION[MINUTE], DURATION[HOUR], DURATION_ANOMALY),
    triggers=(NO_DATA[MINUTE], NO_DATA[HOUR], UNREACHABLE, _partial(MINUTE), _partial(HOUR),
              _slow(MINUTE), _slow(HOUR),
              unusual("SEPA: unusually slow collection", "sepa.collector.duration", DURATION_ANOMALY.name, INFO,
                      f"The minute collections of the last hour took far longer than at the same hour on the "
                      f"{ANOMALY_DAYS} days before (from trends), and the newest still does: the site's "
                      "database got slower or its data grew fast, before the duration maximum is reached. "
                      "Needs two weeks of history to judge.",
                      event_name="SEPA: unusually slow collection (more than " + DURATION_ANOMALY.name +
                                 " deviations above the same hour before)",
                      opdata="Duration: {ITEM.LASTVALUE1}")),
    orders=(
        Order(NODATA[MINUTE].threshold, NODATA[HOUR].threshold, "the hourly document comes less often than the "
              "minute one, and \"no hourly data\" defers to \"no data\": a dead collector raises one problem "
              "only if \"no data\" comes first"),
    ),
)
