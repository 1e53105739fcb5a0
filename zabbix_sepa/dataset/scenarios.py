"""A small, healthy Verenigingen site, and the faults an operator must hear about.

`healthy(conn, now)` creates the schema in the current (empty) database of
`conn` and fills it with a site where no default alert threshold is crossed
at `now`: members paying by SEPA with active, used mandates and valid IBANs,
last month's processed batch with every invoice paid, dues schedules ahead of
their dates, a busy scheduler, a few ordinary errors, staff logging in. Each
function in FAULTS then breaks one thing the way it breaks in real life. Used
by the alert fidelity tests and the demo; all rows are placed relative to
`now` (naive, in the site's time zone).
"""
import datetime as dt

from zabbix_sepa.dataset.schema import create_schema

# Valid Dutch IBANs (mod-97 checked) at three banks; the collector only ever shows NL:ABNA etc.
IBANS = ("NL91ABNA0417164300", "NL20INGB0001234567", "NL39RABO0300065264", "NL02ABNA0123456789",
         "NL69INGB0123456789", "NL44RABO0123456789")
BAD_IBANS = ("NL00ABNA0417164300", "NL91ABNA041716430")     # wrong check digits; too short
MEMBERS = 30             # all paying by SEPA, each with an active mandate
OTHER_MEMBERS = 6        # paying by bank transfer
DUES = 25.0
SEPA_JOBS = ("verenigingen.verenigingen.doctype.direct_debit_batch.direct_debit_batch.process_sepa_batches",
             "verenigingen.utils.dues_schedule.generate_dues_invoices",
             "verenigingen.utils.sepa_mandate.check_mandate_expiry")
OTHER_JOBS = ("frappe.email.queue.flush", "frappe.deferred_insert.save_to_db")
# Who logs in to the desk: the board's treasurer and secretary, a member administrator, Administrator.
STAFF = ("penningmeester@example.org", "secretaris@example.org", "ledenadministratie@example.org", "Administrator")


def job_name(method):
    return ".".join(method.split(".")[-2:])


