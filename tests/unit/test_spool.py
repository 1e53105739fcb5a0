"""The spool and the send loop's bookkeeping, with a scripted fake sender.

The real server's behaviour (history, clocks, duplicates, PSK) is proven in
tests/integration/test_zabbix_send.py; here the fake only scripts outcomes."""
import json
import logging
import os
import threading
import time

import pytest

from zabbix_sepa.config import parse
from zabbix_sepa.transport import push
from zabbix_sepa.transport.sender import DeliveryError, Reply
from zabbix_sepa.transport.spool import HostSpool, SpoolError, hosts
from tests import unprivileged
from tests.fake_zabbix import FakeZabbix
from tests.tcp import unused_port

# A recent clock: values older than spool_max_age_hours (default a week) are dropped by design,
# so a fixed date here would turn every test into "dropped" once the calendar passes it.
CLOCK = (int(time.time()) // 3600 - 2) * 3600


class FakeSender:
    """Scripted replies: 'ok', 'down', 'reject' or 'empty' (processed 0, failed 0, total 0);
    records what was delivered."""
    where = "127.0.0.1:10051"

    def __init__(self, *script):
        self.script = list(script)
        self.delivered = []
        self.requests = 0

    @staticmethod
    def encode(values):
        return list(values)         # the payload is opaque to the send loop

    def send_encoded(self, payload):
        return self.send(payload)

    def send(self, values):
        self.requests += 1
        assert len(values) <= push.PER_CONNECTION
        what = self.script.pop(0) if self.script else "ok"
        if what == "down":
            raise DeliveryError("connection refused by 127.0.0.1:10051")
        if what == "reject":
            return Reply(0, len(values), len(values))
        if what == "empty":
            return Reply(0, 0, 0)
        self.delivered += values
        return Reply(len(values), 0, len(values))


def config(tmp_path, sites=("alpha",), **top):
    raw = {"spool_dir": str(tmp_path / "spool"), **top,
           "sites": [{"name": n, "database": {"name": "x", "user": "u"}} for n in sites]}
    return parse(raw, "test.yaml")


def fake_collect(clocks):
    clocks = iter(clocks)

    def collect(site, now, cadence="all"):
        c = next(clocks)
        return {"version": 1, "site": site.name, "clock": c, "cadence": cadence, "metrics": {"n": c},
                "discovery": {}, "unsupported": {}}
    return collect


def run(cfg, sender, clock, **kw):
    """One `send` of the minute document (the hourly one is the subject of its own tests)."""
    kw.setdefault("cadence", "minute")
    return push.send(cfg, cfg.sites, collect=fake_collect([clock]), sender=sender, **kw)


def test_put_is_atomic_and_ordered(tmp_path):
    hs = HostSpool(str(tmp_path), "alpha")
    for clock in (30, 10, 20, 10):
        hs.put("k", f"v{clock}", clock)
    assert [e.clock for e in hs.entries()] == [10, 10, 20, 30]
    record = [hs.load(e) for e in hs.entries()][2]
    assert (record.key, record.value, record.clock) == ("k", "v20", 20)
    assert not [n for n in os.listdir(hs.dir) if n.startswith(".tmp-")]


def test_down_then_up_delivers_everything_in_clock_order_once(tmp_path):
    cfg = config(tmp_path)
    sender = FakeSender("down", "down", "down")
    for i in range(3):
        (out,) = run(cfg, sender, CLOCK + 60 * i)
        assert (out.sent, out.waiting) == (0, i + 1)
        assert push.exit_status([out]) == 1
    (out,) = run(cfg, sender, CLOCK + 180)
    assert (out.sent, out.earlier, out.waiting, out.rejected) == (4, 3, 0, 0)
    assert push.exit_status([out]) == 0
    assert [v[3] for v in sender.delivered] == [CLOCK, CLOCK + 60, CLOCK + 120, CLOCK + 180]
    assert [json.loads(v[2])["clock"] for v in sender.delivered] == [v[3] for v in sender.delivered]
    assert HostSpool(cfg.spool_dir, "alpha").entries() == []


def test_at_most_250_values_per_connection(tmp_path):
    cfg = config(tmp_path)
    hs = HostSpool(cfg.spool_dir, "alpha")
    for i in range(600):
        hs.put("sepa.collect", "{}", CLOCK - 600 + i)
    sender = FakeSender()
    (out,) = run(cfg, sender, CLOCK)
    assert sender.requests == 3 and out.sent == 601 and out.earlier == 600
    assert [v[3] for v in sender.delivered] == sorted(v[3] for v in sender.delivered)


def test_failure_midway_keeps_the_rest(tmp_path):
    cfg = config(tmp_path)
    hs = HostSpool(cfg.spool_dir, "alpha")
    for i in range(300):
        hs.put("sepa.collect", "{}", CLOCK - 300 + i)
    sender = FakeSender("ok", "down")
    (out,) = run(cfg, sender, CLOCK)
    assert out.sent == 250 and out.waiting == 51
    assert [e.clock for e in hs.entries()][0] == CLOCK - 50


def test_rejected_values_are_reported_and_not_retried(tmp_path, caplog):
    cfg = config(tmp_path)
    sender = FakeSender("reject")
    with caplog.at_level(logging.ERROR):
        (out,) = run(cfg, sender, CLOCK)
    assert (out.sent, out.rejected, out.waiting) == (0, 1, 0)
    assert push.exit_status([out]) == 2
    assert "'alpha'" in caplog.text and "sepa.collect" in caplog.text and "not retried" in caplog.text
    assert HostSpool(cfg.spool_dir, "alpha").entries() == []


def test_crash_after_ack_before_removal_resends_the_same_clock(tmp_path, monkeypatch):
    """The window a crash can hit: acknowledged, file still there. The next run sends the
    identical (host, key, clock, ns) again, which Zabbix 6.0's history primary key stores
    once (proven against the real server in the integration tests)."""
    cfg = config(tmp_path)
    sender = FakeSender()

    def crash(self, entries):
        if entries:
            raise KeyboardInterrupt("power cut")
    monkeypatch.setattr(HostSpool, "remove", crash)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, sender, CLOCK)
    monkeypatch.undo()
    (out,) = run(cfg, sender, CLOCK + 60)
    assert [v[3] for v in sender.delivered] == [CLOCK, CLOCK, CLOCK + 60]
    assert sender.delivered[0] == sender.delivered[1]
    assert out.waiting == 0


