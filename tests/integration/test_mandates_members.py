"""Mandates, IBANs, banks, members and volunteers, on hand-made edge cases."""
import datetime as dt

from tests.conftest import N

D = N.date()
DAY = dt.timedelta(days=1)
VALID = "NL91ABNA0417164300"          # textbook valid IBAN
VALID_DE = "DE89370400440532013000"


def mandate(site, status="Active", **kw):
    kw.setdefault("mandate_id", f"MD-{site._seq.__next__()}")
    return site.insert("SEPA Mandate", status=status, **kw)


def test_status_counts_and_lifecycle(site):
    for status in ("Active", "ACTIVE", "Draft", "Suspended", "Cancelled", "Expired", "Pending", None):
        mandate(site, status, iban=VALID)
    mandate(site, "Active", iban=VALID, creation=N + DAY)                       # after N: ignored
    mandate(site, "Cancelled", cancelled_date=D - 30 * DAY, creation=N - 400 * DAY)
    mandate(site, "Cancelled", cancelled_date=D - 31 * DAY, creation=N - 400 * DAY)
    m = site.collect()["metrics"]
    assert m["sepa.mandate.total"] == 10
    assert m["sepa.mandate.status[active]"] == 2
    assert m["sepa.mandate.status[cancelled]"] == 3
    assert m["sepa.mandate.status[other]"] == 2
    assert m["sepa.mandate.created_30d"] == 8
    assert m["sepa.mandate.cancelled_30d"] == 1


def test_expiry(site):
    mandate(site, iban=VALID, expiry_date=D)                       # expiring (today)
    mandate(site, iban=VALID, expiry_date=D + 30 * DAY)            # expiring (last day)
    mandate(site, iban=VALID, expiry_date=D + 31 * DAY)            # not yet
    mandate(site, iban=VALID, expiry_date=D - DAY)                 # expired but active
    mandate(site, "Suspended", iban=VALID, expiry_date=D - DAY)    # not active: neither
    m = site.collect()["metrics"]
    assert (m["sepa.mandate.expiring_30d"], m["sepa.mandate.expired_active"]) == (2, 1)


def test_dormant(site):
    cutoff = dt.date(2023, 11, 22)                                 # D - 36 months
    never_used_old = mandate(site, iban=VALID, sign_date=cutoff - DAY)
    never_used_new = mandate(site, iban=VALID, sign_date=cutoff)
    used_recently = mandate(site, iban=VALID, sign_date=dt.date(2015, 1, 1))
    site.insert("SEPA Mandate Usage", parent=used_recently, usage_date=cutoff, status="Collected")
    only_cancelled = mandate(site, iban=VALID, sign_date=dt.date(2015, 1, 1))
    site.insert("SEPA Mandate Usage", parent=only_cancelled, usage_date=D, status="Cancelled")
    old_use = mandate(site, iban=VALID, sign_date=D)               # recent signature, old usage
    site.insert("SEPA Mandate Usage", parent=old_use, usage_date=cutoff - DAY, status="Collected")
    future_use = mandate(site, iban=VALID, sign_date=dt.date(2015, 1, 1))
    site.insert("SEPA Mandate Usage", parent=future_use, usage_date=D, status="Collected",
                creation=N + DAY)                                  # usage row after N: ignored
    mandate(site, "Suspended", iban=VALID, sign_date=dt.date(2015, 1, 1))    # not active
    assert never_used_new and never_used_old
    # dormant: never_used_old, only_cancelled, old_use, future_use
    assert site.collect()["metrics"]["sepa.mandate.dormant"] == 4


def test_dormant_cutoff_clamps_month_end(site):
    # D = 2028-02-29 -> D - 36 months = 2025-02-28 (clamped, as MariaDB does)
    now = dt.datetime(2028, 2, 29, 12, 0, 0)
    mandate(site, iban=VALID, sign_date=dt.date(2025, 2, 27), creation=dt.datetime(2025, 1, 1))
    mandate(site, iban=VALID, sign_date=dt.date(2025, 2, 28), creation=dt.datetime(2025, 1, 1))
    assert site.collect(now=now)["metrics"]["sepa.mandate.dormant"] == 1


def test_iban_validity_and_banks(site):
    mandate(site, iban="nl91 abna 0417 1643 00")     # valid once normalised
    mandate(site, iban=VALID)
    mandate(site, iban=VALID_DE)
    mandate(site, iban="NL92ABNA0417164300")         # mod-97 failure
    mandate(site, iban="NL91ABNA04")                 # too short
    mandate(site, iban="")
    mandate(site, iban=None)
    mandate(site, iban="NL91-ABNA-0417-1643-00")     # dashes are not removed: invalid
    mandate(site, "Cancelled", iban="XX00")          # not active: not checked
    b = site.insert("Direct Debit Batch", status="Processed", docstatus=1, batch_date=D - 30 * DAY)
    for iban in ("nl91abna0417164300", "NL 91 ABNA 0417164300", "NL02RABO0123456789"):
        site.insert("Direct Debit Batch Invoice", parent=b, status="Failed", iban=iban)
    site.insert("Direct Debit Batch Invoice", parent=b, status="Successful", iban=VALID)
    old = site.insert("Direct Debit Batch", status="Processed", docstatus=1, batch_date=D - 31 * DAY)
    site.insert("Direct Debit Batch Invoice", parent=old, status="Failed", iban=VALID)
    doc = site.collect()
    assert doc["metrics"]["sepa.mandate.iban_invalid"] == 5
    assert doc["discovery"]["banks"] == [
        {"{#BANK}": "DE:3704", "mandates": 1, "failed_entries_30d": 0},
        {"{#BANK}": "NL:ABNA", "mandates": 2, "failed_entries_30d": 2},
    ]


def test_members_and_volunteers(site):
    with_mandate = site.insert("Member", status="Active", payment_method="SEPA Direct Debit")
    mandate(site, iban=VALID, member=with_mandate)
    suspended_only = site.insert("Member", status="Active", payment_method="SEPA Direct Debit")
    mandate(site, "Suspended", iban=VALID, member=suspended_only)
    late = site.insert("Member", status="Active", payment_method="SEPA Direct Debit")
    mandate(site, iban=VALID, member=late, creation=N + DAY)      # mandate after N does not count
    site.insert("Member", status="Active", payment_method="SEPA Direct Debit")   # none at all
    site.insert("Member", status="Active", payment_method="Bank Transfer")
    site.insert("Member", status="Terminated", payment_method="SEPA Direct Debit")
    site.insert("Member", status="Active", creation=N - 31 * DAY)
    site.insert("Member", status="Active", creation=N + DAY)                       # after N
    site.insert("Volunteer", status="Active")
    site.insert("Volunteer", status="Inactive")
    m = site.collect()["metrics"]
    assert m["sepa.member.sepa_without_mandate"] == 3
    assert m["sepa.member.active"] == 6
    assert m["sepa.member.new_30d"] == 6
    assert m["sepa.volunteer.active"] == 1
