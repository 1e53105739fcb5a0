"""The site's database server, as seen by the collector's own session."""
from zabbix_sepa.groups.base import WARNING, INT, Group, Macro, Metric, Section, Threshold, Trigger

SIZE_MAX = Macro("{$SEPA.DB.SIZE.MAX}", Threshold("db_size_max_gb", 50, 0.001, 1e6),
                 "Size (GB) the site's database must stay below: its disk, or its plan's limit.", "G")
SIZE_TIMELEFT_MIN = Macro("{$SEPA.DB.SIZE.TIMELEFT.MIN}", Threshold("db_size_timeleft_days", 30, 1, 3650),
                          "Warn when the database is forecast to reach {$SEPA.DB.SIZE.MAX} within this time.",
                          "d")


def collect(ctx):
    # Read by the collector's first statement, together with table presence.
    return {"sepa.db.size": ctx.server.schema_bytes,
            "sepa.db.threads_connected": ctx.server.threads_connected}


GROUP = Group(
    name="system",
    title="Database server",
    sections=(
        Section("server", collect, max_statements=0, metrics=(
            Metric("sepa.db.size", "Site database size", INT, "B",
                   description="Bytes of data and indexes of the site's schema.", prometheus="sepa_db_size_bytes"),
            Metric("sepa.db.threads_connected", "Database threads connected", INT,
                   description="The server's Threads_connected.", prometheus="sepa_db_threads_connected"),
        )),
    ),
    macros=(SIZE_MAX, SIZE_TIMELEFT_MIN),
    triggers=(
        Trigger("SEPA: database grows toward its maximum",
                f"timeleft(/T/sepa.db.size,7d,{SIZE_MAX.name})<{SIZE_TIMELEFT_MIN.name}", WARNING,
                "Extrapolating the last 7 days' growth, the site's database reaches its size maximum within "
                "the warning time. Make room (Log Settings' clean-up of Error, Activity and Scheduled Job "
                "logs; archive old data) or raise the limit with the disk.",
                event_name="SEPA: database reaches " + SIZE_MAX.name + " within " + SIZE_TIMELEFT_MIN.name,
                opdata="Size: {ITEM.LASTVALUE1}", scope="capacity"),
    ),
)
