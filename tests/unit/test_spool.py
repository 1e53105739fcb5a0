"""The spool and the send loop's bookkeeping, with a scripted fake sender.

The real server's behaviour (history, clocks, duplicates, PSK) is proven in
tests/integration/test_zabbix_send.py; here the fake only scripts outcomes."""
import json
import logging
import os
import time

import pytest

from zabbix_sepa.config import parse
from zabbix_sepa.transport import push
from zabbix_sepa.transport.sender import DeliveryError, Reply
from zabbix_sepa.transport.spool import HostSpool, SpoolError, hosts

# A recent clock: values older than spool_max_age_hours (default a week) are dropped by design,
# so a fixed date here would turn every test into "dropped" once the calendar passes it.
CLOCK = (int(time.time()) // 3600 - 2) * 3600


class FakeSender:
    """Scripted replies: 'ok', 'down' or 'reject'; records what was delivered."""

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
        self.delivered += values
        return Reply(len(values), 0, len(values))


def config(tmp_path, sites=("alpha",), **top):
    raw = {"spool_dir": str(tmp_path / "spool"), **top,
           "sites": [{"name": n, "database": {"name": "x", "user": "u"}} for n in sites]}
    return parse(raw, "test.yaml")


def fake_collect(clocks):
    clocks = iter(clocks)

    def collect(site, now):
        c = next(clocks)
        return {"version": 1, "site": site.name, "clock": c, "metrics": {"n": c}, "discovery": {},
                "unsupported": {}}
    return collect


def run(cfg, sender, clock, **kw):
    return push.send(cfg, cfg.sites, collect=fake_collect([clock]), sender=sender, **kw)


def test_put_is_atomic_and_ordered(tmp_path):
    hs = HostSpool(str(tmp_path), "alpha")
    for clock in (30, 10, 20, 10):
        hs.put("k", f"v{clock}", clock)
    assert [e.clock for e in hs.entries()] == [10, 10, 20, 30]
    assert [hs.load(e) for e in hs.entries()][2] == ("k", "v20", 20)
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

    def collect(site, now):
        return {"clock": CLOCK, "discovery": {"batches": [{"{#BATCH}": "B" * 100}] * 700}}
    push.send(cfg, cfg.sites, collect=collect, sender=FakeSender())
    assert "keeps at most 65535" in caplog.text and "discovery.max_batches" in caplog.text
