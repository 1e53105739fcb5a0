"""SEPA Audit Log (optional table)."""
from zabbix_sepa.groups.base import FLOAT, INT, WARNING, Group, Macro, Metric, Section, Threshold, above

AUDIT = "tabSEPA Audit Log"

SQL = f"""
SELECT COUNT(*),
  COALESCE(SUM(UPPER(a.compliance_status) IN ('EXCEPTION', 'FAILED', 'ERROR')), 0),
  COALESCE(SUM(COALESCE(a.compliance_status, '') <> ''), 0),
  COALESCE(SUM(a.compliance_status = 'Compliant'), 0)
FROM `{AUDIT}` a WHERE a.creation >= %(d7)s AND a.creation <= %(now)s
"""


def collect(ctx):
    events, exceptions, judged, compliant = ctx.db.one(SQL, ctx.params())
    return {"sepa.audit.events_7d": int(events), "sepa.audit.exceptions_7d": int(exceptions),
            "sepa.audit.compliance_rate_7d":
                round(100.0 * int(compliant) / int(judged), 2) if judged else 100.0}


GROUP = Group(
    name="audit",
    title="SEPA audit log",
    sections=(
        Section("summary", collect, optional_tables=(AUDIT,), metrics=(
            Metric("sepa.audit.events_7d", "Audit events in 7d", INT,
                   description="SEPA Audit Log rows created within 7 days.", prometheus="sepa_audit_events_7d"),
            Metric("sepa.audit.exceptions_7d", "Audit exceptions in 7d", INT,
                   description="Audit events within 7 days with compliance status Exception, "
                               "Failed or Error.", prometheus="sepa_audit_exceptions_7d"),
            Metric("sepa.audit.compliance_rate_7d", "Audit compliance rate 7d", FLOAT, "%",
                   description="Compliant share of audit events with a compliance status; 100 if none.",
                   prometheus="sepa_audit_compliance_rate_7d_ratio"),
        )),
    ),
    macros=(
        Macro("{$SEPA.AUDIT.EXCEPTIONS.MAX}", Threshold("audit_exceptions_max", 0, 0, 1e9),
              "SEPA audit events with an exception status in 7 days above which a problem is raised."),
    ),
    triggers=(
        above("SEPA: audit exceptions", "sepa.audit.exceptions_7d", "{$SEPA.AUDIT.EXCEPTIONS.MAX}", WARNING,
              "SEPA audit events within 7 days have an exception or failure compliance status. "
              "Review them in the SEPA Audit Log for the compliance report.",
              event_name="SEPA: audit exceptions in 7 days (more than {$SEPA.AUDIT.EXCEPTIONS.MAX})",
              opdata="Exceptions in 7d: {ITEM.LASTVALUE1}",
              scope="security"),
    ),
)
