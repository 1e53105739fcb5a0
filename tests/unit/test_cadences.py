"""Cadences without a database: which sections a `collect --cadence` runs, how a section that
fails in any way is reported, how the budget cuts a collection, how a whole document is split,
and when `send` (cadence due) sends the hourly document."""
import datetime as dt
import re
import time

import pytest

from tests.unit.test_spool import FakeSender, config
from zabbix_sepa import collect as collect_mod
from zabbix_sepa import registry
from zabbix_sepa.collect import collect
from zabbix_sepa.config import Site
from zabbix_sepa.db import DatabaseError
from zabbix_sepa.groups import collector
from zabbix_sepa.groups.base import HOUR, INT, MINUTE, Metric, Section
from zabbix_sepa.transport import push
from zabbix_sepa.transport.spool import HostSpool

IBAN = "NL91ABNA0417164300"


def section(name, cadence, run, keys=None):
    keys = keys or [f"t.{name}"]
    return Section(name, run, cadence=cadence, tables=("tabX",),
                   metrics=tuple(Metric(k, k, INT) for k in keys))


def site(collect_timeout=1.0, hour_timeout=5.0):
    return Site("s", None, {}, {}, "UTC", collect_timeout, hour_collect_timeout=hour_timeout)


NOW = dt.datetime(2026, 11, 22, 12, 0, 0)


def test_a_cadence_collects_its_own_sections_and_the_collector(fake_registry):
    ran = []

    def value(name):
        def run(ctx):
            ran.append(name)
            return {f"t.{name}": 1}
        return run
    fake_registry(section("fast", MINUTE, value("fast")), section("slow", HOUR, value("slow")))
    minute = collect(site(), NOW, cadence=MINUTE)
    assert ran == ["fast"] and minute["cadence"] == MINUTE
    assert set(minute["metrics"]) == {"t.fast"} | {m.key for m in collector.GROUP.metrics}
    ran.clear()
    hour = collect(site(), NOW, cadence=HOUR)
    assert ran == ["slow"] and "t.fast" not in hour["metrics"] and hour["metrics"]["t.slow"] == 1
    ran.clear()
    whole = collect(site(), NOW)
    assert ran == ["fast", "slow"] and whole["cadence"] == "all"
    with pytest.raises(ValueError, match="unknown cadence 'daily'"):
        collect(site(), NOW, cadence="daily")


def test_the_minute_sections_run_first_in_a_whole_collection(fake_registry):
    ran = []
    fake_registry(section("h", HOUR, lambda ctx: ran.append("h") or {"t.h": 1}),
                  section("m", MINUTE, lambda ctx: ran.append("m") or {"t.m": 1}))
    collect(site(), NOW)
    assert ran == ["m", "h"]


def broken(ctx):
    raise ValueError(f"cannot parse {IBAN}")


def db_error(ctx):
    raise DatabaseError("Lock wait timeout exceeded")


@pytest.mark.parametrize("run, reason", [
    (broken, "t.bad: ValueError at "),
    (lambda ctx: {}, "t.bad: returned no value for t.bad (a collector bug)"),
    (lambda ctx: {"t.bad": 1 / 0}, "t.bad: ZeroDivisionError at "),
    (lambda ctx: None, "t.bad: returned no value for t.bad (a collector bug)"),
    (db_error, "t.bad: Lock wait timeout exceeded"),
])
def test_a_section_that_fails_in_any_way_costs_only_its_own_keys(fake_registry, caplog, run, reason):
    fake_registry(section("bad", MINUTE, run), section("good", MINUTE, lambda ctx: {"t.good": 7}))
    doc = collect(site(), NOW, cadence=MINUTE)
    assert doc["metrics"]["t.good"] == 7 and doc["metrics"]["sepa.collector.status"] == 1
    assert doc["unsupported"]["t.bad"].startswith(reason), doc["unsupported"]
    # a bug's message may quote the data: only its type and place leave the collector
    assert IBAN not in str(doc) and IBAN not in caplog.text
    if run is broken:      # placed by the innermost frame of zabbix_sepa (here: where it was called)
        assert re.fullmatch(r"t\.bad: ValueError at collect\.py:\d+ \(a collector bug\)", doc["unsupported"]["t.bad"])


