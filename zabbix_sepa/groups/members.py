"""Members and volunteers."""
from zabbix_sepa.groups.base import HOUR, INT, WARNING, Group, Macro, Metric, Section, Threshold, above

MEMBER = "tabMember"
MANDATE = "tabSEPA Mandate"
VOLUNTEER = "tabVolunteer"

SQL = f"""
SELECT m.active, m.new_30d, w.without_mandate, v.active
FROM (
  SELECT COALESCE(SUM(x.status = 'Active'), 0) AS active,
         COALESCE(SUM(x.creation >= %(d30)s), 0) AS new_30d
  FROM `{MEMBER}` x WHERE x.creation <= %(now)s
) m CROSS JOIN (
  SELECT COUNT(*) AS without_mandate FROM `{MEMBER}` x
  WHERE x.creation <= %(now)s AND x.status = 'Active' AND x.payment_method = 'SEPA Direct Debit'
    AND NOT EXISTS (SELECT 1 FROM `{MANDATE}` sm
                    WHERE sm.member = x.name AND sm.status = 'Active' AND sm.creation <= %(now)s)
) w CROSS JOIN (
  SELECT COUNT(*) AS active FROM `{VOLUNTEER}` y WHERE y.status = 'Active' AND y.creation <= %(now)s
) v
"""


def collect(ctx):
    active, new_30d, without_mandate, volunteers = ctx.db.one(SQL, ctx.params())
    return {"sepa.member.active": int(active), "sepa.member.new_30d": int(new_30d),
            "sepa.member.sepa_without_mandate": int(without_mandate),
            "sepa.volunteer.active": int(volunteers)}


GROUP = Group(
    name="members",
    title="Members",
    sections=(
        Section("summary", collect, cadence=HOUR, tables=(MEMBER, MANDATE, VOLUNTEER), metrics=(
            Metric("sepa.member.active", "Active members", INT, description="Members with status Active.",
                   prometheus="sepa_member_active"),
            Metric("sepa.member.new_30d", "New members in 30d", INT,
                   description="Members created within the last 30 days.", prometheus="sepa_member_new_30d"),
            Metric("sepa.member.sepa_without_mandate", "SEPA members without an active mandate", INT,
                   description="Active members paying by SEPA Direct Debit with no Active mandate: "
                               "their dues cannot be collected.",
                   prometheus="sepa_member_sepa_without_mandate",
                   overview="SEPA, no mandate", graph=("SEPA: mandate health", "left")),
            Metric("sepa.volunteer.active", "Active volunteers", INT,
                   description="Volunteers with status Active.", prometheus="sepa_volunteer_active"),
        )),
    ),
    macros=(
        Macro("{$SEPA.MEMBER.WITHOUT.MANDATE.MAX}", Threshold("member_without_mandate_max", 0, 0, 1e6),
              "Active SEPA-paying members without an active mandate above which a problem is raised.",
              formerly=("{$SEPA.MEMBER.NO_MANDATE.MAX}",)),
    ),
    triggers=(
        above("SEPA: members paying by SEPA without an active mandate", "sepa.member.sepa_without_mandate",
              "{$SEPA.MEMBER.WITHOUT.MANDATE.MAX}", WARNING,
              "Active members whose payment method is SEPA Direct Debit have no Active mandate: "
              "their dues cannot be collected. Obtain mandates or change their payment method.",
              event_name="SEPA: SEPA-paying members without an active mandate "
                         "(more than {$SEPA.MEMBER.WITHOUT.MANDATE.MAX})",
              opdata="Without mandate: {ITEM.LASTVALUE1}"),
    ),
)