def test_crash_before_rename_leaves_no_half_value(tmp_path, monkeypatch):
    hs = HostSpool(str(tmp_path), "alpha")

    def crash(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "rename", crash)
    with pytest.raises(SpoolError, match="cannot write to spool directory .*No space left"):
        hs.put("k", "v", CLOCK)
    monkeypatch.undo()
    assert hs.entries() == [] and os.listdir(hs.dir) == []


def test_unwritable_spool_still_sends_and_says_so(tmp_path, caplog):
    blocker = tmp_path / "spool"
    blocker.write_text("a file where the spool directory should be")
    cfg = config(tmp_path)
    sender = FakeSender()
    (out,) = run(cfg, sender, CLOCK)
    assert out.sent == 1 and out.lost == 0 and "cannot create spool directory" in out.problem
    (out,) = run(cfg, FakeSender("down"), CLOCK + 60)
    assert out.lost == 1 and push.exit_status([out]) == 1
    assert "NOT delivered and could not be spooled" in caplog.text


def test_bounds_drop_oldest_first_and_say_how_many(tmp_path, caplog):
    cfg = config(tmp_path, spool_max_age_hours=1, spool_max_bytes=4096)
    hs = HostSpool(cfg.spool_dir, "alpha")
    now = int(time.time())
    for age in (7200, 5400):                       # older than an hour
        hs.put("sepa.collect", "x", now - age)
    for age in range(30, 0, -1):                   # 30 values of ~260 bytes: over 4096
        hs.put("sepa.collect", "y" * 200, now - age)
    with caplog.at_level(logging.WARNING):
        dropped = hs.enforce_bounds(now, 3600, 4096)
    sizes = [e.size for e in hs.entries()]
    assert sum(sizes) <= 4096 and dropped == 32 - len(sizes)
    assert [e.clock for e in hs.entries()][-1] == now - 1       # the newest survive
    assert "dropped 2 value(s) older than spool_max_age_hours (1 h)" in caplog.text
    assert f"dropped the {dropped - 2} oldest value(s)" in caplog.text


