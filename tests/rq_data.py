"""Ground truth for the queue metrics: Frappe's background jobs as RQ (1.15 and 2.x alike) leaves
them in its Redis, written into a real redis-server, with the values the collector must read.

`fill(conn, bench, clock)` writes, for the bench `bench` at the time `clock` (unix seconds):

- queue `short`: jobs oldest first, the next one enqueued `offset` seconds before `clock`;
- queue `default`: registered in `rq:queues` (it had jobs), empty now;
- queue `long`: never had a job (not in `rq:queues`), but a live worker listens to it;
- queue `sepa_batches` (a custom worker type): jobs, the next one put at the front (RQ's
  at_front: newer than those behind it), one with RQ's older timestamp format, and no worker;
- failed registries: entries RQ still keeps (their score, when RQ may forget them, ahead of
  `clock`, or +inf) and entries whose time has passed (RQ's clean-up would remove them);
- workers: alive ones (fresh heartbeat), one whose hash outlived HEARTBEAT_MAX_AGE, one whose
  hash expired (its name still in `rq:workers`), one that registered its death;
- a second bench (`other`) with queues, failed jobs and a worker of its own: never counted.

Every job's hash holds what a real one does: the pickled call (`data`) and its description,
with the personal data of `sentinels` in them, which the collector must never read.
The expected values come from what was written, not from reading it back.
"""
import datetime as dt
import random
import uuid

from zabbix_sepa import registry
from zabbix_sepa.collect import REDIS_NOT_CONFIGURED
from zabbix_sepa.groups.queues import HEARTBEAT_MAX_AGE

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
RQ_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
RQ_OLD_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
SITE = "verenigingen.example.org"
FAILURE_TTL = 7 * 86400          # Frappe's RQ_JOB_FAILURE_TTL


def not_configured():
    """The `unsupported` entries of a document whose site has no `redis`: the Redis sections'
    metrics and lists (`discovery.<list>`), each with the same reason (not a failure)."""
    sections = [s for _, s in registry.sections() if s.source == registry.REDIS]
    keys = [m.key for s in sections for m in s.metrics] + [f"discovery.{d.name}" for s in sections for d in s.discovery]
    return dict.fromkeys(keys, REDIS_NOT_CONFIGURED)


def rq_time(clock, seconds_before, fmt=RQ_FORMAT):
    """RQ's text for `seconds_before` (whole milliseconds) before `clock`, computed exactly."""
    moment = EPOCH + dt.timedelta(microseconds=clock * 1_000_000 - round(seconds_before * 1_000_000))
    return moment.strftime(fmt)


class Writer:
    """RQ's writes, as its Queue, Job, registries and Worker make them."""

    def __init__(self, conn, clock, rng, sentinels):
        self.conn, self.clock, self.rng, self.sentinels = conn, clock, rng, sentinels

    def job(self, queue, seconds_before, fmt=RQ_FORMAT, status="queued"):
        job_id = f"{SITE}||{uuid.UUID(int=self.rng.getrandbits(128))}"
        person = " ".join(self.sentinels)
        self.conn.call("HSET", f"rq:job:{job_id}",
                       "created_at", rq_time(self.clock, seconds_before + 0.002),
                       "enqueued_at", rq_time(self.clock, seconds_before, fmt),
                       "status", status, "origin", queue, "timeout", "300", "result_ttl", "600",
                       "failure_ttl", str(FAILURE_TTL),
                       "description", f"frappe.utils.background_jobs.execute_job(site='{SITE}', "
                                      f"method='verenigingen.sepa.process', user='{person}')",
                       "data", b"\x80\x05\x95" + person.encode() + b"\x94\x8c\x05kwargs")
        return job_id

    def enqueue(self, queue, seconds_before, at_front=False, fmt=RQ_FORMAT):
        job_id = self.job(queue, seconds_before, fmt)
        self.conn.call("LPUSH" if at_front else "RPUSH", f"rq:queue:{queue}", job_id)
        self.conn.call("SADD", "rq:queues", f"rq:queue:{queue}")
        return job_id

    def fail(self, queue, expires_in):
        """A failed job RQ keeps until `expires_in` seconds after `clock` (None: for ever)."""
        job_id = self.job(queue, self.rng.randint(60, 86400), status="failed")
        self.conn.call("HSET", f"rq:job:{job_id}", "exc_info", f"ValidationError: {' '.join(self.sentinels)}")
        score = "+inf" if expires_in is None else self.clock + expires_in
        self.conn.call("ZADD", f"rq:failed:{queue}", score, job_id)
        self.conn.call("SADD", "rq:queues", f"rq:queue:{queue}")

    def worker(self, name, queues, heartbeat_before=None, dead=False):
        """A worker listening to `queues`; heartbeat_before None: its hash has expired."""
        key = f"rq:worker:{name}"
        self.conn.call("SADD", "rq:workers", key)
        for queue in queues:
            self.conn.call("SADD", f"rq:workers:{queue}", key)
        if heartbeat_before is None:
            return
        self.conn.call("HSET", key, "birth", rq_time(self.clock, heartbeat_before + 3600),
                       "last_heartbeat", rq_time(self.clock, heartbeat_before), "queues", ",".join(queues),
                       "pid", "4242", "hostname", "erp-worker-1", "ip_address", "10.0.0.7",
                       "version", "2.6.1", "python_version", "3.11.7", "state", "idle")
        if dead:
            self.conn.call("HSET", key, "death", rq_time(self.clock, 5))


