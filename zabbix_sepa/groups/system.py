"""The site's database server, as seen by the collector's own session."""
from zabbix_sepa.groups.base import INT, Group, Metric, Section


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
)
