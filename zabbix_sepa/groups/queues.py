"""Frappe's background jobs: the RQ queues of the site's bench, read from its `redis_queue`.

Frappe (v14+) names each queue `<bench_id>:<type>` (short, default, long, and the `workers`
of common_site_config.json), so that benches can share one Redis; bench_id is the config's
`bench_id`, else the bench's path with "/" as "-". RQ keeps (the same in 1.15 and 2.6):

- `rq:queues`: a set of the keys `rq:queue:<name>` of the queues jobs were ever put in;
- `rq:queue:<name>`: a list of job ids, the next to run first;
- `rq:job:<id>`: a hash per job; of it we read `enqueued_at` only (the rest is the job's
  pickled call, with personal data: never read);
- `rq:failed:<name>`: a sorted set of failed job ids, scored by when RQ may forget them;
- `rq:workers`: a set of the keys `rq:worker:<name>`, and `rq:worker:<name>` a hash with
  `queues` (comma-separated names), `last_heartbeat` and, once it stopped, `death`. RQ
  renews the hash's expiry with every heartbeat, so a worker that died without saying so
  leaves a name in `rq:workers` whose hash has gone.

The discovery list has one entry per queue of the bench ({#QUEUE}: its type, the bench's
prefix stripped): those in `rq:queues` and those a live worker listens to. One collection
costs four round trips of pipelined read commands (2 + workers + 4 per queue at most),
whatever the number of jobs.
"""
import datetime as dt
from dataclasses import dataclass
from typing import Optional, Tuple

from zabbix_sepa.groups.base import (FLOAT, HIGH, INT, REDIS, WARNING, Discovery, Group, Macro, Metric, Order,
                                     Section, SourceError, Threshold, Trigger, above)

QUEUES = "rq:queues"
QUEUE = "rq:queue:"
JOB = "rq:job:"
FAILED = "rq:failed:"
WORKERS = "rq:workers"
RQ_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ")     # RQ's utcformat, and its older one
# A worker's hash that outlives this since its last heartbeat is a leftover, not a worker: RQ
# renews it with each heartbeat (every worker_ttl - 15 s, 405 s by default) and lets it expire
# worker_ttl + 60 s (480 s) after; a Frappe worker that runs a job without forking postpones
# that to the job's timeout + 60 s (1560 s for the long queue's 1500 s).
HEARTBEAT_MAX_AGE = 1800

WAIT = Threshold("queue_wait_minutes", 10, 0.5, 10080)
LONG_WAIT = Threshold("queue_long_wait_minutes", 30, 0.5, 10080)
WORKERS_MIN = Threshold("queue_workers_min", 1, 1, 1000)
FAILED_MAX = Threshold("queue_failed_max", 10, 0, 1e6)


@dataclass(frozen=True)
class Worker:
    queues: Tuple[str, ...]         # the full queue names it listens to
    heartbeat: Optional[float]      # unix seconds of its last heartbeat; None: no hash (gone)
    dead: bool                      # it registered its death

    def alive(self, clock):
        return self.heartbeat is not None and not self.dead and clock - self.heartbeat <= HEARTBEAT_MAX_AGE