def test_the_budget_of_the_cadence_cuts_off_what_is_late(fake_registry):
    fake_registry(section("quick", MINUTE, lambda ctx: {"t.quick": 1}),
                  section("late", MINUTE, lambda ctx: time.sleep(1.0) or {"t.late": 1}))
    began = time.monotonic()
    doc = collect(site(collect_timeout=0.3), NOW, cadence=MINUTE)
    assert time.monotonic() - began < 0.3 + collect_mod.GRACE + 0.2
    assert doc["metrics"]["t.quick"] == 1 and doc["metrics"]["sepa.collector.status"] == 1
    assert doc["unsupported"]["t.late"] == "collect_timeout (0.3 s) exceeded"


def test_the_hour_has_its_own_budget(fake_registry):
    fake_registry(section("slow", HOUR, lambda ctx: time.sleep(0.5) or {"t.slow": 1}))
    doc = collect(site(collect_timeout=0.2, hour_timeout=2.0), NOW, cadence=HOUR)
    assert doc["metrics"]["t.slow"] == 1 and doc["metrics"]["sepa.collector.status"] == 0
    cut = collect(site(collect_timeout=5, hour_timeout=0.2), NOW, cadence=HOUR)
    assert cut["unsupported"]["t.slow"] == "cadences.hour.collect_timeout (0.2 s) exceeded"


def test_one_collection_of_both_gives_each_cadence_its_keys_and_its_own_status(fake_registry):
    """What `send` delivers when both are due: one run, two documents. A failing hourly
    section makes the hourly document partial, not the minute one (the partial trigger of
    the minute fired once an hour when both got the run's status)."""
    fake_registry(section("fresh", MINUTE, lambda ctx: {"t.fresh": 1}),
                  section("slow", HOUR, lambda ctx: time.sleep(0.05) or {}),
                  section("list", HOUR, lambda ctx: {"t.list": 2}))
    parts = collect_mod.collect_each(site(), NOW)
    minute, hour = parts[MINUTE], parts[HOUR]
    assert minute["metrics"]["t.fresh"] == 1 and "t.list" not in minute["metrics"] and minute["unsupported"] == {}
    assert hour["metrics"]["t.list"] == 2 and "t.fresh" not in hour["metrics"] and list(hour["unsupported"]) == ["t.slow"]
    assert (minute["metrics"]["sepa.collector.status"], hour["metrics"]["sepa.collector.status"]) == (0, 1)
    # the minute sections ran first: the minute document's time ends with them
    assert minute["metrics"]["sepa.collector.duration"] < 0.05 <= hour["metrics"]["sepa.collector.duration"]
    assert minute["clock"] == hour["clock"] and (minute["cadence"], hour["cadence"]) == (MINUTE, HOUR)


def test_every_key_has_one_cadence_and_the_masters_are_the_contract():
    minute = {m.key for m in registry.metrics(MINUTE)} - {m.key for m in collector.GROUP.metrics}
    hour = {m.key for m in registry.metrics(HOUR)} - {m.key for m in collector.GROUP.metrics}
    assert minute and hour and not minute & hour
    assert minute | hour | {m.key for m in collector.GROUP.metrics} == {m.key for m in registry.metrics()}
    assert registry.master_key(MINUTE) == "sepa.collect" and registry.master_key(HOUR) == "sepa.collect.hour"
    # what the issue names as slow-changing and costly is hourly; batches, errors and jobs are fresh
    assert {"sepa.mandate.dormant", "sepa.mandate.iban_invalid", "sepa.collection.rate_30d",
            "sepa.invoice.outstanding.amount", "sepa.member.sepa_without_mandate"} <= hour
    assert {"sepa.batch.stuck", "sepa.batch.failed_24h", "sepa.error.count_1h", "sepa.scheduler.failed_24h",
            "sepa.dues.stuck", "sepa.retry.pending", "sepa.audit.exceptions_7d"} <= minute


# -- send --cadence due -----------------------------------------------------------------------

def recording_collect(calls, hour_status=0):
    """A stand-in for the collector: (collect, collect_each), recording what was asked."""
    def doc(site, now, cadence, metrics):
        return {"version": 1, "site": site.name, "clock": int(now.replace(tzinfo=dt.timezone.utc).timestamp()),
                "cadence": cadence, "metrics": metrics, "discovery": {}, "unsupported": {}}

    def one(site, now, cadence="all"):
        calls.append(cadence)
        return doc(site, now, cadence, {"sepa.batch.total": 1, "sepa.collector.status": 0})

    def each(site, now):
        calls.append("each")
        return {MINUTE: doc(site, now, MINUTE, {"sepa.batch.total": 1, "sepa.collector.status": 0}),
                HOUR: doc(site, now, HOUR, {"sepa.mandate.total": 2, "sepa.collector.status": hour_status})}
    return one, each


