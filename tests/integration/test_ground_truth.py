"""The collector against ground truth on generated datasets.

The generator builds a seeded dataset in SQL; tests/oracle.py recomputes every
metric and list in plain Python from the rows it reads back. The collector's
SQL and the oracle share no code, so agreement means both read the contract
the same way.
"""
import datetime as dt
import math

import pytest

from zabbix_sepa.config import DEFAULT_THRESHOLDS
from zabbix_sepa.dataset import generate
from tests import mariadb, oracle
from tests.conftest import SiteDB
from tests.rq_data import not_configured

NOW = dt.datetime(2026, 11, 22, 12, 0, 0)
# Derivable from rows only by the collector itself.
SELF_KEYS = {"sepa.db.size", "sepa.db.threads_connected", "sepa.collector.duration", "sepa.health.status",
             "sepa.collector.queries", "sepa.collector.rss", "sepa.collector.status",
             "sepa.collector.version"}


def close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return a == b


def assert_same_list(got, want, name):
    assert len(got) == len(want), f"{name}: {len(got)} items, truth has {len(want)}"
    for g, w in zip(got, want):
        assert set(g) == set(w), name
        bad = {k: (g[k], w[k]) for k in g if not close(g[k], w[k])}
        assert not bad, f"{name} item {w}: differs {bad}"


def assert_matches_truth(doc, truth):
    metrics = {k: v for k, v in doc["metrics"].items() if k not in SELF_KEYS}
    assert set(metrics) == set(truth["metrics"])
    bad = {k: (metrics[k], truth["metrics"][k]) for k in metrics if not close(metrics[k], truth["metrics"][k])}
    assert not bad, f"collector vs truth: {bad}"
    assert set(doc["unsupported"]) == set(truth["unsupported"]) | set(not_configured())   # the sites have no redis
    for name in ("batches", "banks", "jobs"):
        got = doc["discovery"][name]
        if name != "batches":      # the contract orders only the batches list
            key = "{#BANK}" if name == "banks" else "{#JOB}"
            got = sorted(got, key=lambda item: item[key])
        assert_same_list(got, truth["discovery"][name], name)


def generated(server, scale, skip=(), now=NOW, seed=1):
    db = SiteDB(server, mariadb.unique_name(f"gt{scale}"), schema=False)
    generate.generate(db.admin, scale, now, seed=seed, skip=skip)
    db.admin.commit()
    return db


@pytest.fixture(scope="module")
def prod(server):
    db = generated(server, "prod")
    yield db, oracle.load_rows(db.admin)
    db.drop()


def test_tiny_matches_truth(server):
    db = generated(server, "tiny")
    try:
        doc = db.collect(NOW)
        assert doc["metrics"]["sepa.collector.status"] == 0
        rows = oracle.load_rows(db.admin)
        assert_matches_truth(doc, oracle.truth(rows, NOW))
        # the Activity Log's scenario rows are where the rule decides (generate.activity_scenarios)
        users = oracle.active_users(oracle._live(rows["Activity Log"], NOW), oracle._Clock(NOW))
        scenario = {u for u in users if u.startswith("scenario.")}
        assert scenario == {"scenario.window.start@example.org", "scenario.at.n@example.org",
                            "scenario.repeat@example.org"}
        assert "administrator" in users and len(users) > len(scenario) + 1     # and users of the pool
    finally:
        db.drop()


def test_prod_matches_truth(prod):
    db, rows = prod
    doc = db.collect(NOW)
    assert doc["metrics"]["sepa.collector.status"] == 0
    assert_matches_truth(doc, oracle.truth(rows, NOW))
    # the dataset exercises the rules: most values are not trivially zero
    nonzero = [k for k, v in doc["metrics"].items() if v not in (0, 0.0, -1, 100.0)]
    assert len(nonzero) >= 50, sorted(set(doc["metrics"]) - set(nonzero))
    assert all(doc["discovery"][name] for name in ("batches", "banks", "jobs"))


# Statements of the sections the contract added after the core issue: the active users
# (issue 17; an optional table of its own, so it cannot share another section's statement).
ADDED_STATEMENTS = 1


def test_prod_statement_budget(prod):
    """Target of the core issue: the whole collection of the core contract in at most 20 SQL
    statements; what was added since brings its own (ADDED_STATEMENTS)."""
    db, _ = prod
    assert db.collect(NOW)["metrics"]["sepa.collector.queries"] <= 20 + ADDED_STATEMENTS


@pytest.mark.parametrize("now, thresholds, max_batches", [
    (NOW + dt.timedelta(days=3, hours=5, minutes=17), {"batch_stuck_hours": 1, "batch_unprocessed_hours": 24}, 7),
    (NOW - dt.timedelta(days=40), {"batch_stuck_hours": 12, "batch_unprocessed_hours": 200}, 100),
])
def test_prod_matches_truth_at_other_times_and_settings(prod, now, thresholds, max_batches):
    db, rows = prod
    doc = db.collect(now, thresholds=dict(DEFAULT_THRESHOLDS, **thresholds), discovery={"max_batches": max_batches})
    truth = oracle.truth(rows, now, batch_stuck_hours=thresholds["batch_stuck_hours"],
                         batch_unprocessed_hours=thresholds["batch_unprocessed_hours"], max_batches=max_batches)
    assert_matches_truth(doc, truth)


def test_tiny_without_optional_tables_matches_truth(server):
    db = generated(server, "tiny", skip=("SEPA Payment Retry", "SEPA Audit Log", "Activity Log"), seed=7)
    try:
        doc = db.collect(NOW)
        truth = oracle.truth(oracle.load_rows(db.admin), NOW)
        assert truth["unsupported"] == {"sepa.retry.pending", "sepa.retry.escalated", "sepa.audit.events_7d",
                                        "sepa.audit.exceptions_7d", "sepa.audit.compliance_rate_7d",
                                        "sepa.users.active_24h"}
        assert_matches_truth(doc, truth)
        assert doc["metrics"]["sepa.collector.status"] == 0
    finally:
        db.drop()


def test_generator_is_deterministic(server):
    a, b = generated(server, "tiny", seed=3), generated(server, "tiny", seed=3)
    try:
        assert oracle.load_rows(a.admin) == oracle.load_rows(b.admin)
    finally:
        a.drop()
        b.drop()
