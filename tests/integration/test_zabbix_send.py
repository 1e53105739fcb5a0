"""Push and pull against a real Zabbix 6.0 server and agent (Debian packages).

The stack comes from stack/zabbix.sh (through tests/zabbix.py). Each test
makes its own host through the API, with a trapper item sepa.collect (the
template issue replaces these with the generated template), and reads the
outcome back from the server's history through the API.
"""
import datetime as dt
import json
import os
import pathlib
import time
from types import SimpleNamespace

import pytest
import yaml

from tests import mariadb, unprivileged, zabbix
from tests.conftest import run_cli
from tests.rq_data import not_configured

pytestmark = pytest.mark.zabbix

CLOCK_FMT = "%Y-%m-%d %H:%M:%S"
# Collection times (UTC, the configs' zone) of an hour ago: recent enough for the spool's
# default age bound (a week), whatever day the tests run.
N = (dt.datetime.utcnow() - dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def zbx():
    return zabbix.ensure_stack()


def write_config(path, site_db, **top):
    raw = {"timezone": "UTC", "spool_dir": str(path.parent / "spool"),
           "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT, "timeout": 5}, **top,
           "sites": [{"name": site_db.host, "database": site_db.server.site_database_mapping(site_db.name)}]}
    path.write_text(yaml.safe_dump(raw))
    os.chmod(path, 0o600)
    return str(path)


@pytest.fixture
def host(zbx, site):
    """A Zabbix host named after the site's database, with trapper item sepa.collect."""
    site.host = f"zsepa-{site.name[-12:]}"
    h = zabbix.TrapperHost(site.host)
    yield h
    h.delete()


def history(h, expect, timeout=30):
    """The values of sepa.collect once `expect` of them are stored (or what is there at timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        values = h.history()
        if len(values) >= expect or time.monotonic() > deadline:
            return values
        time.sleep(0.5)


def send(cfg, now=None, *extra):
    """`send` of the minute document (the spool's mechanics); the cadences have their own test."""
    args = ["send", "--config", cfg, *extra]
    if "--cadence" not in extra:
        args += ["--cadence", "minute"]
    if now:
        args += ["--now", now.strftime(CLOCK_FMT)]
    rc, out, err = run_cli(*args)
    return SimpleNamespace(returncode=rc, stdout=out, stderr=err)


def test_send_delivers_the_document_with_its_clock(tmp_path, site, host):
    cfg = write_config(tmp_path / "c.yaml", site)
    proc = send(cfg, N)
    assert proc.returncode == 0, proc.stderr
    assert f"{site.host}: sent 1 (0 from the spool), rejected 0, waiting in spool 0" in proc.stdout
    (value,) = history(host, 1)
    doc = json.loads(value["value"])
    assert int(value["clock"]) == doc["clock"] == int(N.replace(tzinfo=dt.timezone.utc).timestamp())
    assert doc["site"] == site.host and doc["metrics"]["sepa.collector.status"] == 0
    # nothing left but the lock and the note of what was last collected (send --cadence due)
    assert all(n == ".lock" or n.startswith(".collected-") for n in os.listdir(tmp_path / "spool" / site.host))


def test_the_timer_s_send_delivers_the_hourly_document_once_an_hour(tmp_path, site, host):
    """`send --all` as the timer runs it (cadence due): the minute document every run, the hourly
    one at the first run and again once the hour has turned; each to its own trapper item."""
    cfg = write_config(tmp_path / "c.yaml", site)
    for minute in (58, 59, 60, 61):
        proc = send(cfg, N.replace(minute=0) + dt.timedelta(minutes=minute), "--all", "--cadence", "due")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    minute_docs = [json.loads(v["value"]) for v in history(host, 4)]
    deadline = time.monotonic() + 30
    while len(host.history("sepa.collect.hour")) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    hour_values = host.history("sepa.collect.hour")
    hour_docs = [json.loads(v["value"]) for v in hour_values]
    assert [d["cadence"] for d in minute_docs] == ["minute"] * 4
    assert [d["cadence"] for d in hour_docs] == ["hour", "hour"]
    assert [int(v["clock"]) for v in hour_values] == [minute_docs[0]["clock"], minute_docs[2]["clock"]]
    assert "sepa.mandate.dormant" in hour_docs[0]["metrics"] and "sepa.batch.stuck" not in hour_docs[0]["metrics"]
    assert "sepa.batch.stuck" in minute_docs[1]["metrics"] and "sepa.mandate.dormant" not in minute_docs[1]["metrics"]
    assert "banks" in hour_docs[0]["discovery"] and "batches" in minute_docs[0]["discovery"]


def test_server_down_three_runs_then_all_four_in_order_once(tmp_path, site, host):
    cfg = write_config(tmp_path / "c.yaml", site)
    moments = [N + dt.timedelta(minutes=i) for i in range(4)]
    zabbix.stop_server()
    try:
        for i, now in enumerate(moments[:3]):
            proc = send(cfg, now)
            assert proc.returncode == 1, proc.stdout + proc.stderr
            assert f"waiting in spool {i + 1}" in proc.stdout
            assert "connection refused" in proc.stderr
    finally:
        zabbix.start_server()
    host.wait_until_accepted()
    proc = send(cfg, moments[3])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sent 4 (3 from the spool)" in proc.stdout
    values = history(host, 4)
    clocks = [int(v["clock"]) for v in values]
    docs = [json.loads(v["value"]) for v in values]
    want = [d["clock"] for d in docs]
    assert clocks == sorted(want) and len(set(clocks)) == 4 and clocks == want
    assert clocks[1] - clocks[0] == 60 and clocks[3] - clocks[0] == 180
    time.sleep(2)                     # nothing else arrives later
    assert len(host.history()) == 4


def test_redelivered_value_is_stored_once(tmp_path, site, host):
    """The crash window (acknowledged, spool file not yet removed) resends the same clock; the
    6.0 history primary key (itemid, clock, ns) keeps one copy."""
    cfg = write_config(tmp_path / "c.yaml", site)
    spool = tmp_path / "spool" / site.host
    assert send(cfg, N).returncode == 0
    history(host, 1)
    # replay exactly what the crash would have left: the same value, same clock and ns
    stored = host.history()[0]
    doc = json.loads(stored["value"])
    spool.mkdir(parents=True, exist_ok=True)
    (spool / f"{doc['clock']:011d}-replayed.json").write_text(json.dumps(
        {"host": site.host, "key": "sepa.collect", "clock": doc["clock"], "ns": int(stored["ns"]),
         "value": stored["value"]}))
    proc = send(cfg, N + dt.timedelta(minutes=1))
    assert proc.returncode == 0 and "sent 2 (1 from the spool)" in proc.stdout
    values = history(host, 2)
    time.sleep(2)
    values = host.history()
    assert [int(v["clock"]) for v in values] == [doc["clock"], doc["clock"] + 60]


def test_unknown_host_is_reported_not_spooled(tmp_path, zbx, site):
    site.host = "zsepa-no-such-host"
    cfg = write_config(tmp_path / "c.yaml", site)
    proc = send(cfg, N)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "rejected 1" in proc.stdout
    assert "'zsepa-no-such-host'" in proc.stderr and "not retried" in proc.stderr
    assert [n for n in os.listdir(tmp_path / "spool" / site.host) if n.endswith(".json")] == []


def test_psk(tmp_path, zbx, site):
    site.host = f"zsepa-psk-{site.name[-8:]}"
    identity, key = "zsepa-test-psk", os.urandom(32).hex()
    h = zabbix.TrapperHost(site.host, psk=(identity, key))
    try:
        (tmp_path / "psk").write_text(key + "\n")
        (tmp_path / "wrong").write_text(os.urandom(32).hex() + "\n")
        good = write_config(tmp_path / "good.yaml", site, zabbix={
            "server": "127.0.0.1", "port": zabbix.SERVER_PORT, "timeout": 5,
            "tls_psk_identity": identity, "tls_psk_file": str(tmp_path / "psk")})
        bad = write_config(tmp_path / "bad.yaml", site, zabbix={
            "server": "127.0.0.1", "port": zabbix.SERVER_PORT, "timeout": 5,
            "tls_psk_identity": identity, "tls_psk_file": str(tmp_path / "wrong")})
        plain = write_config(tmp_path / "plain.yaml", site)

        proc = send(bad, N)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"TLS with PSK to 127.0.0.1:{zabbix.SERVER_PORT} failed" in proc.stderr and "Traceback" not in proc.stderr
        assert "waiting in spool 1" in proc.stdout
        proc = send(good, N + dt.timedelta(minutes=1))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "sent 2 (1 from the spool)" in proc.stdout
        values = history(h, 2)
        assert [int(v["clock"]) for v in values] == [json.loads(v["value"])["clock"] for v in values]
        assert len(values) == 2
        # unencrypted to a PSK-only host: the server refuses the values for that host
        proc = send(plain, N + dt.timedelta(minutes=2))
        assert proc.returncode == 2 and "rejected 1" in proc.stdout, proc.stdout + proc.stderr
    finally:
        h.delete()


# -- issue 14: bad spool files, a spool made by root, the bounds, same-second values -------------

def test_bad_spool_files_are_quarantined_and_the_rest_delivered(tmp_path, site, host):
    cfg = write_config(tmp_path / "c.yaml", site)
    spool = tmp_path / "spool" / site.host
    spool.mkdir(parents=True)
    earlier = int(N.replace(tzinfo=dt.timezone.utc).timestamp()) - 600
    (spool / f"{earlier:011d}-infinite.json").write_text(
        '{"host":"x","key":"sepa.collect","clock":1e999,"value":"{}"}')
    (spool / f"{earlier:011d}-deep.json").write_text(
        '{"host":"x","key":"sepa.collect","clock":%d,"value":%s}' % (earlier, "[" * 100000 + "]" * 100000))
    os.mkfifo(spool / f"{earlier:011d}-fifo.json")
    proc = send(cfg, N)               # run_cli's timeout turns a hang into a failure
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "sent 1 (0 from the spool)" in proc.stdout and "quarantined 3" in proc.stdout
    assert sorted(p.name for p in spool.iterdir() if p.name.endswith(".bad")) == [
        f"{earlier:011d}-{n}.json.bad" for n in ("deep", "fifo", "infinite")]
    (value,) = history(host, 1)
    assert json.loads(value["value"])["site"] == site.host
    proc = send(cfg, N + dt.timedelta(minutes=1))
    assert proc.returncode == 0 and "sent 1 (0 from the spool)" in proc.stdout, proc.stdout + proc.stderr


def test_spool_made_by_root_is_reported_and_the_value_still_delivered(site, host):
    """As the service user for real (nobody): a host spool directory a run as root made."""
    shared = unprivileged.SharedDir()
    try:
        spool = os.path.join(shared.path, "spool")
        cfg = write_config(pathlib.Path(shared.path) / "c.yaml", site)
        shared.give(cfg, 0o600)
        os.makedirs(os.path.join(spool, site.host), mode=0o750)       # root's
        shared.give(spool, 0o750)
        proc = unprivileged.cli("send", "--cadence", "minute", "--config", cfg, "--now", N.strftime(CLOCK_FMT))
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"chown -R nobody: {spool}" in proc.stderr
        assert f"{site.host}: sent 1 (0 from the spool)" in proc.stdout and "no safety copy" in proc.stdout
        (value,) = history(host, 1)
        assert int(value["clock"]) == int(N.replace(tzinfo=dt.timezone.utc).timestamp())
    finally:
        shared.close()


def test_bounds_do_not_drop_a_value_zabbix_takes(tmp_path, site, host):
    """A document larger than spool_max_bytes at its minimum, collected (--now) longer ago than
    spool_max_age_hours: Zabbix is up, so it is delivered, not dropped."""
    cfg = write_config(tmp_path / "c.yaml", site, spool_max_bytes=4096, spool_max_age_hours=1)
    then = N - dt.timedelta(hours=3)
    for _ in range(60):               # pending batches: a discovery list that makes the document large
        site.insert("Direct Debit Batch", status="Draft", docstatus=0, batch_date=then.date(),
                    creation=then - dt.timedelta(hours=1))
    proc = send(cfg, then)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sent 1 (0 from the spool)" in proc.stdout and "dropped" not in proc.stdout
    (value,) = history(host, 1)
    assert len(value["value"].encode()) > 4096
    assert int(value["clock"]) == int(then.replace(tzinfo=dt.timezone.utc).timestamp())


def test_values_of_the_same_second_are_all_stored(tmp_path, site, host):
    cfg = write_config(tmp_path / "c.yaml", site)
    for _ in range(2):
        proc = send(cfg, N)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    values = history(host, 2)
    time.sleep(2)
    values = host.history()
    assert [int(v["clock"]) for v in values] == [int(N.replace(tzinfo=dt.timezone.utc).timestamp())] * 2
    assert len({v["ns"] for v in values}) == 2


# -- pull: the real zabbix_agentd ---------------------------------------------------------

def agent_config(zbx, site, name, database=None):
    """A config file the agent's user can read, with the site under key `name`."""
    path = os.path.join(zbx.agent_dir, f"{name}.yaml")
    raw = {"timezone": "UTC", "spool_dir": os.path.join(zbx.agent_dir, "spool"),
           "sites": [{"name": name, "database": database or site.server.site_database_mapping(site.name)}]}
    with open(path, "w") as fh:
        yaml.safe_dump(raw, fh)
    os.chmod(path, 0o644)
    return path


def test_agent_returns_the_document(zbx, site):
    cfg = agent_config(zbx, site, "agent-site")
    zabbix.install_userparameters(cfg)
    began = time.monotonic()
    out = zabbix.zabbix_get("sepa.collect[agent-site]")
    took = time.monotonic() - began
    doc = json.loads(out)
    assert doc["site"] == "agent-site" and doc["metrics"]["sepa.collector.status"] == 0
    assert doc["cadence"] == "minute" and set(doc["discovery"]) == {"batches", "health"}
    assert took < 3
    hourly = json.loads(zabbix.zabbix_get("sepa.collect.hour[agent-site]"))
    assert hourly["cadence"] == "hour" and set(hourly["discovery"]) == {"banks", "jobs"}
    assert hourly["metrics"]["sepa.collector.status"] == 0 and "sepa.mandate.dormant" in hourly["metrics"]


def test_agent_answers_within_its_timeout_when_the_database_hangs(zbx, site):
    silent = mariadb.SilentDatabase()
    try:
        cfg = agent_config(zbx, site, "hung-site", database={
            "host": "127.0.0.1", "port": silent.port, "name": "x", "user": "u", "password": "p"})
        zabbix.install_userparameters(cfg)
        began = time.monotonic()
        out = zabbix.zabbix_get("sepa.collect[hung-site]")
        took = time.monotonic() - began
        doc = json.loads(out)
        assert doc["metrics"]["sepa.collector.status"] == 2
        (reason,) = set(doc["unsupported"].values()) - set(not_configured().values())     # no redis either
        assert "timed out" in reason or "collect_timeout" in reason, reason
        assert took < 3.0, f"{took:.2f} s: the agent's Timeout would have turned this into ZBX_NOTSUPPORTED"
    finally:
        silent.close()


def test_agent_refuses_shell_metacharacters_in_the_site(zbx, site):
    cfg = agent_config(zbx, site, "agent-site")
    zabbix.install_userparameters(cfg)
    out = zabbix.zabbix_get("sepa.collect[x'; touch /tmp/zsepa-pwned; echo ']")
    assert "ZBX_NOTSUPPORTED" in out
    assert not os.path.exists("/tmp/zsepa-pwned")
    out = zabbix.zabbix_get("sepa.collect[no such site]")
    assert "no site named 'no such site'" in out