def test_unreadable_file_is_quarantined_not_lost(tmp_path, caplog):
    cfg = config(tmp_path)
    hs = HostSpool(cfg.spool_dir, "alpha")
    e = hs.put("sepa.collect", "{}", CLOCK - 60)
    with open(e.path, "w") as fh:
        fh.write("{truncated")
    (out,) = run(cfg, FakeSender(), CLOCK)
    assert out.sent == 1
    assert os.path.exists(e.path + ".bad")
    assert "kept as" in caplog.text


def test_all_delivers_hosts_no_longer_configured(tmp_path):
    cfg = config(tmp_path, sites=("alpha",))
    HostSpool(cfg.spool_dir, "retired site").put("sepa.collect", "{}", CLOCK - 60)
    sender = FakeSender()
    outs = run(cfg, sender, CLOCK, all_spooled=True)
    assert [o.host for o in outs] == ["alpha", "retired site"]
    assert sorted(v[0] for v in sender.delivered) == ["alpha", "retired site"]
    assert hosts(cfg.spool_dir) == ["alpha", "retired site"]


def test_concurrent_run_leaves_the_spool_to_the_lock_holder(tmp_path, monkeypatch):
    cfg = config(tmp_path)
    holder = HostSpool(cfg.spool_dir, "alpha")
    assert holder.lock(0)
    monkeypatch.setattr(push, "LOCK_WAIT", 0.1)
    (out,) = run(cfg, FakeSender(), CLOCK)
    holder.unlock()
    assert out.sent == 0 and out.waiting == 1 and "another" in out.problem


def test_spool_only_delivers_without_collecting(tmp_path):
    cfg = config(tmp_path)
    HostSpool(cfg.spool_dir, "alpha").put("sepa.collect", "{}", CLOCK - 60)
    sender = FakeSender()
    (out,) = push.send(cfg, cfg.sites, collect=lambda site, now: pytest.fail("collected"),
                       sender=sender, spool_only=True)
    assert (out.sent, out.earlier) == (1, 1) and [v[3] for v in sender.delivered] == [CLOCK - 60]


def test_oversized_document_is_flagged(tmp_path, caplog):
    cfg = config(tmp_path)

    def collect(site, now, cadence="all"):
        return {"clock": CLOCK, "discovery": {"batches": [{"{#BATCH}": "B" * 100}] * 700}}
    push.send(cfg, cfg.sites, collect=collect, sender=FakeSender(), cadence="minute")
    assert "keeps at most 65535" in caplog.text and "discovery.max_batches" in caplog.text


# -- issue 14: a bad file, an unwritable spool, the bounds, the reply, same-second values --------

def spool_file(cfg, name, text, host="alpha"):
    path = os.path.join(cfg.spool_dir, host, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)
    return path


def record(clock=CLOCK - 60, **fields):
    return json.dumps({"host": "alpha", "key": "sepa.collect", "clock": clock, "value": "{}", **fields})


@pytest.mark.parametrize("text", [
    record().replace(f'"clock": {CLOCK - 60}', '"clock": 1e999'),          # OverflowError in int()
    '{"host":"alpha","key":"sepa.collect","clock":%d,"value":%s}' % (CLOCK - 60, "[" * 100000 + "]" * 100000),
    record(clock=10**30),                           # a clock no Zabbix history table can hold
    record(clock=True),
    record(value={"not": "a string"}),
    record(ns=-1),
], ids=["infinite clock", "nested 100000 deep", "huge clock", "boolean clock", "value not text",
        "negative ns"])
