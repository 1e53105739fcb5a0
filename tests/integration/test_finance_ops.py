"""Invoices, collection, retries, dues, errors, scheduler and audit, on hand-made edge cases."""
import datetime as dt

from tests.conftest import N

D = N.date()
DAY = dt.timedelta(days=1)
H = dt.timedelta(hours=1)
SEC = dt.timedelta(seconds=1)


def invoice(site, docstatus=1, **kw):
    return site.insert("Sales Invoice", docstatus=docstatus, **kw)


def test_outstanding_overdue_and_age(site):
    invoice(site, outstanding_amount=10, grand_total=10, due_date=D - DAY)      # overdue
    invoice(site, outstanding_amount=5, grand_total=10, due_date=D)             # due today: not overdue
    invoice(site, outstanding_amount=0, grand_total=10, due_date=D - DAY)       # paid
    invoice(site, outstanding_amount=-3, grand_total=-3, due_date=D - DAY)      # credit note
    invoice(site, docstatus=0, outstanding_amount=99, due_date=D - DAY)         # draft
    invoice(site, docstatus=2, outstanding_amount=99, due_date=D - DAY)         # cancelled
    invoice(site, outstanding_amount=1000, due_date=D - DAY, creation=N + SEC)  # after N
    invoice(site, outstanding_amount=0, creation=N - 24 * H)                    # exactly N-24h: in
    m = site.collect()["metrics"]
    assert m["sepa.invoice.outstanding.amount"] == 15.0
    assert m["sepa.invoice.overdue.count"] == 1
    assert m["sepa.invoice.overdue.amount"] == 10.0
    assert m["sepa.invoice.created_24h"] == 5          # four at N-1h, one at exactly N-24h
    assert m["sepa.invoice.last_age"] == 3600.0


def test_last_age_without_invoices(site):
    invoice(site, docstatus=0)
    assert site.collect()["metrics"]["sepa.invoice.last_age"] == -1


def test_collection_rate_counts_each_invoice_once(site):
    a = invoice(site, grand_total=100, outstanding_amount=0)
    b = invoice(site, grand_total=100, outstanding_amount=100)
    c = invoice(site, grand_total=1000, outstanding_amount=1000)       # only in an old batch
    draft = invoice(site, docstatus=0, grand_total=1000, outstanding_amount=1000)
    recent = site.insert("Direct Debit Batch", status="Processed", docstatus=1, batch_date=D)
    again = site.insert("Direct Debit Batch", status="Failed", docstatus=1, batch_date=D - 30 * DAY)
    old = site.insert("Direct Debit Batch", status="Processed", docstatus=1, batch_date=D - 31 * DAY)
    cancelled = site.insert("Direct Debit Batch", status="Processed", docstatus=2, batch_date=D)
    for parent, inv in ((recent, a), (recent, b), (again, a), (recent, draft), (old, c), (cancelled, c)):
        site.insert("Direct Debit Batch Invoice", parent=parent, invoice=inv, status="Processed")
    # a counted once: (100 + 0) / (100 + 100)
    assert site.collect()["metrics"]["sepa.collection.rate_30d"] == 50.0


def test_collection_rate_100_without_batches(site):
    invoice(site, grand_total=100, outstanding_amount=100)
    assert site.collect()["metrics"]["sepa.collection.rate_30d"] == 100.0


def test_retries(site):
    for status in ("Pending", "Scheduled", "Escalated", "escalated", "Resolved", "Error"):
        site.insert("SEPA Payment Retry", status=status)
    site.insert("SEPA Payment Retry", status="Pending", creation=N + SEC)
    m = site.collect()["metrics"]
    assert (m["sepa.retry.pending"], m["sepa.retry.escalated"]) == (2, 2)


def test_dues(site):
    site.insert("Membership Dues Schedule", status="Active", auto_generate=1, next_invoice_date=D - DAY)
    site.insert("Membership Dues Schedule", status="Active", auto_generate=1, next_invoice_date=D)
    site.insert("Membership Dues Schedule", status="Active", auto_generate=0, next_invoice_date=D - DAY)
    site.insert("Membership Dues Schedule", status="Active", is_template=1, auto_generate=1,
                next_invoice_date=D - DAY)
    site.insert("Membership Dues Schedule", status="Grace Period", auto_generate=1,
                next_invoice_date=D - DAY)
    m = site.collect()["metrics"]
    assert (m["sepa.dues.active"], m["sepa.dues.stuck"]) == (3, 1)


