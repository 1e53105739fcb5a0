"""The queue metrics on a real redis-server filled with RQ-shaped data (tests/rq_data.py, the
ground truth), beside a real site database: the values exactly; the bench found or chosen; the
logins Frappe uses (requirepass, its bench's ACL user) and a read-only one; a Redis that refuses,
is not there or hangs costs only its own keys; a collection writes nothing, costs a fixed number
of read commands whatever the number of jobs, and never reads a job's payload; the daily report
shows the same values."""
import json
import os
import subprocess
import time

import pytest

from tests import rq_data
from tests.conftest import N, parse, run_cli, write_config
from tests.redis_server import HOST, RedisServer, installed
from tests.tcp import LocalServer, unused_port
from zabbix_sepa.collect import unix_clock
from zabbix_sepa.config import RedisConfig

BENCH = "srv-frappe-bench"
TIMEZONE = "Europe/Amsterdam"          # write_config's and SiteDB.site's
CLOCK = unix_clock(N, TIMEZONE)
PROMTOOL = "/usr/bin/promtool"
pytestmark = pytest.mark.skipif(not installed(), reason="redis-server is not installed (tests/run.sh installs it)")


def queue_values(doc):
    """The queue part of a document, in the ground truth's shape."""
    return {"metrics": {k: v for k, v in doc["metrics"].items() if k.startswith("sepa.queue.")},
            "queues": sorted(doc["discovery"]["queues"], key=lambda q: q["{#QUEUE}"])}


def fill(server, **kwargs):
    with server.admin() as admin:
        return rq_data.fill(admin, BENCH, CLOCK, **kwargs)


def collect_cli(tmp_path, site, *args, **top):
    rc, out, err = run_cli("--debug", "collect", "--config", write_config(tmp_path, site, **top),
                           "--now", str(N), "--cadence", "minute", *args)
    assert "Traceback" not in err, err
    return rc, parse(out), err


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_collector_reads_what_rq_holds(site, redis_server, seed):
    expected = fill(redis_server, seed=seed)
    doc = site.collect(redis=RedisConfig(HOST, redis_server.port, bench_id=BENCH))
    assert queue_values(doc) == expected
    assert doc["unsupported"] == {} and doc["metrics"]["sepa.collector.status"] == 0


def test_without_a_bench_id_the_only_bench_is_read(site, redis_server):
    expected = fill(redis_server, other=None)
    doc = site.collect(redis=RedisConfig(HOST, redis_server.port))
    assert queue_values(doc) == expected and doc["metrics"]["sepa.collector.status"] == 0


def test_several_benches_without_a_bench_id_cost_the_queue_keys_only(site, redis_server):
    fill(redis_server)
    site.insert("Direct Debit Batch", status="Draft", batch_date=N.date())
    doc = site.collect(redis=RedisConfig(HOST, redis_server.port))
    assert doc["metrics"]["sepa.collector.status"] == 1 and doc["metrics"]["sepa.batch.total"] == 1
    reasons = {k: v for k, v in doc["unsupported"].items()}
    assert set(reasons) == set(rq_data.not_configured())
    (reason,) = set(reasons.values())
    assert reason.startswith(f"queues.rq: the Redis at {HOST}:{redis_server.port} holds the queues of 2 benches: "
                             f"set redis.bench_id")
    assert BENCH not in reason and "other-bench" not in reason


def test_an_empty_redis_has_no_queues_and_nothing_waits(site, redis_server):
    doc = site.collect(redis=RedisConfig(HOST, redis_server.port))
    assert queue_values(doc) == {"metrics": {"sepa.queue.queued": 0, "sepa.queue.oldest_age": 0.0,
                                             "sepa.queue.failed": 0, "sepa.queue.workers": 0}, "queues": []}


def test_a_collection_writes_nothing_reads_no_payload_and_costs_the_same_for_many_jobs(site, redis_server):
    expected = fill(redis_server)
    config = RedisConfig(HOST, redis_server.port, bench_id=BENCH)

    def calls():
        redis_server.reset_stats()
        before = redis_server.changes()
        assert queue_values(site.collect(redis=config))["metrics"]["sepa.queue.queued"] == queued
        assert redis_server.changes() == before                 # not a single write
        return redis_server.command_calls()
    queued = expected["metrics"]["sepa.queue.queued"]
    few = calls()
    workers = 7                                                 # every name in rq:workers, all benches'
    queues, waiting = len(expected["queues"]), sum(1 for q in expected["queues"] if q["queued"])
    assert few == {"smembers": 2, "hmget": workers, "llen": queues, "lindex": queues, "zcount": queues,
                   "hget": waiting}                             # one field of each queue's next job, no more
    with redis_server.admin() as admin:
        admin.pipeline([("RPUSH", f"rq:queue:{BENCH}:short", f"job-{i}") for i in range(5000)])
    queued += 5000
    assert calls() == few


