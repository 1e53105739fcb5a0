"""Prometheus names, labels, units and escaping, from a hand-made document."""
from zabbix_sepa import registry
from zabbix_sepa.transport.prometheus import exposition, name_of


def metric(key):
    return next(m for m in registry.metrics() if m.key == key)


def test_names_follow_prometheus_conventions():
    assert name_of(metric("sepa.batch.pending.count"))[0] == "sepa_batch_pending"
    assert name_of(metric("sepa.batch.total"))[0] == "sepa_batches"
    assert name_of(metric("sepa.mandate.total"))[0] == "sepa_mandates"
    assert name_of(metric("sepa.batch.status[draft]"))[:3] == ("sepa_batch_status", "status", "draft")
    assert name_of(metric("sepa.error.category_24h[timeout]"))[:3] == ("sepa_error_category_24h", "category", "timeout")
    assert name_of(metric("sepa.db.size"))[0] == "sepa_db_size_bytes"
    assert name_of(metric("sepa.invoice.last_age"))[0] == "sepa_invoice_last_age_seconds"
    assert name_of(metric("sepa.collection.rate_30d")) == ("sepa_collection_rate_30d_ratio", None, None, 0.01)
    names = {name_of(m)[:3] for m in registry.metrics() if m.value_type != "str"}
    assert len(names) == len(registry.metrics()) - 1          # no two metrics share a series


def test_exposition():
    doc = {"site": 'a"b\\c', "metrics": {"sepa.batch.status[draft]": 3, "sepa.collection.rate_30d": 87.5,
                                        "sepa.collector.version": "0.1.0"},
           "discovery": {"banks": [{"{#BANK}": "NL:INGB", "mandates": 7, "failed_entries_30d": 1}]},
           "unsupported": {"sepa.audit.events_7d": "optional table missing"}}
    text = exposition([doc])
    site = 'site="a\\"b\\\\c"'
    assert f'sepa_batch_status{{{site},status="draft"}} 3\n' in text
    assert f"sepa_collection_rate_30d_ratio{{{site}}} 0.875\n" in text
    assert f'sepa_collector_info{{{site},version="0.1.0"}} 1\n' in text
    assert f'sepa_bank_mandates{{{site},bank="NL:INGB"}} 7\n' in text
    assert f"sepa_collector_unsupported_metrics{{{site}}} 1\n" in text
    assert "sepa_audit_events_7d" not in text                # absent, not zero
    assert text.count("# TYPE sepa_batch_status gauge") == 1


def test_every_metric_declares_its_prometheus_name_in_its_group():
    """The names are declared, not guessed: valid, unit-suffixed, a label exactly for keys with
    a parameter, and no two metrics on one series."""
    import re
    suffix = {"s": "_seconds", "B": "_bytes", "%": "_ratio", "EUR": "_eur"}
    for m in registry.metrics():
        if m.value_type == "str":
            assert (m.prometheus, m.label) == ("", ""), m.key
            continue
        assert re.fullmatch(r"sepa_[a-z0-9_]+", m.prometheus), m.key
        assert m.prometheus.endswith(suffix.get(m.unit, "")), m.key
        assert not m.prometheus.endswith(("_count", "_total")), m.key     # promtool: not on gauges
        assert bool(m.label) == ("[" in m.key), m.key


def test_discovery_fields_have_families_of_their_own():
    """A list's fields are exposed as <item_prefix>_<field>{<macro>="..."}: none may fall into a
    metric's family (sepa.queue.queued, the total, is sepa_queue_jobs_queued; the queue's own
    sepa_queue_queued{queue="short"})."""
    text = exposition([{"site": "s", "metrics": {"sepa.queue.queued": 5, "sepa.queue.oldest_age": 61.5},
                        "discovery": {"queues": [{"{#QUEUE}": "short", "queued": 5, "oldest_age": 61.5,
                                                  "failed": 1, "workers": 0}]}, "unsupported": {}}])
    assert 'sepa_queue_jobs_queued{site="s"} 5\n' in text and 'sepa_queue_queued{site="s",queue="short"} 5\n' in text
    assert 'sepa_queue_oldest_job_age_seconds{site="s"} 61.5\n' in text
    assert 'sepa_queue_oldest_age_seconds{site="s",queue="short"} 61.5\n' in text
    from zabbix_sepa.transport.prometheus import UNITS
    metric_families = {m.prometheus for m in registry.metrics() if m.prometheus}
    for d in registry.discoveries():
        for f in d.fields:
            family = d.item_prefix.replace(".", "_") + "_" + f.key + UNITS.get(f.unit, ("", 1))[0]
            assert family not in metric_families and family in text or d.name != "queues", (d.name, family)
            assert family not in metric_families, (d.name, family)
