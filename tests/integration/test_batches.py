"""Batch metrics and the batches discovery list, on hand-made edge cases."""
import datetime as dt

from tests.conftest import N

H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
D = N.date()


def batch(site, status, creation=N - H, **kw):
    kw.setdefault("docstatus", 1)
    kw.setdefault("batch_date", D)
    return site.insert("Direct Debit Batch", status=status, creation=creation, **kw)


def test_window_boundaries_and_rows_after_n(site):
    batch(site, "Processed", creation=N - 24 * H)                              # exactly N-24h: in
    batch(site, "Processed", creation=N - 24 * H - dt.timedelta(seconds=1))    # one second earlier
    batch(site, "Processed", creation=N)                                       # exactly N: in
    batch(site, "Processed", creation=N + dt.timedelta(seconds=1))             # after N: ignored
    m = site.collect()["metrics"]
    assert m["sepa.batch.total"] == 3
    assert m["sepa.batch.created_24h"] == 2


def test_status_buckets_collation_and_cancelled(site):
    batch(site, "Draft")
    batch(site, "FAILED")                # collation: same as Failed
    batch(site, "Partially Failed")      # outside the six: other, but FAILED set
    batch(site, "Cancelled")             # outside any option list
    batch(site, None)                    # no status at all: other
    batch(site, "Processed", docstatus=2)  # cancelled document: ignored everywhere
    m = site.collect()["metrics"]
    assert m["sepa.batch.total"] == 5
    assert m["sepa.batch.status[draft]"] == 1
    assert m["sepa.batch.status[failed]"] == 1
    assert m["sepa.batch.status[processed]"] == 0
    assert m["sepa.batch.status[other]"] == 3
    assert m["sepa.batch.failed_24h"] == 2


def test_pending_stuck_and_age(site):
    batch(site, "Draft", creation=N - 2 * H)                       # exactly 2h: not stuck (strict)
    batch(site, "Generated", creation=N - 2 * H - dt.timedelta(seconds=1), total_amount=10)
    batch(site, "Submitted", creation=N - 73 * H, total_amount=5.5)   # over 72h: stuck
    batch(site, "Submitted", creation=N - 71 * H)                  # not yet
    batch(site, "Partially Collected", creation=N - 100 * H)       # pending, never stuck
    batch(site, "Processed", creation=N - 500 * H)
    m = site.collect()["metrics"]
    assert m["sepa.batch.pending.count"] == 5
    assert m["sepa.batch.pending.amount"] == 15.5
    assert m["sepa.batch.pending.oldest_age"] == 100 * 3600
    assert m["sepa.batch.stuck"] == 2


def test_stuck_thresholds_come_from_site_config(site):
    batch(site, "Draft", creation=N - 3 * H)
    assert site.collect()["metrics"]["sepa.batch.stuck"] == 1
    relaxed = site.collect(thresholds={"batch_stuck_hours": 4, "batch_unprocessed_hours": 72})
    assert relaxed["metrics"]["sepa.batch.stuck"] == 0


def test_failed_windows_use_modified(site):
    batch(site, "Failed", creation=N - 30 * DAY, modified=N - 23 * H)
    batch(site, "Rolled Back", creation=N - 30 * DAY, modified=N - 6 * DAY)
    batch(site, "Failed", creation=N - 30 * DAY, modified=N - 8 * DAY)
    m = site.collect()["metrics"]
    assert (m["sepa.batch.failed_24h"], m["sepa.batch.failed_7d"]) == (1, 2)


def test_success_rate_and_collected_amount(site):
    batch(site, "Processed", batch_date=D - dt.timedelta(days=30), total_amount=100)   # in (date window)
    batch(site, "Processed", batch_date=D - dt.timedelta(days=31), total_amount=1000)  # out
    batch(site, "Partially Processed", batch_date=D, total_amount=7)
    batch(site, "Failed", batch_date=D)
    batch(site, "Draft", batch_date=D)               # not finished: not in the rate
    m = site.collect()["metrics"]
    assert m["sepa.batch.success_rate_30d"] == 33.33
    assert m["sepa.batch.collected_amount_30d"] == 100.0


def test_success_rate_is_100_without_finished_batches(site):
    batch(site, "Draft")
    assert site.collect()["metrics"]["sepa.batch.success_rate_30d"] == 100.0


def test_entry_failures_7d(site):
    recent = batch(site, "Processed", batch_date=D - dt.timedelta(days=7))
    clean = batch(site, "Processed", batch_date=D - dt.timedelta(days=1))
    old = batch(site, "Processed", batch_date=D - dt.timedelta(days=8))
    gone = batch(site, "Processed", batch_date=D, docstatus=2)
    for status in ("Failed", "Successful", "failed"):
        site.insert("Direct Debit Batch Invoice", parent=recent, status=status)
    site.insert("Direct Debit Batch Invoice", parent=recent, status="Failed", creation=N + H)  # after N
    site.insert("Direct Debit Batch Invoice", parent=clean, status="Processed")
    site.insert("Direct Debit Batch Invoice", parent=old, status="Failed")
    site.insert("Direct Debit Batch Invoice", parent=gone, status="Failed")
    m = site.collect()["metrics"]
    assert m["sepa.batch.entry.failed_7d"] == 2
    assert m["sepa.batch.entry.failure_rate_7d"] == 50.0


def test_entry_failure_rate_zero_without_entries(site):
    batch(site, "Processed")
    assert site.collect()["metrics"]["sepa.batch.entry.failure_rate_7d"] == 0.0


def test_discovery_batches(site):
    old_pending = batch(site, "Submitted", creation=N - 40 * DAY, batch_date=D - dt.timedelta(days=40),
                        batch_type="RCUR", total_amount=12.5)
    batch(site, "Processed", creation=N - 40 * DAY, batch_date=D - dt.timedelta(days=40))  # neither
    recent = batch(site, "Processed", creation=N - 2 * H, batch_date=D - dt.timedelta(days=7),
                   batch_type="CORE")
    batch(site, "Draft", docstatus=2)                              # cancelled: never listed
    batch(site, "Draft", creation=N + H)                           # after N: never listed
    site.insert("Direct Debit Batch Invoice", parent=recent, status="Failed")
    site.insert("Direct Debit Batch Invoice", parent=recent, status="Successful")
    doc = site.collect()
    assert doc["discovery"]["batches"] == [
        {"{#BATCH}": recent, "{#STATUS}": "Processed", "{#TYPE}": "CORE", "age": 7200.0, "waiting_age": 0.0,
         "entries": 2, "amount": 0.0, "failed_entries": 1},
        {"{#BATCH}": old_pending, "{#STATUS}": "Submitted", "{#TYPE}": "RCUR", "age": 40 * 86400.0,
         "waiting_age": 40 * 86400.0, "entries": 0, "amount": 12.5, "failed_entries": 0},
    ]


def test_discovery_batches_limit_keeps_newest(site):
    names = [batch(site, "Draft", creation=N - i * H) for i in range(1, 6)]
    doc = site.collect(discovery={"max_batches": 3})
    assert [b["{#BATCH}"] for b in doc["discovery"]["batches"]] == names[:3]