@pytest.mark.parametrize("login", ["requirepass", "frappe's bench user", "a read-only user"])
def test_the_logins_frappe_uses_and_a_read_only_one(tmp_path, site, login):
    server = RedisServer(password="admin-secret-pw")
    try:
        expected = fill(server)
        password = {"requirepass": "admin-secret-pw"}.get(login, "user-secret-pw")
        if login == "frappe's bench user":     # frappe/utils/redis_queue.py: RedisQueue.gen_acl_list
            server.add_user(BENCH, password, "~rq:[^q]*", "~rq:queues", f"~rq:queue:{BENCH}:*", "+@all", "-@admin")
        elif login == "a read-only user":      # what the README proposes for zabbix-sepa
            server.add_user("zabbix-sepa", password, "~rq:*", "-@all", "+@read", "+@connection")
        pw = tmp_path / "redis.pw"
        pw.write_text(password + "\n")
        pw.chmod(0o600)
        mapping = server.mapping(password_file=str(pw), bench_id=BENCH)
        if login != "requirepass":
            mapping["username"] = BENCH if login == "frappe's bench user" else "zabbix-sepa"
        rc, doc, err = collect_cli(tmp_path, site, redis=mapping)
        assert rc == 0 and queue_values(doc) == expected, doc["unsupported"]
        assert password not in err
    finally:
        server.stop()


def test_a_refused_login_costs_the_queue_keys_with_the_reason(tmp_path, site):
    server = RedisServer(password="admin-secret-pw")
    try:
        pw = tmp_path / "redis.pw"
        pw.write_text("wrong-secret-pw")
        pw.chmod(0o600)
        rc, doc, err = collect_cli(tmp_path, site, redis=server.mapping(password_file=str(pw)))
        (reason,) = {doc["unsupported"][k] for k in rq_data.not_configured()}
        assert reason == (f"Redis at {HOST}:{server.port} answered: WRONGPASS invalid username-password pair or user "
                          f"is disabled. (check redis.username and redis.password_file)")
        rc_none, doc_none, _ = collect_cli(tmp_path, site, redis=server.mapping())         # no login at all
        assert doc_none["unsupported"]["sepa.queue.queued"] == (
            f"queues.rq: Redis at {HOST}:{server.port} answered: NOAUTH Authentication required. (Redis wants a "
            f"login: set redis.password_file (and redis.username for an ACL user))")
    finally:
        server.stop()
    assert rc == rc_none == 1 and doc["metrics"]["sepa.collector.status"] == 1
    assert "sepa.batch.total" in doc["metrics"] and "wrong-secret-pw" not in err


def test_an_unreachable_redis_costs_the_queue_keys_only(tmp_path, site):
    port = unused_port()
    rc, doc, err = collect_cli(tmp_path, site, redis={"host": HOST, "port": port})
    assert rc == 1 and doc["metrics"]["sepa.collector.status"] == 1 and "sepa.batch.total" in doc["metrics"]
    assert {doc["unsupported"][k] for k in rq_data.not_configured()} == {
        f"cannot connect to Redis at {HOST}:{port}: Connection refused"}
    assert f"cannot connect to Redis at {HOST}:{port}" in err          # the log says it once, plainly


class Silent(LocalServer):
    """Accepts connections and never answers (a hung Redis)."""

    def handle(self, conn):
        self.held.append(conn)


def test_a_hanging_redis_costs_its_keys_within_the_budget(tmp_path, site):
    peer = Silent()
    try:
        began = time.monotonic()
        rc, doc, err = collect_cli(tmp_path, site, collect_timeout=1.0, redis={"host": HOST, "port": peer.port})
        took = time.monotonic() - began
    finally:
        peer.close()
    assert took < 1.0 + 0.5, took                      # counted from the process start
    assert rc == 1 and "sepa.batch.total" in doc["metrics"]
    (reason,) = {doc["unsupported"][k] for k in rq_data.not_configured()}
    assert reason.startswith(f"queues.rq: no answer from Redis at {HOST}:{peer.port} within ") or \
        reason == "collect_timeout (1 s) exceeded (Redis)", reason


