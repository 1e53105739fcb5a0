"""Membership dues schedules."""
from zabbix_sepa.groups.base import AVERAGE, INT, Group, Macro, Metric, Section, Threshold, above

SCHEDULE = "tabMembership Dues Schedule"

SQL = f"""
SELECT COALESCE(SUM(d.status = 'Active'), 0),
  COALESCE(SUM(d.status = 'Active' AND d.auto_generate = 1 AND d.next_invoice_date < %(D)s), 0)
FROM `{SCHEDULE}` d WHERE d.is_template = 0 AND d.creation <= %(now)s
"""


def collect(ctx):
    active, stuck = ctx.db.one(SQL, ctx.params())
    return {"sepa.dues.active": int(active), "sepa.dues.stuck": int(stuck)}


GROUP = Group(
    name="dues",
    title="Dues schedules",
    sections=(
        Section("summary", collect, tables=(SCHEDULE,), metrics=(
            Metric("sepa.dues.active", "Active dues schedules", INT,
                   description="Non-template dues schedules with status Active.", prometheus="sepa_dues_active"),
            Metric("sepa.dues.stuck", "Stuck dues schedules", INT,
                   description="Active auto-generating schedules whose next_invoice_date has passed: "
                               "the invoice run did not happen.",
                   prometheus="sepa_dues_stuck", overview="Stuck dues"),
        )),
    ),
    macros=(
        Macro("{$SEPA.DUES.STUCK.MAX}", Threshold("dues_stuck_max", 0, 0, 1e6),
              "Auto-generating dues schedules past their next invoice date above which a problem is raised."),
    ),
    triggers=(
        above("SEPA: stuck dues schedules", "sepa.dues.stuck", "{$SEPA.DUES.STUCK.MAX}", AVERAGE,
              "Active, auto-generating Membership Dues Schedules are past their next_invoice_date: "
              "the invoice run did not happen. Check the dues scheduler job and its errors.",
              event_name="SEPA: dues schedules past their invoice date (more than {$SEPA.DUES.STUCK.MAX})",
              opdata="Stuck schedules: {ITEM.LASTVALUE1}"),
    ),
)
