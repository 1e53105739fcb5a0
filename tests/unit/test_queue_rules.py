"""The queue metrics' rules without a Redis (groups/queues.py: RQ's timestamps, which bench, which
worker is alive, a queue's entry), and how the collector runs a Redis section: beside the
database, within the budget, unsupported without a failure when `redis` is not configured, with
one when it cannot be reached."""
import datetime as dt
import time

import pytest

from tests.unit.test_cadences import NOW, section
from zabbix_sepa import collect as collect_mod
from zabbix_sepa import registry, resp
from zabbix_sepa.collect import REDIS_NOT_CONFIGURED, collect, unix_clock
from zabbix_sepa.config import RedisConfig, Site
from zabbix_sepa.db import Unreachable as DatabaseUnreachable
from zabbix_sepa.groups import queues
from zabbix_sepa.groups.base import INT, MINUTE, REDIS, Metric, Section, SourceError
from zabbix_sepa.groups.queues import Worker, bench_queues, queue_entry, rq_time

CLOCK = 1795345200


def test_rq_timestamps_in_both_formats_and_nothing_else():
    assert rq_time(b"2026-11-22T10:47:25.250000Z") == dt.datetime(2026, 11, 22, 10, 47, 25, 250000,
                                                                 tzinfo=dt.timezone.utc).timestamp()
    assert rq_time("2026-11-22T10:47:25Z") == dt.datetime(2026, 11, 22, 10, 47, 25, tzinfo=dt.timezone.utc).timestamp()
    for bad in (None, b"", b"yesterday", b"2026-11-22 10:47:25", b"1795345200"):
        assert rq_time(bad) is None


def test_ages_are_rounded_to_the_millisecond_and_never_negative():
    assert queues.age(CLOCK, CLOCK - 754.1229999) == 754.123
    assert queues.age(CLOCK, CLOCK + 3.5) == 0.0              # a worker's clock ahead of ours


@pytest.mark.parametrize("names, bench_id, want", [
    ({"b:short", "b:default"}, None, {"default": "b:default", "short": "b:short"}),
    ({"home-frappe-frappe-bench:long"}, None, {"long": "home-frappe-frappe-bench:long"}),
    ({"b:short", "other:short", "other:long"}, "b", {"short": "b:short"}),
    ({"b:short", "other:short"}, "nobody", {}),
    ({"short", "default"}, None, {"default": "default", "short": "short"}),         # Frappe v13: no prefix
    ({"site:bench:short", "bench:short"}, "site:bench", {"short": "site:bench:short"}),  # a bench_id with ':'
    (set(), None, {}),
])
def test_the_queues_of_one_bench(names, bench_id, want):
    assert bench_queues(names, bench_id, "r:6379") == want


def test_several_benches_without_a_bench_id_is_an_error_that_names_no_bench():
    with pytest.raises(SourceError) as err:
        bench_queues({"home-alice-bench:short", "home-bob-bench:short", "default"}, None, "r:6379")
    text = str(err.value)
    assert "holds the queues of 3 benches: set redis.bench_id" in text and "r:6379" in text
    assert "alice" not in text and "bob" not in text          # a bench path may hold a login name


@pytest.mark.parametrize("worker, alive", [
    (Worker(("b:short",), CLOCK - 30, False), True),
    (Worker(("b:short",), CLOCK - queues.HEARTBEAT_MAX_AGE, False), True),
    (Worker(("b:short",), CLOCK - queues.HEARTBEAT_MAX_AGE - 0.001, False), False),   # a leftover hash
    (Worker(("b:short",), CLOCK + 20, False), True),                                  # its clock ahead
    (Worker(("b:short",), None, False), False),                                       # its hash expired
    (Worker(("b:short",), CLOCK - 5, True), False),                                   # it registered its death
])
def test_which_worker_is_alive(worker, alive):
    assert worker.alive(CLOCK) is alive


def test_a_queue_entry():
    live = [Worker(("b:short", "b:default"), CLOCK, False), Worker(("b:long",), CLOCK, False)]
    assert queue_entry("short", "b:short", (4, b"j1", 2), {b"j1": CLOCK - 61.5}, live, CLOCK) == \
        {"{#QUEUE}": "short", "queued": 4, "oldest_age": 61.5, "failed": 2, "workers": 1}
    # empty; or its next job's hash gone (taken and deleted between two reads): no age
    assert queue_entry("long", "b:long", (0, None, 0), {}, live, CLOCK)["oldest_age"] == 0.0
    assert queue_entry("short", "b:short", (1, b"j2", 0), {b"j2": None}, live, CLOCK)["oldest_age"] == 0.0


def test_the_group_declares_one_minute_section_that_reads_redis():
    (rq,) = queues.GROUP.sections
    assert (rq.source, rq.cadence, rq.tables, rq.needs_db) == (REDIS, MINUTE, (), False)
    assert registry.cadence_of("sepa.queue.queued") == MINUTE and registry.cadence_of("queues") == MINUTE


# -- the collector ------------------------------------------------------------------------------

class FakeRedis:
    where, commands = "fake:6379", 0

    def close(self):
        pass


def redis_section(run, name="q"):
    return Section(name, run, source=REDIS, metrics=(Metric(f"t.{name}", f"t.{name}", INT),))


def site(redis=RedisConfig("127.0.0.1", 1), collect_timeout=1.0):
    return Site("s", None, {}, {}, "UTC", collect_timeout, hour_collect_timeout=5.0, redis=redis)


@pytest.fixture
def connected(monkeypatch):
    """resp.connect answers with a FakeRedis (or raises what a test sets)."""
    outcome = {"raise": None}

    def connect(config, deadline):
        if outcome["raise"]:
            raise outcome["raise"]
        return FakeRedis()
    monkeypatch.setattr(collect_mod.resp, "connect", connect)
    return outcome