def _failed(w, queue, kept, forgotten):
    """`kept` failed jobs RQ still keeps, and `forgotten` + 1 whose time has passed."""
    for _ in range(kept - 1):
        w.fail(queue, w.rng.randint(1, FAILURE_TTL))
    w.fail(queue, None)                                     # failure_ttl -1: +inf, kept for ever
    w.fail(queue, 0)                                        # its time is now: RQ's clean-up removes it
    for _ in range(forgotten):
        w.fail(queue, -w.rng.randint(1, 3600))


def fill(conn, bench, clock, seed=1, other="srv-other-bench", sentinels=("sentinel.person@example.org",)):
    """Write the queues of `bench` (and of `other`, if any) at `clock`; returns the expected
    {"metrics": {key: value}, "queues": [entry, ...]} (entries sorted by {#QUEUE})."""
    rng = random.Random(seed)
    w = Writer(conn, clock, rng, sentinels)
    q = {kind: f"{bench}:{kind}" for kind in ("short", "default", "long", "sepa_batches")}

    short_jobs = rng.randint(3, 30)
    short_oldest = rng.randint(90_000, 900_000) / 1000        # whole milliseconds
    for i in range(short_jobs):
        w.enqueue(q["short"], short_oldest - 2.5 * i)                # 29 jobs: 72.5 s at most
    w.enqueue(q["default"], 50)
    conn.call("LPOP", f"rq:queue:{q['default']}")             # a worker took it: registered, empty
    batch_jobs = rng.randint(2, 9)
    for i in range(batch_jobs - 1):
        w.enqueue(q["sepa_batches"], 4000 - 60 * i, fmt=RQ_OLD_FORMAT if i == 1 else RQ_FORMAT)
    w.enqueue(q["sepa_batches"], 5.125, at_front=True)        # the next job is the newest

    failed = {"short": rng.randint(1, 6), "default": rng.randint(1, 6), "long": 0, "sepa_batches": rng.randint(1, 3)}
    for kind, kept in failed.items():
        if kept:
            _failed(w, q[kind], kept, forgotten=rng.randint(1, 4))

    w.worker("a1b2.erp-worker-1.101.short", [q["short"], q["default"]], heartbeat_before=30.5)
    w.worker("c3d4.erp-worker-1.102.long", [q["long"]], heartbeat_before=400)
    w.worker("e5f6.erp-worker-1.103", [q["short"], q["default"], q["long"]], heartbeat_before=1)
    w.worker("0a0b.erp-worker-1.104", [q["short"]], heartbeat_before=HEARTBEAT_MAX_AGE + 100)   # a leftover
    w.worker("0c0d.erp-worker-1.105", [q["short"], q["sepa_batches"]])                       # hash expired
    w.worker("0e0f.erp-worker-1.106", [q["sepa_batches"]], heartbeat_before=10, dead=True)

    if other:                                                                                # another bench
        for kind in ("short", "default"):
            for i in range(rng.randint(1, 5)):
                w.enqueue(f"{other}:{kind}", 7200 + i)
            _failed(w, f"{other}:{kind}", 4, forgotten=1)
        w.worker("9f9f.erp-worker-2.201", [f"{other}:short", f"{other}:default"], heartbeat_before=2)

    entries = [
        {"{#QUEUE}": "default", "queued": 0, "oldest_age": 0.0, "failed": failed["default"], "workers": 2},
        {"{#QUEUE}": "long", "queued": 0, "oldest_age": 0.0, "failed": 0, "workers": 2},
        {"{#QUEUE}": "sepa_batches", "queued": batch_jobs, "oldest_age": 5.125, "failed": failed["sepa_batches"],
         "workers": 0},
        {"{#QUEUE}": "short", "queued": short_jobs, "oldest_age": short_oldest, "failed": failed["short"],
         "workers": 2},
    ]
    metrics = {"sepa.queue.queued": short_jobs + batch_jobs, "sepa.queue.oldest_age": short_oldest,
               "sepa.queue.failed": sum(failed.values()), "sepa.queue.workers": 3}
    return {"metrics": metrics, "queues": entries}
