"""`zabbix-sepa health` on real databases (and a real TCP peer for Redis)."""
import datetime as dt
import json
import socket
import subprocess
import time

import pytest

from tests.conftest import run_cli, write_config
from tests.tcp import unused_port


def utc_now():
    return dt.datetime.utcnow().replace(microsecond=0)


def health(cfg, *extra):
    rc, out, err = run_cli("health", "--config", cfg, "--format", "json", *extra)
    return rc, json.loads(out) if out.strip().startswith("{") else out, err




@pytest.fixture
def redis():
    """A real redis-server (Debian's package) on a free loopback port, for this test only."""
    port = unused_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(5)


def test_healthy_site(tmp_path, site, redis):
    now = utc_now()
    site.insert("Scheduled Job Log", status="Complete", scheduled_job_type="x", creation=now - dt.timedelta(minutes=2))
    cfg = write_config(tmp_path, site, timezone="UTC", redis={"host": "127.0.0.1", "port": redis},
                       health={"disk_paths": ["/"], "disk_warn_percent": 99, "disk_critical_percent": 100})
    rc, report, err = health(cfg)
    assert rc == 0 and report["status"] == "healthy", report
    assert set(report["checks"]) == {"database", "scheduler", "error_rate", "redis", "disk:/"}
    assert report["checks"]["scheduler"]["value"] in range(110, 140)
    assert "PONG" in report["checks"]["redis"]["detail"]


def test_degraded_and_critical(tmp_path, site):
    now = utc_now()
    site.insert("Scheduled Job Log", status="Complete", scheduled_job_type="x", creation=now - dt.timedelta(hours=2))
    for i in range(30):                       # above half of 50/h: degraded
        site.insert("Error Log", method="m", error="e", creation=now - dt.timedelta(minutes=i + 1))
    cfg = write_config(tmp_path, site, timezone="UTC")
    rc, report, err = health(cfg)
    assert rc == 1 and report["status"] == "degraded"
    assert report["checks"]["scheduler"]["status"] == "degraded" and report["checks"]["error_rate"]["value"] == 30
    for i in range(30):                       # 60 errors in the hour: critical (seed 003: > 50/hour)
        site.insert("Error Log", method="m", error="e", creation=now - dt.timedelta(minutes=i + 1))
    rc, report, err = health(cfg)
    assert rc == 2 and report["checks"]["error_rate"]["status"] == "critical"


def test_unreachable_database_and_redis_are_critical(tmp_path, site):
    port = unused_port()
    cfg = write_config(tmp_path, site, database={"host": "127.0.0.1", "port": port, "name": "x", "user": "u",
                                                 "password": "p"}, redis={"host": "127.0.0.1", "port": port})
    rc, report, err = health(cfg)
    assert rc == 2 and report["checks"]["database"]["status"] == "critical"
    assert report["checks"]["redis"]["status"] == "critical"
    assert report["checks"]["scheduler"]["detail"].startswith("unknown: database unreachable")