def test_error_windows_categories_and_sepa(site):
    err = lambda method, error, creation=N - 2 * H: site.insert(  # noqa: E731
        "Error Log", method=method, error=error, creation=creation)
    err("frappe.client.save", "frappe.exceptions.PermissionError: nope", N - 30 * 60 * SEC)
    # several categories match: the first in spec order (permission) wins
    err("x", "ValidationError raised after Not Permitted")
    err("x", "pymysql.err.OperationalError: (1205, 'Lock wait timeout exceeded')")
    err("worker", "rq.timeouts.JobTimeoutException: Task exceeded maximum timeout")
    err("send_mail", "smtplib.SMTPException: boom")
    err("verenigingen.sepa.batch", "KeyError: 'x'")                 # other, but SEPA
    err("x", "something about a DIRECT DEBIT batch")                 # other, SEPA (case-insensitive)
    err("x", "directXdebit is not direct_debit")                     # SEPA via direct_debit
    err("x", "directXdebit only")                                    # `_` is no wildcard: not SEPA
    err("x", None)                                                   # no text: other
    err("x", "TimeoutError", N - 24 * H)                             # exactly 24h: in
    err("x", "TimeoutError", N - 24 * H - SEC)                       # out
    err("x", "TimeoutError", N + SEC)                                # after N: out
    m = site.collect()["metrics"]
    assert m["sepa.error.count_1h"] == 1
    assert m["sepa.error.count_24h"] == 11
    assert {k.split("[")[1][:-1]: v for k, v in m.items() if k.startswith("sepa.error.category_24h")} == {
        "permission": 2, "validation": 0, "database": 1, "timeout": 2, "integration": 1, "other": 5}
    assert m["sepa.error.sepa_24h"] == 3


def test_scheduler_and_jobs(site):
    for name, method in (("sepa-batches", "verenigingen.sepa.process_batches"),
                         ("dues", "verenigingen.DUES.generate_invoices"),
                         ("never", "verenigingen.mandate.cleanup"),
                         ("weekly", "verenigingen.payment_retry.weekly"),
                         ("backup", "frappe.backup.daily")):
        site.insert("Scheduled Job Type", name=name, method=method, creation=N - 1000 * DAY)
    log = lambda job, status, creation: site.insert(  # noqa: E731
        "Scheduled Job Log", scheduled_job_type=job, status=status, creation=creation)
    log("sepa-batches", "Complete", N - 2 * H)
    log("sepa-batches", "Complete", N + H)                # after N
    log("sepa-batches", "Failed", N - H)
    log("sepa-batches", "Failed", N - 25 * H)             # not within 24h
    log("dues", "Complete", N - 10 * DAY)                 # older than the recent scan window
    log("never", "Failed", N - 3 * H)
    log("weekly", "Complete", N - 7 * DAY)                # exactly on the window edge
    log("backup", "Failed", N - 30 * 60 * SEC)            # newest row
    doc = site.collect()
    assert doc["metrics"]["sepa.scheduler.failed_24h"] == 3
    assert doc["metrics"]["sepa.scheduler.last_activity_age"] == 1800.0
    assert doc["discovery"]["jobs"] == [
        {"{#JOB}": "dues", "last_success_age": 10 * 86400.0, "failed_24h": 0},
        {"{#JOB}": "never", "last_success_age": -1, "failed_24h": 1},
        {"{#JOB}": "sepa-batches", "last_success_age": 7200.0, "failed_24h": 1},
        {"{#JOB}": "weekly", "last_success_age": 7 * 86400.0, "failed_24h": 0},
    ]


def test_scheduler_without_logs(site):
    assert site.collect()["metrics"]["sepa.scheduler.last_activity_age"] == -1


def test_audit(site):
    for status in ("Compliant", "compliant", "Exception", "FAILED", "ERROR", "high", "Pending Review", "", None):
        site.insert("SEPA Audit Log", compliance_status=status, creation=N - DAY)
    site.insert("SEPA Audit Log", compliance_status="Exception", creation=N - 7 * DAY - SEC)
    m = site.collect()["metrics"]
    assert m["sepa.audit.events_7d"] == 9
    assert m["sepa.audit.exceptions_7d"] == 3
    assert m["sepa.audit.compliance_rate_7d"] == round(100 * 2 / 7, 2)


def test_audit_rate_100_without_events(site):
    assert site.collect()["metrics"]["sepa.audit.compliance_rate_7d"] == 100.0
