"""The document is complete and honest when things go wrong."""
import socket
import threading
import time

from zabbix_sepa import registry
from zabbix_sepa.config import DatabaseConfig
from tests.conftest import N, parse, run_cli, write_config
from tests.rq_data import not_configured
from tests.tcp import unused_port

ALL_KEYS = {m.key for m in registry.metrics()}
COLLECTOR_KEYS = {m.key for m in registry.metrics() if m.key.startswith("sepa.collector.")}


def assert_complete(doc):
    metrics, unsupported = set(doc["metrics"]), set(doc["unsupported"])
    assert not metrics & unsupported
    assert ALL_KEYS == metrics | (unsupported & ALL_KEYS)


def test_healthy_site_is_complete_with_status_0(site):
    doc = site.collect()
    assert_complete(doc)
    assert doc["unsupported"] == not_configured()        # no `redis`: the queue metrics, no failure
    assert doc["metrics"]["sepa.collector.status"] == 0
    assert set(doc["discovery"]) == {"batches", "banks", "jobs", "health"}


def test_missing_optional_tables_are_unsupported_not_failures(make_site):
    site = make_site(skip=("SEPA Payment Retry", "SEPA Audit Log"))
    doc = site.collect()
    assert_complete(doc)
    assert set(doc["unsupported"]) - set(not_configured()) == {
        "sepa.retry.pending", "sepa.retry.escalated", "sepa.audit.events_7d", "sepa.audit.exceptions_7d",
        "sepa.audit.compliance_rate_7d"}
    assert "tabSEPA Audit Log" in doc["unsupported"]["sepa.audit.events_7d"]
    assert doc["metrics"]["sepa.collector.status"] == 0


def test_missing_required_table_fails_its_section_only(make_site):
    site = make_site(skip=("Volunteer",))
    doc = site.collect()
    assert_complete(doc)
    assert doc["metrics"]["sepa.collector.status"] == 1
    assert "required table `tabVolunteer` does not exist" in doc["unsupported"]["sepa.member.active"]
    assert set(doc["unsupported"]) - set(not_configured()) == {
        "sepa.member.active", "sepa.member.new_30d", "sepa.member.sepa_without_mandate", "sepa.volunteer.active"}
    assert doc["metrics"]["sepa.batch.total"] == 0


def test_statement_time_limit_and_budget(site, server):
    """A statement blocked beyond the budget is killed; the rest are skipped; the document comes in time."""
    site.insert("Error Log", method="x", error="y")
    locker = server.admin(database=site.name)
    with locker.cursor() as cur:
        cur.execute("LOCK TABLES `tabError Log` WRITE")
    try:
        started = time.monotonic()
        doc = site.collect(collect_timeout=1.5)
        elapsed = time.monotonic() - started
    finally:
        locker.close()
    assert_complete(doc)
    assert elapsed < 2.0
    assert doc["metrics"]["sepa.collector.status"] == 1
    assert "time limit" in doc["unsupported"]["sepa.error.count_24h"]
    assert "collect_timeout" in doc["unsupported"]["sepa.scheduler.failed_24h"]
    assert doc["metrics"]["sepa.batch.total"] == 0          # collected before the lock was hit


def test_wrong_password_gives_status_2(site):
    bad = DatabaseConfig(host="127.0.0.1", port=3306, name=site.name, user="zsepa_test", password="wrong")
    doc = site.collect(database=bad)
    assert_complete(doc)
    assert doc["metrics"]["sepa.collector.status"] == 2
    assert set(doc["metrics"]) == COLLECTOR_KEYS
    assert "access denied" in doc["unsupported"]["sepa.batch.total"]
    assert "wrong" not in str(doc)




def test_closed_port_gives_status_2(site):
    doc = site.collect(database=DatabaseConfig(host="127.0.0.1", port=unused_port(), name="x", user="u"))
    assert_complete(doc)
    assert doc["metrics"]["sepa.collector.status"] == 2
    assert "cannot connect" in doc["unsupported"]["sepa.mandate.total"]


def test_silent_server_answers_within_collect_timeout(site):
    """A server that accepts but never speaks: status 2, on time."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        started = time.monotonic()
        doc = site.collect(collect_timeout=1.0, database=DatabaseConfig(
            host="127.0.0.1", port=listener.getsockname()[1], name="x", user="u"))
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert_complete(doc)
    assert elapsed < 1.5
    assert doc["metrics"]["sepa.collector.status"] == 2


def test_cli_prints_document_and_exits_with_status(tmp_path, site):
    rc, out, err = run_cli("collect", "--config", write_config(tmp_path, site), "--now", str(N))
    doc = parse(out)
    assert rc == 0 and doc["metrics"]["sepa.collector.status"] == 0
    assert doc["site"] == "test-site" and doc["version"] == 1
    assert doc["clock"] == 1795345200          # 2026-11-22 12:00:00 Europe/Amsterdam (CET, UTC+1)


def test_cli_unreachable_exits_2_with_document(tmp_path, site):
    cfg = write_config(tmp_path, database={"host": "127.0.0.1", "port": unused_port(), "name": "x",
                                           "user": "u", "password": "secret-pw"})
    rc, out, err = run_cli("collect", "--config", cfg)
    assert rc == 2
    doc = parse(out)
    assert doc["metrics"]["sepa.collector.status"] == 2
    assert_complete(doc)
    assert "secret-pw" not in out + err