def test_unreadable_record_is_quarantined_and_the_rest_delivered(tmp_path, caplog, text):
    cfg = config(tmp_path)
    bad = spool_file(cfg, f"{CLOCK - 60:011d}-damaged.json", text)
    HostSpool(cfg.spool_dir, "alpha").put("sepa.collect", "{}", CLOCK - 30)
    sender = FakeSender()
    (out,) = run(cfg, sender, CLOCK)
    assert [v[3] for v in sender.delivered] == [CLOCK - 30, CLOCK]
    assert (out.sent, out.quarantined, out.waiting) == (2, 1, 0)
    assert os.path.exists(bad + ".bad") and not os.path.exists(bad)
    assert "kept as" in caplog.text and "quarantined 1" in out.line()
    assert push.exit_status([out]) == 1
    (out,) = run(cfg, FakeSender(), CLOCK + 60)         # the next run is not bothered again
    assert (out.sent, out.quarantined) == (1, 0) and push.exit_status([out]) == 0


@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory"])
def test_only_regular_files_are_read(tmp_path, kind):
    """A FIFO named like a spool file made `send` hang in open(); a symlink would send
    whatever file it points to."""
    cfg = config(tmp_path)
    path = os.path.join(cfg.spool_dir, "alpha", f"{CLOCK - 60:011d}-odd.json")
    os.makedirs(os.path.dirname(path))
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        (tmp_path / "elsewhere").write_text(record())
        os.symlink(tmp_path / "elsewhere", path)
    else:
        os.mkdir(path)
    sender, result = FakeSender(), []
    worker = threading.Thread(target=lambda: result.append(run(cfg, sender, CLOCK)), daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))     # let the stuck reader go
        worker.join(5)
        pytest.fail("send blocked on a FIFO in the spool")
    ((out,),) = result
    assert [v[3] for v in sender.delivered] == [CLOCK] and out.quarantined == 1
    assert os.path.lexists(path + ".bad") and not os.path.lexists(path)


@pytest.mark.parametrize("bound", ["bytes", "age"])
def test_bounds_do_not_drop_a_value_the_server_takes(tmp_path, bound):
    """The bounds are for values that could not be delivered: a document larger than
    spool_max_bytes at its minimum, or collected (--now) longer ago than spool_max_age_hours,
    is delivered first."""
    cfg = config(tmp_path, spool_max_bytes=4096, spool_max_age_hours=1)
    clock = CLOCK - 5 * 3600 if bound == "age" else CLOCK
    size = 8000 if bound == "bytes" else 10

    def collect(site, now, cadence="all"):
        return {"clock": clock, "metrics": {"padding": "x" * size}}
    sender = FakeSender()
    (out,) = push.send(cfg, cfg.sites, collect=collect, sender=sender, cadence="minute")
    assert (out.sent, out.dropped, out.waiting) == (1, 0, 0) and [v[3] for v in sender.delivered] == [clock]
    assert push.exit_status([out]) == 0


def test_a_value_the_bounds_drop_is_a_loss(tmp_path, caplog):
    cfg = config(tmp_path, spool_max_age_hours=1)
    with caplog.at_level(logging.WARNING):
        (out,) = run(cfg, FakeSender("down"), CLOCK - 5 * 3600)
    assert (out.sent, out.dropped, out.waiting) == (0, 1, 0)
    assert push.exit_status([out]) == 1
    assert "dropped 1 value(s) older than spool_max_age_hours" in caplog.text
    assert "dropped by spool bounds 1" in out.line()


def test_reply_that_does_not_account_for_the_values_keeps_them(tmp_path, caplog):
    """`processed: 0; failed: 0; total: 0` for one value sent is no acknowledgement."""
    cfg = config(tmp_path)
    (out,) = run(cfg, FakeSender("empty"), CLOCK)
    assert (out.sent, out.rejected, out.waiting) == (0, 0, 1)
    assert push.exit_status([out]) == 1
    assert "total 0" in out.problem and "1 value(s) sent" in out.problem
    assert "kept in the spool" in caplog.text
    sender = FakeSender()
    (out,) = run(cfg, sender, CLOCK + 60)
    assert [v[3] for v in sender.delivered] == [CLOCK, CLOCK + 60] and push.exit_status([out]) == 0


