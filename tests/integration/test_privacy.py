"""No IBAN, person name or e-mail ever leaves the collector: sentinels seeded everywhere (the site's
tables, and the pickled calls of the background jobs in its bench's Redis), grepped everywhere."""
import datetime as dt
import json

from tests import rq_data
from tests.conftest import N, run_cli, write_config
from zabbix_sepa.collect import unix_clock

IBANS = ["NL02ABNA0123456789", "nl02 abna 0123 4567 89", "NL99SENT1NEL0000000"]
NAMES = ["Zyxwvut Sentinelname", "Qwertz Privatperson"]
EMAILS = ["sentinel.person@example.org"]
SENTINELS = IBANS + [i.replace(" ", "").upper() for i in IBANS] + ["0123456789", "SENT1NEL"] \
    + NAMES + EMAILS


def seed(site):
    name, other = NAMES
    mail = EMAILS[0]
    member = site.insert("Member", status="Active", payment_method="SEPA Direct Debit", full_name=name,
                         first_name="Zyxwvut", last_name="Sentinelname", email=mail, iban=IBANS[0])
    site.insert("Volunteer", status="Active", member=member, volunteer_name=name, email=mail)
    for i, iban in enumerate(IBANS):
        m = site.insert("SEPA Mandate", status="Active", mandate_id=f"MD-P{i}", member=member,
                        member_name=name, account_holder_name=other, iban=iban, sign_date=N.date())
        site.insert("SEPA Mandate Usage", parent=m, usage_date=N.date(), status="Collected")
    batch = site.insert("Direct Debit Batch", status="Failed", docstatus=1, batch_date=N.date(),
                        batch_description=f"Batch for {name}")
    for iban in IBANS:
        site.insert("Direct Debit Batch Invoice", parent=batch, status="Failed", iban=iban, member=member,
                    member_name=name, result_message=f"{name} {mail} {iban}")
    site.insert("Sales Invoice", docstatus=1, customer=name, customer_name=name, outstanding_amount=1,
                grand_total=1, due_date=N.date() - dt.timedelta(days=3))
    site.insert("Error Log", method=f"sepa for {mail}", error=f"ValidationError: {iban} of {name}")
    site.insert("SEPA Audit Log", compliance_status="Exception", user=mail, details=name)
    site.insert("Membership Dues Schedule", status="Active", member=member, member_name=name)
    site.insert("SEPA Payment Retry", status="Pending", member=member, failure_reason=f"{name} {iban}")
    # Frappe's Activity Log names the user (an e-mail address) and its full name in every row;
    # a failed login keeps what was typed as the user
    for operation, status, user in (("Login", "Success", mail), ("Logout", "Success", mail),
                                    ("Login", "Failed", other), ("Login", "Success", mail.upper())):
        site.insert("Activity Log", operation=operation, status=status, user=user, full_name=name,
                    subject=f"{name} ({user}) {operation} {status}", communication_date=N - dt.timedelta(hours=1))


def assert_clean(text):
    lowered = text.lower()
    for s in SENTINELS:
        assert s.lower() not in lowered, f"personal data leaked: {s!r}"


def test_no_personal_data_in_document_or_logs(tmp_path, site):
    seed(site)
    rc, out, err = run_cli("--debug", "collect", "--config", write_config(tmp_path, site), "--now", str(N))
    assert rc == 0
    assert '"NL:ABNA"' in out                      # the bank code is there, the IBAN is not
    assert json.loads(out)["metrics"]["sepa.users.active_24h"] == 1     # the login is counted, its user not shown
    assert_clean(out + err)


def test_no_personal_data_in_failure_reasons(tmp_path, site, server):
    seed(site)
    locker = server.admin(database=site.name)
    with locker.cursor() as cur:
        cur.execute("LOCK TABLES `tabSEPA Mandate` WRITE")
    try:
        cfg = write_config(tmp_path, site, collect_timeout=1.0)
        rc, out, err = run_cli("--debug", "collect", "--config", cfg, "--now", str(N))
    finally:
        locker.close()
    assert rc == 1
    assert "time limit" in out
    assert_clean(out + err)


def test_no_personal_data_from_the_background_jobs(tmp_path, site, redis_server):
    """Each job's hash holds its pickled call and description (user, kwargs) and a failed one
    its traceback: all seeded with the sentinels. The collector reads one timestamp of a job,
    so none reaches the document, the logs or the daily report."""
    seed(site)
    bench = "srv-frappe-bench"
    with redis_server.admin() as admin:
        rq_data.fill(admin, bench, unix_clock(N, "Europe/Amsterdam"), sentinels=SENTINELS)
        admin.call("SET", "rq:job-sentinel", " ".join(SENTINELS))       # anything else in the Redis, too
    cfg = write_config(tmp_path, site, redis=redis_server.mapping(bench_id=bench))
    rc, out, err = run_cli("--debug", "collect", "--config", cfg, "--now", str(N))
    doc = json.loads(out)
    assert rc == 0 and doc["metrics"]["sepa.queue.queued"] > 0 and len(doc["discovery"]["queues"]) == 4
    assert_clean(out + err)
    for fmt in ("json", "md"):
        rc, out, err = run_cli("--debug", "report", "daily", "--config", cfg, "--now", str(N), "--format", fmt)
        assert rc == 0 and "sepa_batches" in out
        assert_clean(out + err)