def test_the_daily_report_shows_the_background_jobs(tmp_path, site, redis_server):
    expected = fill(redis_server)
    cfg = write_config(tmp_path, site, redis=redis_server.mapping(bench_id=BENCH))
    rc, out, err = run_cli("report", "daily", "--config", cfg, "--now", str(N), "--format", "json")
    assert rc == 0, err
    table = json.loads(out)["tables"]["queues"]
    assert table["rows"] == [{"queue": q["{#QUEUE}"], "queued": q["queued"], "oldest_age": q["oldest_age"],
                              "failed": q["failed"], "workers": q["workers"]} for q in expected["queues"]]
    m = expected["metrics"]
    assert table["total"] == {"queue": "all queues", "queued": m["sepa.queue.queued"],
                              "oldest_age": m["sepa.queue.oldest_age"], "failed": m["sepa.queue.failed"],
                              "workers": m["sepa.queue.workers"]}
    rc, out, err = run_cli("report", "daily", "--config", cfg, "--now", str(N), "--format", "md")
    assert "## Background jobs (RQ queues of the bench, now)" in out and "| sepa_batches | " in out
    rc, out, err = run_cli("report", "daily", "--config", write_config(tmp_path, site), "--now", str(N),
                           "--format", "json")
    table = json.loads(out)["tables"]["queues"]
    assert rc == 0 and table["rows"] == [] and table["note"].startswith("Not collected: not configured")


@pytest.mark.skipif(not os.path.exists(PROMTOOL), reason="promtool is not installed")
def test_the_queue_families_pass_promtool(tmp_path, site, redis_server):
    fill(redis_server)
    cfg = write_config(tmp_path, site, redis=redis_server.mapping(bench_id=BENCH))
    rc, out, err = run_cli("collect", "--config", cfg, "--format", "prometheus", "--now", str(N))
    assert rc == 0, err
    assert 'sepa_queue_workers{site="test-site",queue="long"} 2\n' in out
    assert 'sepa_queue_workers_alive{site="test-site"} 3\n' in out
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=out, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_says_whether_the_queues_can_be_read(tmp_path, site, redis_server):
    """`zabbix-sepa check`'s line per site with `redis` (the Zabbix server it also tries is a
    closed port here)."""
    from zabbix_sepa import check, config
    with redis_server.admin() as admin:
        rq_data.fill(admin, BENCH, int(time.time()))              # check judges workers at this moment

    def redis_line(**mapping):
        path = write_config(tmp_path, site, redis=mapping, zabbix={"server": HOST, "port": unused_port()})
        (line,) = [line for line in check.run(config.load(path)) if "redis" in line[1]]
        return line
    where = f"{HOST}:{redis_server.port}"
    assert redis_line(**redis_server.mapping(bench_id=BENCH)) == (
        True, f"site test-site: redis {where}: answers, 4 queue(s) of the bench: default, long, sepa_batches, short")
    ok, text = redis_line(**redis_server.mapping())
    assert not ok and text.startswith(f"site test-site: redis: the Redis at {where} holds the queues of 2 benches")
    ok, text = redis_line(**redis_server.mapping(bench_id="home-frappe-frappe-bench"))
    assert not ok and "holds no queue of bench 'home-frappe-frappe-bench'" in text
    port = unused_port()
    assert redis_line(host=HOST, port=port) == (
        False, f"site test-site: redis: cannot connect to Redis at {HOST}:{port}: Connection refused")


def test_a_collection_is_four_round_trips(site, redis_server, monkeypatch):
    from zabbix_sepa import resp
    expected = fill(redis_server)
    trips, pipeline = [], resp.ReadOnlyRedis.pipeline

    def counted(self, commands):
        trips.append(len(commands))
        return pipeline(self, commands)
    monkeypatch.setattr(resp.ReadOnlyRedis, "pipeline", counted)
    assert queue_values(site.collect(redis=RedisConfig(HOST, redis_server.port, bench_id=BENCH))) == expected
    # the two sets; the hash of each of the 7 workers listed; 3 reads per queue; the next job's enqueued_at
    # of each of the 2 queues with jobs
    assert trips == [2, 7, 3 * 4, 2]