def test_without_redis_configured_its_keys_are_unsupported_and_nothing_failed(fake_registry, connected):
    connected["raise"] = AssertionError("must not connect")
    fake_registry(section("db", MINUTE, lambda ctx: {"t.db": 1}), redis_section(lambda ctx: {"t.q": 2}))
    doc = collect(site(redis=None), NOW, cadence=MINUTE)
    assert doc["metrics"]["t.db"] == 1 and doc["metrics"]["sepa.collector.status"] == 0
    assert doc["unsupported"] == {"t.q": REDIS_NOT_CONFIGURED}


def test_a_redis_section_sees_the_connection_and_the_clock(fake_registry, connected):
    seen = {}

    def run(ctx):
        seen.update(redis=ctx.redis, clock=ctx.clock, db=ctx.db)
        return {"t.q": 2}
    fake_registry(section("db", MINUTE, lambda ctx: {"t.db": 1}), redis_section(run))
    doc = collect(site(), NOW, cadence=MINUTE)
    assert doc["metrics"]["t.q"] == 2 and doc["unsupported"] == {} and doc["metrics"]["sepa.collector.status"] == 0
    assert isinstance(seen["redis"], FakeRedis) and seen["db"] is None and seen["clock"] == unix_clock(NOW, "UTC")
    assert collect(site(), NOW, cadence="hour")["unsupported"] == {}         # minute only: no Redis at all


@pytest.mark.parametrize("error, reason", [
    (resp.Unreachable("cannot connect to Redis at 127.0.0.1:1: Connection refused"),
     "cannot connect to Redis at 127.0.0.1:1: Connection refused"),
    (resp.LoginFailed("127.0.0.1:1", "WRONGPASS invalid username-password pair or user is disabled."),
     "Redis at 127.0.0.1:1 answered: WRONGPASS invalid username-password pair or user is disabled. "
     "(check redis.username and redis.password_file)"),
])
def test_a_redis_that_cannot_be_used_costs_its_keys_and_counts_as_a_failure(fake_registry, connected, error, reason):
    connected["raise"] = error
    fake_registry(section("db", MINUTE, lambda ctx: {"t.db": 1}), redis_section(lambda ctx: {"t.q": 2}))
    doc = collect(site(), NOW, cadence=MINUTE)
    assert doc["metrics"]["t.db"] == 1 and doc["metrics"]["sepa.collector.status"] == 1
    assert doc["unsupported"] == {"t.q": reason}


@pytest.mark.parametrize("error, reason", [
    (resp.Unreachable("no answer from Redis at fake:6379 within 0.5 s"),
     "t.q: no answer from Redis at fake:6379 within 0.5 s"),
    (SourceError("the Redis at fake:6379 holds the queues of 2 benches"),
     "t.q: the Redis at fake:6379 holds the queues of 2 benches"),
    (resp.ReplyError("fake:6379", "NOPERM no permissions to access a key sentinel.person@example.org"),
     "t.q: Redis at fake:6379 answered: NOPERM no permissions to access a key <e-mail> (the login may not"),
])
def test_a_redis_section_that_fails_costs_its_own_keys(fake_registry, connected, error, reason):
    def run(ctx):
        raise error
    fake_registry(redis_section(run), redis_section(lambda ctx: {"t.r": 3}, "r"))
    doc = collect(site(), NOW, cadence=MINUTE)
    assert doc["metrics"]["t.r"] == 3 and doc["metrics"]["sepa.collector.status"] == 1
    assert doc["unsupported"]["t.q"].startswith(reason)


def test_redis_and_the_database_are_read_side_by_side_within_the_budget(fake_registry, connected):
    fake_registry(section("db", MINUTE, lambda ctx: time.sleep(0.3) or {"t.db": 1}),
                  redis_section(lambda ctx: time.sleep(0.3) or {"t.q": 2}))
    began = time.monotonic()
    doc = collect(site(collect_timeout=0.5), NOW, cadence=MINUTE)
    assert time.monotonic() - began < 0.5                     # 0.6 s one after the other
    assert (doc["metrics"]["t.db"], doc["metrics"]["t.q"]) == (1, 2)


def test_a_hanging_redis_is_cut_off_by_the_budget_and_the_database_s_values_stay(fake_registry, connected):
    fake_registry(section("db", MINUTE, lambda ctx: {"t.db": 1}),
                  redis_section(lambda ctx: time.sleep(2) or {"t.q": 2}))
    began = time.monotonic()
    doc = collect(site(collect_timeout=0.3), NOW, cadence=MINUTE)
    assert time.monotonic() - began < 0.3 + collect_mod.GRACE + 0.2
    assert doc["metrics"]["t.db"] == 1 and doc["metrics"]["sepa.collector.status"] == 1
    assert doc["unsupported"] == {"t.q": "collect_timeout (0.3 s) exceeded (Redis)"}


def test_queue_metrics_do_not_need_the_database(fake_registry, connected, monkeypatch):
    class NoDatabase:
        def __init__(self, cfg, deadline):
            raise DatabaseUnreachable("Can't connect to MySQL server")
    monkeypatch.setattr(collect_mod, "Database", NoDatabase)
    fake_registry(section("db", MINUTE, lambda ctx: {"t.db": 1}), redis_section(lambda ctx: {"t.q": 2}))
    doc = collect(site(), NOW, cadence=MINUTE)
    assert doc["metrics"]["t.q"] == 2 and doc["metrics"]["sepa.collector.status"] == 2
    assert doc["unsupported"] == {"t.db": "database unreachable: Can't connect to MySQL server"}