def sent_keys(sender):
    return sorted(v[1] for v in sender.delivered)


def test_due_sends_the_hourly_document_once_per_hour(tmp_path):
    cfg = config(tmp_path)
    calls, sender = [], FakeSender()

    def at(minute_of_day):
        sender.delivered.clear()
        now = dt.datetime(2026, 11, 22) + dt.timedelta(minutes=minute_of_day)
        one, each = recording_collect(calls)
        push.send(cfg, cfg.sites, now, collect=one, collect_each=each, sender=sender)
        return sent_keys(sender)

    assert at(12 * 60 + 7) == ["sepa.collect", "sepa.collect.hour"]     # nothing sent yet: both
    assert calls == ["each"]                                              # from one collection
    assert at(12 * 60 + 8) == ["sepa.collect"] and calls[-1] == MINUTE
    assert at(12 * 60 + 59) == ["sepa.collect"]
    assert at(13 * 60) == ["sepa.collect", "sepa.collect.hour"]           # the hour turned
    hourly = [v for v in sender.delivered if v[1] == "sepa.collect.hour"]
    assert '"sepa.mandate.total":2' in hourly[0][2] and "sepa.batch.total" not in hourly[0][2]
    assert at(13 * 60 + 1) == ["sepa.collect"]
    assert HostSpool(cfg.spool_dir, "alpha").last_collected(HOUR) % 3600 == 0


def test_an_explicit_cadence_is_sent_whatever_is_due(tmp_path):
    cfg = config(tmp_path)
    now = dt.datetime(2026, 11, 22, 12, 30)
    for cadence, keys, made in (("hour", ["sepa.collect.hour"], "hour"), ("minute", ["sepa.collect"], "minute"),
                                ("all", ["sepa.collect", "sepa.collect.hour"], "each")):
        calls, sender = [], FakeSender()
        one, each = recording_collect(calls)
        push.send(cfg, cfg.sites, now, collect=one, collect_each=each, sender=sender, cadence=cadence)
        assert sent_keys(sender) == keys and calls == [made]


def test_an_hourly_document_without_the_database_is_collected_again_next_run(tmp_path):
    cfg = config(tmp_path)
    calls = []
    one, each = recording_collect(calls, hour_status=2)
    for minute in (7, 8):
        push.send(cfg, cfg.sites, dt.datetime(2026, 11, 22, 12, minute), collect=one, collect_each=each,
                  sender=FakeSender())
    assert calls == ["each", "each"] and HostSpool(cfg.spool_dir, "alpha").last_collected(HOUR) is None


# -- serve: the hourly metrics collected once per interval, the minute ones each scrape ----------

def test_serve_collects_the_hourly_metrics_once_per_interval():
    from zabbix_sepa.config import parse
    from zabbix_sepa.transport.serve import Cadenced
    site_ = parse({"sites": [{"name": "s", "database": {"name": "d", "user": "u"}}]}).sites[0]
    now, calls = [1000.0], []

    def fake(site, cadence="all"):
        calls.append(cadence)
        metrics = {"sepa.collector.status": 0, "sepa.collector.duration": len(calls)}
        if cadence in ("all", MINUTE):
            metrics["sepa.batch.total"] = len(calls)
        if cadence in ("all", HOUR):
            metrics["sepa.mandate.total"] = len(calls)
        return {"version": 1, "site": "s", "clock": 1, "cadence": cadence, "metrics": metrics,
                "discovery": {}, "unsupported": {}}
    def fake_each(site):
        whole = fake(site, "all")
        calls[-1] = "each"
        return {MINUTE: dict(whole, metrics={k: v for k, v in whole["metrics"].items() if k != "sepa.mandate.total"}),
                HOUR: dict(whole, metrics={k: v for k, v in whole["metrics"].items() if k != "sepa.batch.total"})}
    c = Cadenced(fake, fake_each, clock=lambda: now[0])
    first = c.document(site_)
    assert calls == ["each"] and first["metrics"]["sepa.mandate.total"] == 1
    now[0] += 3599
    second = c.document(site_)
    assert calls == ["each", MINUTE]
    assert second["metrics"] == {"sepa.collector.status": 0, "sepa.collector.duration": 2,
                                 "sepa.batch.total": 2, "sepa.mandate.total": 1}   # the kept hourly value
    now[0] += 1
    assert c.document(site_)["metrics"]["sepa.mandate.total"] == 3 and calls[-1] == "each"