class Site:
    """Inserts rows with Frappe's standard columns into the current database of `conn`."""

    def __init__(self, conn, now):
        self.conn, self.now = conn, now
        self.today = now.date()
        self.seq = 0

    def ago(self, **delta):
        return self.now - dt.timedelta(**delta)

    def insert(self, doctype, prefix, creation, **fields):
        self.seq += 1
        row = {"name": fields.pop("name", None) or f"{prefix}-{self.seq:05d}", "creation": creation,
               "modified": fields.pop("modified", creation),
               "owner": "Administrator", "modified_by": "Administrator", "docstatus": fields.pop("docstatus", 0),
               **fields}
        cols = ", ".join(f"`{c}`" for c in row)
        with self.conn.cursor() as cur:
            cur.execute(f"INSERT INTO `tab{doctype}` ({cols}) VALUES ({', '.join(['%s'] * len(row))})",
                        list(row.values()))
        return row["name"]

    def execute(self, sql, params=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount

    def commit(self):
        self.conn.commit()


def healthy(conn, now):
    """Create the schema and a healthy site; returns the Site (for faults)."""
    with conn.cursor() as cur:
        create_schema(cur)
    s = Site(conn, now)
    batch = s.insert("Direct Debit Batch", "DD-BATCH", s.ago(days=10), docstatus=1, status="Processed",
                     batch_date=s.today - dt.timedelta(days=10), batch_type="RCUR", currency="EUR",
                     total_amount=DUES * MEMBERS, entry_count=MEMBERS, modified=s.ago(days=8))
    s.insert("Direct Debit Batch", "DD-BATCH", s.ago(days=40), docstatus=1, status="Processed",
             batch_date=s.today - dt.timedelta(days=40), batch_type="RCUR", currency="EUR",
             total_amount=DUES * MEMBERS, entry_count=MEMBERS, modified=s.ago(days=38))
    for i in range(MEMBERS):
        member = s.insert("Member", "MEM", s.ago(days=400 + i), status="Active", payment_method="SEPA Direct Debit",
                          first_name=f"Lid{i}", last_name="Voorbeeld", full_name=f"Lid{i} Voorbeeld",
                          email=f"lid{i}@example.org", member_since=s.today - dt.timedelta(days=400 + i))
        mandate = s.insert("SEPA Mandate", "MANDATE", s.ago(days=390), status="Active", member=member,
                           mandate_id=f"MDT-{i:05d}", iban=IBANS[i % len(IBANS)], is_active=1,
                           sign_date=s.today - dt.timedelta(days=390), expiry_date=s.today + dt.timedelta(days=900),
                           scheme="SEPA", mandate_type="RCUR")
        s.insert("SEPA Mandate Usage", "USAGE", s.ago(days=10), parent=mandate, parenttype="SEPA Mandate",
                 parentfield="usage_history", usage_date=s.today - dt.timedelta(days=10), status="Collected",
                 amount=DUES, batch_reference=batch)
        invoice = s.insert("Sales Invoice", "ACC-SINV", s.ago(days=12), docstatus=1, status="Paid",
                           customer=f"CUST-{i:05d}", posting_date=s.today - dt.timedelta(days=12),
                           due_date=s.today - dt.timedelta(days=5), grand_total=DUES, outstanding_amount=0)
        s.insert("Direct Debit Batch Invoice", "DDBI", s.ago(days=10), parent=batch, parenttype="Direct Debit Batch",
                 parentfield="invoices", invoice=invoice, member=member, amount=DUES, status="Collected",
                 iban=IBANS[i % len(IBANS)], mandate_reference=f"MDT-{i:05d}")
        s.insert("Membership Dues Schedule", "DUES", s.ago(days=400), member=member, status="Active",
                 auto_generate=1, billing_frequency="Monthly", dues_rate=DUES,
                 next_invoice_date=s.today + dt.timedelta(days=18),
                 last_invoice_date=s.today - dt.timedelta(days=12))
    for i in range(OTHER_MEMBERS):
        s.insert("Member", "MEM", s.ago(days=20 + i), status="Active", payment_method="Bank Transfer",
                 full_name=f"Overschrijver{i}", email=f"ov{i}@example.org")
    # next month's invoices: created two days ago, not yet due
    for i in range(MEMBERS):
        s.insert("Sales Invoice", "ACC-SINV", s.ago(days=2), docstatus=1, status="Unpaid",
                 customer=f"CUST-{i:05d}", posting_date=s.today - dt.timedelta(days=2),
                 due_date=s.today + dt.timedelta(days=12), grand_total=DUES, outstanding_amount=DUES)
    for i in range(4):
        s.insert("Volunteer", "VOL", s.ago(days=100), status="Active", volunteer_name=f"Vrijwilliger{i}")
    for method in SEPA_JOBS + OTHER_JOBS:       # Frappe names a job type <module>.<function>
        s.insert("Scheduled Job Type", "", s.ago(days=400), name=job_name(method), method=method,
                 frequency="Hourly", create_log=1)
    for minutes in range(5, 6 * 60, 20):       # every job ran every 20 minutes for six hours
        for method in SEPA_JOBS + OTHER_JOBS:
            s.insert("Scheduled Job Log", "SJL", s.ago(minutes=minutes), scheduled_job_type=job_name(method),
                     status="Complete")
    for hours in (2, 7, 15):
        s.insert("Error Log", "ERR", s.ago(hours=hours), method="frappe.desk.form.save.savedocs",
                 error="frappe.exceptions.ValidationError: Please set the posting date")
    for days in range(6):
        s.insert("SEPA Audit Log", "SAL", s.ago(days=days, hours=1), event_id=f"EVT-{days}",
                 process_type="Batch Generation",
                 action="create", compliance_status="Compliant", timestamp=s.ago(days=days, hours=1))
    s.insert("SEPA Payment Retry", "RETRY", s.ago(days=20), status="Resolved", retry_count=1, original_amount=DUES)
    staff_logins(s)
    s.commit()
    return s


def staff_logins(s):
    """Each staff user logged in this morning and yesterday (and logged out again) as Frappe logs
    it: an Activity Log row per login and logout; one mistyped password."""
    for user in STAFF:
        for hours in (3, 27):
            s.insert("Activity Log", "ACT", s.ago(hours=hours), user=user, full_name=user.split("@")[0].title(),
                     operation="Login", status="Success", subject=f"{user} logged in",
                     communication_date=s.ago(hours=hours))
            s.insert("Activity Log", "ACT", s.ago(hours=hours - 1), user=user, operation="Logout",
                     status="Success", subject=f"{user} logged out", communication_date=s.ago(hours=hours - 1))
    s.insert("Activity Log", "ACT", s.ago(hours=4), user=STAFF[0], operation="Login", status="Failed",
             subject="Invalid login credentials", communication_date=s.ago(hours=4))


# -- faults ---------------------------------------------------------------------------------------

def failed_batch(s):
    """The bank rejected this morning's batch file: the batch is Failed."""
    batch = s.insert("Direct Debit Batch", "DD-BATCH", s.ago(hours=5), docstatus=1, status="Failed",
                     batch_date=s.today, batch_type="RCUR", total_amount=DUES * 2, entry_count=2,
                     modified=s.ago(hours=1))
    for i in range(2):
        invoice = s.insert("Sales Invoice", "ACC-SINV", s.ago(hours=6), docstatus=1, status="Unpaid",
                           due_date=s.today + dt.timedelta(days=14), grand_total=DUES, outstanding_amount=DUES)
        s.insert("Direct Debit Batch Invoice", "DDBI", s.ago(hours=5), parent=batch, parenttype="Direct Debit Batch",
                 parentfield="invoices", invoice=invoice, amount=DUES, status="Pending")
    s.commit()
    return batch


def stuck_draft_batch(s):
    """A batch was created three hours ago and never generated."""
    batch = s.insert("Direct Debit Batch", "DD-BATCH", s.ago(hours=3), docstatus=0, status="Draft",
                     batch_date=s.today, batch_type="RCUR", total_amount=DUES, entry_count=1)
    s.commit()
    return batch


def submitted_unprocessed(s):
    """A batch was submitted four days ago and the bank's result never came back."""
    batch = s.insert("Direct Debit Batch", "DD-BATCH", s.ago(days=4), docstatus=1, status="Submitted",
                     batch_date=s.today - dt.timedelta(days=3), batch_type="RCUR", total_amount=DUES,
                     entry_count=1)
    s.commit()
    return batch


BATCH_AGES_HOURS = (1, 4, 100, 150)      # all inside the discovery window (batch_date within 7 days)
BATCH_STATUSES = ("Draft", "Generated", "Submitted", "Partially Collected", "Processed", "Partially Processed",
                  "Failed", "Partially Failed", "Rolled Back", "Cancelled")


def batches_in_every_status(s):
    """Batches of every status at every age inside the discovery window; only those waiting
    (Draft, Generated, Submitted) past their time limit have a per-batch problem.
    Returns [(batch, status, age in hours)]."""
    out = []
    for status in BATCH_STATUSES:
        docstatus = 0 if status in ("Draft", "Generated") else 2 if status == "Cancelled" else 1
        for hours in BATCH_AGES_HOURS:
            created = s.ago(hours=hours)
            out.append((s.insert("Direct Debit Batch", "DD-BATCH", created, docstatus=docstatus, status=status,
                                 batch_date=created.date(), batch_type="RCUR", total_amount=DUES,
                                 entry_count=0), status, hours))
    s.commit()
    return out


def mandate_expiry_wave(s, count=15):
    """A cohort of mandates signed together expires in ten days."""
    s.execute("UPDATE `tabSEPA Mandate` SET expiry_date = %s WHERE status = 'Active' ORDER BY name LIMIT %s",
              (s.today + dt.timedelta(days=10), count))
    s.commit()


def dormant_mandates(s, count=2):
    """Mandates signed four years ago whose last use was 40 months ago."""
    for i in range(count):
        member = s.insert("Member", "MEM", s.ago(days=1500), status="Active", payment_method="Bank Transfer")
        mandate = s.insert("SEPA Mandate", "MANDATE", s.ago(days=1500), status="Active", member=member,
                           mandate_id=f"MDT-OLD-{i}", iban=IBANS[i], sign_date=s.today - dt.timedelta(days=1500))
        s.insert("SEPA Mandate Usage", "USAGE", s.ago(days=1220), parent=mandate, parenttype="SEPA Mandate",
                 parentfield="usage_history", usage_date=s.today - dt.timedelta(days=1220), status="Collected")
    s.commit()


def invalid_ibans(s):
    """Two active mandates were typed in with a wrong IBAN."""
    for i, iban in enumerate(BAD_IBANS):
        member = s.insert("Member", "MEM", s.ago(days=3), status="Active", payment_method="Bank Transfer")
        s.insert("SEPA Mandate", "MANDATE", s.ago(days=3), status="Active", member=member,
                 mandate_id=f"MDT-BAD-{i}", iban=iban, sign_date=s.today - dt.timedelta(days=3))
    s.commit()


def members_without_mandate(s, count=3):
    """New members chose SEPA Direct Debit but nobody registered their mandate."""
    for i in range(count):
        s.insert("Member", "MEM", s.ago(days=5), status="Active", payment_method="SEPA Direct Debit",
                 full_name=f"Nieuw{i}")
    s.commit()


def error_storm(s, count=60):
    """A broken form save logs an error every minute."""
    for i in range(count):
        s.insert("Error Log", "ERR", s.ago(seconds=50 * i + 10), method="frappe.desk.form.save.savedocs",
                 error="frappe.exceptions.LinkValidationError: Could not find Customer")
    s.commit()


def sepa_errors(s):
    """The SEPA batch job hit an error."""
    s.insert("Error Log", "ERR", s.ago(hours=1), method=SEPA_JOBS[0],
             error="Traceback ...\nverenigingen.exceptions: SEPA mandate MDT-00003 has no BIC")
    s.commit()


def dead_scheduler(s):
    """The scheduler stopped three hours ago: no job has logged since."""
    s.execute("DELETE FROM `tabScheduled Job Log` WHERE creation > %s", (s.ago(hours=3),))
    s.commit()


def stuck_dues(s, count=3):
    """The dues invoice run did not happen: schedules are past their next invoice date."""
    s.execute("UPDATE `tabMembership Dues Schedule` SET next_invoice_date = %s WHERE status = 'Active' "
              "ORDER BY name LIMIT %s", (s.today - dt.timedelta(days=2), count))
    s.commit()


def collection_rate_drop(s, count=10):
    """A third of last month's debits came back unpaid."""
    s.execute("UPDATE `tabSales Invoice` SET outstanding_amount = grand_total, status = 'Overdue' "
              "WHERE status = 'Paid' ORDER BY name LIMIT %s", (count,))
    s.commit()


def required_table_missing(s):
    """An app update dropped (or renamed) a table the collector needs."""
    s.execute("DROP TABLE `tabSEPA Mandate Usage`")
    s.commit()


def optional_table_missing(s):
    """The site runs a Verenigingen version without the SEPA Audit Log (metrics.md: not a failure)."""
    s.execute("DROP TABLE `tabSEPA Audit Log`")
    s.commit()


FAULTS = {f.__name__: f for f in (
    failed_batch, stuck_draft_batch, submitted_unprocessed, batches_in_every_status, mandate_expiry_wave,
    dormant_mandates, invalid_ibans, members_without_mandate, error_storm, sepa_errors, dead_scheduler,
    stuck_dues, collection_rate_drop, required_table_missing, optional_table_missing)}
