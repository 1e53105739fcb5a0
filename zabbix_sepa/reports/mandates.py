"""Mandate report: lifecycle in the period, status and expiry now, health, banks.

Lifecycle and expiry come from one aggregate statement over the mandates; dormant,
invalid-IBAN, expired-but-active, SEPA members without a mandate and the banks come from
the collector's document at N (the same numbers Zabbix gets). Banks appear by bank code
only (`NL:INGB`); no IBAN is read here.
"""
from zabbix_sepa.reports.model import INT, Column, Table, label

TITLE = "SEPA mandate report"

MANDATE = "tabSEPA Mandate"

# activated: signed in the period and past Draft (Verenigingen activates a mandate when it is signed)
LIFECYCLE_SQL = f"""
SELECT
  COALESCE(SUM(m.creation >= %(since)s), 0), COALESCE(SUM(m.creation >= %(p_since)s AND m.creation <= %(p_until)s), 0),
  COALESCE(SUM(m.status <> 'Draft' AND m.sign_date >= %(first)s AND m.sign_date <= %(D)s), 0),
  COALESCE(SUM(m.status <> 'Draft' AND m.sign_date >= %(p_first)s AND m.sign_date <= %(p_last)s), 0),
  COALESCE(SUM(m.cancelled_date >= %(first)s AND m.cancelled_date <= %(D)s), 0),
  COALESCE(SUM(m.cancelled_date >= %(p_first)s AND m.cancelled_date <= %(p_last)s), 0),
  COALESCE(SUM(m.expiry_date >= %(first)s AND m.expiry_date < %(D)s), 0),
  COALESCE(SUM(m.expiry_date >= %(p_first)s AND m.expiry_date <= %(p_last)s), 0),
  COALESCE(SUM(m.status = 'Active' AND m.expiry_date >= %(D)s AND m.expiry_date <= %(D)s + INTERVAL 30 DAY), 0),
  COALESCE(SUM(m.status = 'Active' AND m.expiry_date >= %(D)s AND m.expiry_date <= %(D)s + INTERVAL 60 DAY), 0),
  COALESCE(SUM(m.status = 'Active' AND m.expiry_date >= %(D)s AND m.expiry_date <= %(D)s + INTERVAL 90 DAY), 0)
FROM `{MANDATE}` m WHERE m.creation <= %(now)s
"""

STATUS_SQL = f"""
SELECT m.status, COUNT(*) FROM `{MANDATE}` m WHERE m.creation <= %(now)s GROUP BY m.status ORDER BY 2 DESC, 1
"""


def build(ctx, report):
    ctx.progress("mandate lifecycle")
    (created, created_before, activated, activated_before, cancelled, cancelled_before,
     expired, expired_before, exp30, exp60, exp90) = (int(v) for v in ctx.db.one(LIFECYCLE_SQL, ctx.params()))
    report.tables.append(Table("lifecycle", "Lifecycle", (
        Column("event", "Event"), Column("current", "This period", INT), Column("previous", "Previous period", INT)), [
        {"event": "created", "current": created, "previous": created_before},
        {"event": "activated (signed, past Draft)", "current": activated, "previous": activated_before},
        {"event": "cancelled", "current": cancelled, "previous": cancelled_before},
        {"event": "expired", "current": expired, "previous": expired_before}],
        note=f"This period: {ctx.current.first} .. {ctx.today}; created by creation time, the others by "
             f"sign, cancellation and expiry date (expired: before today)."))

    ctx.progress("mandate statuses")
    report.tables.append(Table("statuses", "Mandates by status", (
        Column("status", "Status"), Column("mandates", "Mandates", INT)),
        [{"status": label(status), "mandates": int(n)} for status, n in ctx.db.rows(STATUS_SQL, ctx.params())]))
    report.tables.append(Table("expiring", "Active mandates expiring", (
        Column("within", "Within"), Column("mandates", "Mandates", INT)),
        [{"within": "30 days", "mandates": exp30}, {"within": "60 days", "mandates": exp60},
         {"within": "90 days", "mandates": exp90}]))

    notes = report.notes
    health = [("dormant (no use in 36 months)", "sepa.mandate.dormant"),
              ("invalid IBAN (active)", "sepa.mandate.iban_invalid"),
              ("expired but still active", "sepa.mandate.expired_active"),
              ("members paying by SEPA without an active mandate", "sepa.member.sepa_without_mandate")]
    report.tables.append(Table("health", "Mandate health", (
        Column("check", "Check"), Column("count", "Count", INT)),
        [{"check": label, "count": ctx.metric(key, notes)} for label, key in health]))

    doc = ctx.document()
    banks = doc["discovery"].get("banks")
    bank_cols = (Column("bank", "Bank code"), Column("mandates", "Active mandates", INT),
                 Column("failed_entries_30d", "Failed entries (30 days)", INT))
    if banks is None:
        report.tables.append(Table("banks", "Active mandates per bank", bank_cols, [],
                                   note=f"Not collected: {doc['unsupported'].get('discovery.banks')}"))
    else:
        rows = sorted(({"bank": b["{#BANK}"], "mandates": b["mandates"], "failed_entries_30d": b["failed_entries_30d"]}
                       for b in banks), key=lambda b: (-b["mandates"], b["bank"]))
        report.tables.append(Table("banks", "Active mandates per bank", bank_cols, rows,
                                   note="Bank code: country and characters 5-8 of the IBAN; mandates with an "
                                        "invalid IBAN are left out."))