def test_values_of_the_same_second_get_distinct_ns_kept_for_redelivery(tmp_path):
    """Zabbix's history key is (itemid, clock, ns): two values of one second with ns 0 keep
    only one. Each spooled value gets its own ns, stored with it, so that a re-delivery after
    a crash still repeats the same (clock, ns)."""
    cfg = config(tmp_path)
    down = FakeSender("down", "down")
    run(cfg, down, CLOCK)
    run(cfg, down, CLOCK)
    hs = HostSpool(cfg.spool_dir, "alpha")
    spooled = [hs.load(e) for e in hs.entries()]
    sender = FakeSender()
    push.send(cfg, cfg.sites, sender=sender, spool_only=True)
    clocks_ns = [(v[3], v[4]) for v in sender.delivered]
    assert [c for c, _ in clocks_ns] == [CLOCK, CLOCK] and clocks_ns[0] != clocks_ns[1]
    assert clocks_ns == sorted(clocks_ns) and all(0 <= ns < 10**9 for _, ns in clocks_ns)
    assert [(r.clock, r.ns) for r in spooled] == clocks_ns


# -- as the service user: a spool made by root (run for real as nobody, see tests/unprivileged.py) --

@pytest.fixture
def shared():
    unprivileged.require()
    d = unprivileged.SharedDir()
    yield d
    d.close()


@pytest.fixture
def zabbix_fake():
    z = FakeZabbix()
    yield z
    z.close()




def nobody_config(shared, port):
    """A config nobody can read: site alpha (database unreachable: the collection is quick and
    still a document), the fake trapper on `port`, the spool under the shared directory."""
    import yaml
    path = os.path.join(shared.path, "config.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump({"timezone": "UTC", "spool_dir": os.path.join(shared.path, "spool"),
                        "zabbix": {"server": "127.0.0.1", "port": port, "timeout": 5},
                        "sites": [{"name": "alpha", "database": {
                            "host": "127.0.0.1", "port": unused_port(), "name": "x", "user": "u",
                            "password": "p"}}]}, fh)
    shared.give(path, 0o600)
    return path


@pytest.mark.parametrize("made_by_root", ["spool", "host directory"])
def test_spool_directory_made_by_root_is_reported_not_a_traceback(shared, zabbix_fake, made_by_root):
    spool = os.path.join(shared.path, "spool")
    cfg = nobody_config(shared, zabbix_fake.port)
    os.makedirs(os.path.join(spool, "alpha"), mode=0o750)       # as root: root-owned
    if made_by_root == "host directory":
        shared.give(spool, 0o750)
    HostSpool(spool, "alpha").put("sepa.collect", "{}", CLOCK - 60)     # an earlier value, root's
    proc = unprivileged.cli("send", "--cadence", "minute", "--config", cfg)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"chown -R nobody: {spool}" in proc.stderr
    (line,) = proc.stdout.splitlines()
    assert line.startswith("alpha: sent 1 (0 from the spool)") and "no safety copy" in line
    assert len(zabbix_fake.values) == 1         # the fresh value went out, without a copy, and says so
    assert len(HostSpool(spool, "alpha").entries()) == 1        # root's value waits for the fix


def test_lock_made_by_root_is_reported_and_the_value_kept(shared, zabbix_fake):
    spool = os.path.join(shared.path, "spool")
    cfg = nobody_config(shared, zabbix_fake.port)
    os.makedirs(os.path.join(spool, "alpha"))
    lock = os.path.join(spool, "alpha", ".lock")
    os.close(os.open(lock, os.O_CREAT | os.O_RDWR, 0o640))
    for d in (spool, os.path.join(spool, "alpha")):
        shared.give(d, 0o750)
    proc = unprivileged.cli("send", "--cadence", "minute", "--config", cfg)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert lock in proc.stderr and f"chown -R nobody: {spool}" in proc.stderr
    assert "waiting in spool 1" in proc.stdout
    assert zabbix_fake.values == []