def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def rq_time(value):
    """Unix seconds of an RQ timestamp (UTC, e.g. 2026-11-22T11:47:25.250000Z); None if absent
    or not one."""
    value = text(value)
    for fmt in RQ_TIME_FORMATS:
        try:
            return dt.datetime.strptime(value or "", fmt).replace(tzinfo=dt.timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def age(clock, moment):
    """Seconds from `moment` to `clock` (both unix seconds), never below 0 (a worker's clock ahead)."""
    return max(0.0, round(clock - moment, 3))


def bench_of(queue):
    """The bench part of a Frappe queue name (`frappe-bench:short` -> `frappe-bench`; "" for an
    unprefixed one of Frappe v13 and older). The type never holds a colon; a bench_id may."""
    return queue.rpartition(":")[0]


def queue_type(queue):
    return queue.rpartition(":")[2]


def bench_queues(names, bench_id, where):
    """{type: full name} of the queues of one bench: `bench_id`, or (None) the only bench whose
    queues are in `names`. SourceError when there are several and none is chosen (the bench
    ids are not shown: a path may hold a person's login name)."""
    if bench_id is None:
        benches = {bench_of(n) for n in names}
        if len(benches) > 1:
            raise SourceError(f"the Redis at {where} holds the queues of {len(benches)} benches: set "
                              f"redis.bench_id to this site's (Frappe's bench_id, by default the bench's path "
                              f"with '/' as '-'; `redis-cli SMEMBERS rq:queues` lists them)")
        bench_id = benches.pop() if benches else ""
    return {queue_type(n): n for n in sorted(names) if bench_of(n) == bench_id}


# -- reading -------------------------------------------------------------------------------

def read_registers(redis):
    """(the worker keys in `rq:workers`, the queue names in `rq:queues`), all benches'."""
    workers, queues = redis.pipeline([("SMEMBERS", WORKERS), ("SMEMBERS", QUEUES)])
    return sorted(text(k) for k in workers), {k[len(QUEUE):] for k in map(text, queues) if k.startswith(QUEUE)}


def read_workers(redis, keys):
    """The Worker of each key, from its hash."""
    replies = redis.pipeline([("HMGET", key, "queues", "last_heartbeat", "death") for key in keys])
    return [Worker(queues=tuple(q for q in text(queues or b"").split(",") if q), heartbeat=rq_time(beat),
                   dead=death is not None)
            for queues, beat, death in replies]


def bench_of_site(redis, bench_id, clock):
    """({type: full name} of the bench's queues, the alive Workers of all benches): the
    queues in `rq:queues` and those a live worker listens to (see bench_queues)."""
    worker_keys, registered = read_registers(redis)
    live = [w for w in read_workers(redis, worker_keys) if w.alive(clock)]
    names = registered | {q for w in live for q in w.queues}
    return bench_queues(names, bench_id, redis.where), live


def read_queue_states(redis, names, clock):
    """{name: (jobs queued, id of the next job or None, failed jobs RQ keeps)}. A failed job
    counts until its score, when RQ may forget it, has passed (RQ's own count, without the
    clean-up it writes)."""
    replies = redis.pipeline([command for name in names for command in (
        ("LLEN", QUEUE + name), ("LINDEX", QUEUE + name, 0), ("ZCOUNT", FAILED + name, f"({clock}", "+inf"))])
    return {name: tuple(replies[3 * i:3 * i + 3]) for i, name in enumerate(names)}


def read_enqueued(redis, job_ids):
    """{job id: unix seconds it was enqueued, or None}: one field of each job's hash."""
    replies = redis.pipeline([("HGET", JOB + text(job), "enqueued_at") for job in job_ids])
    return {job: rq_time(value) for job, value in zip(job_ids, replies)}


# -- the section ---------------------------------------------------------------------------

def queue_entry(kind, name, state, enqueued, live, clock):
    """The discovery entry of queue `name` ({#QUEUE}: its `kind`): `state` from
    read_queue_states, `enqueued` from read_enqueued, `live` the alive Workers."""
    queued, head, failed = state
    started = enqueued.get(head)
    return {"{#QUEUE}": kind, "queued": int(queued), "oldest_age": age(clock, started) if started else 0.0,
            "failed": int(failed), "workers": sum(1 for w in live if name in w.queues)}


def collect(ctx):
    redis, clock = ctx.redis, ctx.clock
    queues, live = bench_of_site(redis, ctx.site.redis.bench_id, clock)
    states = read_queue_states(redis, list(queues.values()), clock)
    enqueued = read_enqueued(redis, [head for _, head, _ in states.values() if head is not None])
    entries = [queue_entry(kind, name, states[name], enqueued, live, clock) for kind, name in queues.items()]
    return {"sepa.queue.queued": sum(e["queued"] for e in entries),
            "sepa.queue.oldest_age": max((e["oldest_age"] for e in entries), default=0.0),
            "sepa.queue.failed": sum(e["failed"] for e in entries),
            "sepa.queue.workers": sum(1 for w in live if set(w.queues) & set(queues.values())),
            "queues": entries}


WAIT_MACRO = '{$SEPA.QUEUE.WAIT.MAX:"{#QUEUE}"}'
WORKERS_MACRO = '{$SEPA.QUEUE.WORKERS.MIN:"{#QUEUE}"}'

GROUP = Group(
    name="queues",
    title="Background jobs",
    sections=(
        Section("rq", collect, source=REDIS, max_statements=0, metrics=(
            Metric("sepa.queue.queued", "Background jobs queued", INT,
                   description="Jobs waiting in the RQ queues of the site's bench (all sites of the bench "
                               "share them).",
                   prometheus="sepa_queue_jobs_queued", overview="Jobs queued"),
            Metric("sepa.queue.oldest_age", "Oldest queued job age", FLOAT, "s",
                   description="Seconds the next job of the bench's longest-waiting queue has waited since "
                               "it was enqueued; 0 when no job waits.",
                   prometheus="sepa_queue_oldest_job_age_seconds"),
            Metric("sepa.queue.failed", "Failed background jobs kept", INT,
                   description="Failed jobs RQ keeps in the failed registries of the bench's queues (Frappe: "
                               "for rq_job_failure_ttl, 7 days, at most rq_failed_jobs_limit, 1000).",
                   prometheus="sepa_queue_jobs_failed"),
            Metric("sepa.queue.workers", "Background workers alive", INT,
                   description=f"RQ workers listening to a queue of the bench whose hash RQ still keeps, "
                               f"that have not stopped, with a heartbeat at most {HEARTBEAT_MAX_AGE // 60} "
                               f"minutes old.",
                   prometheus="sepa_queue_workers_alive", overview="Job workers"),
        ), discovery=(
            Discovery("queues", ("{#QUEUE}",), ("queued", "oldest_age", "failed", "workers"),
                      "The RQ queues of the site's bench (short, default, long and custom worker queues), "
                      "the bench's prefix stripped.",
                      item_prefix="sepa.queue", label="Queue {#QUEUE}", lifetime="7d", fields=(
                          Metric("queued", "jobs queued", INT, description="Jobs waiting in the queue.",
                                 absent=0),
                          Metric("oldest_age", "oldest job age", FLOAT, "s",
                                 description="Seconds the queue's next job has waited since it was enqueued "
                                             "(jobs put at the front can hide an older one behind them); 0 "
                                             "when empty.", absent=0),
                          Metric("failed", "failed jobs kept", INT,
                                 description="Failed jobs RQ keeps in the queue's failed registry.", absent=0),
                          Metric("workers", "workers alive", INT,
                                 description="Alive RQ workers listening to the queue.", absent=0),
                      ), triggers=(
                          Trigger("SEPA queue {#QUEUE}: jobs wait too long",
                                  f"last(/T/sepa.queue.oldest_age[{{#QUEUE}}])>{WAIT_MACRO}", WARNING,
                                  "The next job of this queue has waited longer than the threshold: the workers "
                                  "do not keep up (too few, or busy with long jobs) or hang. Look at the RQ "
                                  "Worker and RQ Job lists in the desk, and the workers' logs.",
                                  event_name=f"SEPA queue {{#QUEUE}}: the next job waits more than {WAIT_MACRO}",
                                  recovery=f"max(/T/sepa.queue.oldest_age[{{#QUEUE}}],#3)<={WAIT_MACRO}",
                                  opdata="Next job waits: {ITEM.LASTVALUE1}"),
                          Trigger("SEPA queue {#QUEUE}: jobs wait without workers",
                                  f"min(/T/sepa.queue.queued[{{#QUEUE}}],#3)>0 and "
                                  f"max(/T/sepa.queue.workers[{{#QUEUE}}],#3)<{WORKERS_MACRO}", HIGH,
                                  "Jobs have waited in this queue for three collections while fewer workers "
                                  "than the threshold (by default: none) listened to it: no background job "
                                  "of the queue runs (SEPA batches, dues and e-mails among them). Start the "
                                  "bench's workers (`bench doctor`, supervisor or systemd).",
                                  event_name=f"SEPA queue {{#QUEUE}}: jobs wait with fewer than {WORKERS_MACRO} "
                                             f"workers alive",
                                  opdata="Queued: {ITEM.LASTVALUE1}, workers: {ITEM.LASTVALUE2}"),
                      )),
        )),
    ),
    macros=(
        Macro("{$SEPA.QUEUE.WAIT.MAX}", WAIT,
              "Time the next job of a queue may wait; per queue with context, e.g. "
              '{$SEPA.QUEUE.WAIT.MAX:"short"}.', "m"),
        Macro('{$SEPA.QUEUE.WAIT.MAX:"long"}', LONG_WAIT,
              "Time the next job of the long queue may wait (its jobs may run 25 minutes each).", "m"),
        Macro("{$SEPA.QUEUE.WORKERS.MIN}", WORKERS_MIN,
              "Alive workers a queue with waiting jobs needs; per queue with context, e.g. "
              '{$SEPA.QUEUE.WORKERS.MIN:"default"}.'),
        Macro("{$SEPA.QUEUE.FAILED.MAX}", FAILED_MAX,
              "Failed background jobs kept by RQ (the bench's queues together) above which a problem is raised."),
    ),
    triggers=(
        above("SEPA: failed background jobs", "sepa.queue.failed", "{$SEPA.QUEUE.FAILED.MAX}", WARNING,
              "RQ keeps more failed jobs of the bench than the threshold (Frappe keeps them 7 days). The RQ "
              "Job list in the desk (status failed) shows which methods fail; the Error Log holds their "
              "tracebacks. Deleting them there ends the problem.",
              event_name="SEPA: failed background jobs kept by RQ (more than {$SEPA.QUEUE.FAILED.MAX})",
              opdata="Failed jobs: {ITEM.LASTVALUE1}"),
    ),
    orders=(
        Order(WAIT, LONG_WAIT, "the long queue's jobs may run for 25 minutes each: its next job may wait at "
              "least as long as another queue's"),
    ),
)