@pytest.mark.parametrize("made_by_root", ["spool", "host directory", "lock"])
def test_check_reports_a_spool_the_user_cannot_write(shared, made_by_root):
    spool = os.path.join(shared.path, "spool")
    cfg = nobody_config(shared, unused_port())
    os.makedirs(os.path.join(spool, "alpha"))
    os.close(os.open(os.path.join(spool, "alpha", ".lock"), os.O_CREAT | os.O_RDWR, 0o640))
    if made_by_root != "spool":
        shared.give(spool, 0o750)
    if made_by_root == "lock":
        shared.give(os.path.join(spool, "alpha"), 0o750)
    proc = unprivileged.python("-c", "import sys\nfrom zabbix_sepa import check, config\n"
                               "ok, line = check._spool(config.load(sys.argv[1]))\nprint(ok, line)", cfg)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("False "), proc.stdout
    assert f"chown -R nobody: {spool}" in proc.stdout


def test_each_site_goes_to_its_proxy_and_a_proxy_down_holds_back_only_its_sites(tmp_path, monkeypatch):
    """zabbix.proxies: a site's values go to its proxy's address; the server and the other
    proxies keep taking theirs while one is down (its site's values wait in its spool)."""
    raw = {"spool_dir": str(tmp_path / "spool"),
           "zabbix": {"server": "zbx", "proxies": [{"name": "p1", "address": "10.0.0.1", "port": 10052}]},
           "sites": [{"name": "via", "proxy": "p1", "database": {"name": "x", "user": "u"}},
                     {"name": "direct", "database": {"name": "x", "user": "u"}}]}
    cfg = parse(raw, "test.yaml")
    senders = {("10.0.0.1", 10052): FakeSender("down"), ("zbx", 10051): FakeSender()}
    monkeypatch.setattr(push, "make_sender", lambda cfg, destination=None: senders[destination or ("zbx", 10051)])
    outs = {o.host: o for o in push.send(cfg, cfg.sites, collect=fake_collect([CLOCK, CLOCK]), cadence="minute")}
    assert [v[0] for v in senders["zbx", 10051].delivered] == ["direct"]
    assert outs["via"].waiting == 1 and outs["direct"].sent == 1
    outs = {o.host: o for o in push.send(cfg, cfg.sites, collect=fake_collect([CLOCK + 60, CLOCK + 60]),
                                         cadence="minute")}
    assert [(v[0], v[3]) for v in senders["10.0.0.1", 10052].delivered] == [("via", CLOCK), ("via", CLOCK + 60)]
    assert outs["via"].waiting == 0


def test_sites_are_collected_side_by_side_and_a_broken_one_stays_alone(tmp_path):
    """send_concurrency sites at a time; a collection that raises (a bug) marks its own site,
    exit 1, and every other site's value is delivered."""
    cfg = parse({"spool_dir": str(tmp_path / "spool"), "send_concurrency": 4,
                 "sites": [{"name": f"s{i}", "database": {"name": "x", "user": "u"}} for i in range(8)]}, "t.yaml")
    running, most = [0], [0]
    guard = threading.Lock()

    def collect(site, now, cadence="all"):
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.3)
        with guard:
            running[0] -= 1
        if site.name == "s3":
            raise KeyError("a bug")
        return {"version": 1, "site": site.name, "clock": CLOCK, "cadence": cadence, "metrics": {},
                "discovery": {}, "unsupported": {}}
    sender = FakeSender()
    began = time.monotonic()
    outs = push.send(cfg, cfg.sites, collect=collect, sender=sender, cadence="minute")
    took = time.monotonic() - began
    assert most[0] == 4 and took < 1.2, (most, took)           # 8 x 0.3 s, 4 at a time: 0.6 s
    assert [o.host for o in outs] == [f"s{i}" for i in range(8)]  # the config's order
    assert sorted(v[0] for v in sender.delivered) == [f"s{i}" for i in range(8) if i != 3]
    (broken,) = [o for o in outs if o.not_collected]
    assert broken.host == "s3" and "not collected: KeyError" in broken.line()
    assert push.exit_status(outs) == 1
