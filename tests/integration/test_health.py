"""`zabbix-sepa health` on real databases (and a real redis-server: tests/redis_server.py)."""
import datetime as dt
import json
import time

import pytest

from tests.conftest import run_cli, write_config
from tests.tcp import unused_port


def utc_now():
    return dt.datetime.utcnow().replace(microsecond=0)


def health(cfg, *extra):
    rc, out, err = run_cli("health", "--config", cfg, "--format", "json", *extra)
    return rc, json.loads(out) if out.strip().startswith("{") else out, err


def test_healthy_site(tmp_path, site, redis_server):
    now = utc_now()
    site.insert("Scheduled Job Log", status="Complete", scheduled_job_type="x", creation=now - dt.timedelta(minutes=2))
    cfg = write_config(tmp_path, site, timezone="UTC", redis=redis_server.mapping(),
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


@pytest.mark.zabbix
def test_the_health_checks_reach_zabbix_with_their_two_levels(tmp_path, site):
    """The health checks are items of the minute document; the disk's two levels (here made
    to trip: critical above 2 %, then only degraded above 1 %) raise one problem each, never
    both at once, and the value map names the state."""
    import os
    import yaml
    from tests import zabbix
    zabbix.ensure_stack()
    host = f"zsepa-health-{site.name[-8:]}"
    path = tmp_path / "health.yaml"

    def configure(warn, critical):
        path.write_text(yaml.safe_dump({
            "timezone": "UTC", "spool_dir": str(tmp_path / "spool"),
            "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT,
                       "api": {"url": zabbix.API_URL, "user": "Admin", "password": "zabbix"}},
            "health": {"disk_paths": ["/"], "disk_warn_percent": warn, "disk_critical_percent": critical},
            "sites": [{"name": host, "database": site.server.site_database_mapping(site.name)}]}))
        os.chmod(path, 0o600)

    def health_problems():
        run_cli("send", "--config", str(path), "--all", timeout=60)
        zabbix.reload_config_cache()
        triggers = zabbix.api("trigger.get", {"host": host, "filter": {"value": 1}, "output": ["description"],
                                              "expandDescription": True})
        return {t["description"] for t in triggers if t["description"].startswith("SEPA health")}

    def wait_for(want):
        deadline = time.monotonic() + 120
        while True:
            got = health_problems()
            if got == want or time.monotonic() > deadline:
                return got
            time.sleep(2)

    configure(1, 2)
    rc, out, err = run_cli("zabbix", "setup", "--config", str(path), timeout=300)
    try:
        assert rc == 0, out + err
        zabbix.reload_config_cache()
        assert wait_for({"SEPA health disk:/: critical"}) == {"SEPA health disk:/: critical"}
        (item,) = zabbix.api("item.get", {"host": host, "filter": {"key_": "sepa.health.status[disk:/]"},
                                          "output": ["lastvalue", "valuemapid"]})
        assert item["lastvalue"] == "2" and item["valuemapid"] != "0"
        (overall,) = zabbix.api("item.get", {"host": host, "filter": {"key_": "sepa.health.status"},
                                             "output": ["lastvalue"]})
        assert overall["lastvalue"] == "2"
        configure(1, 100)
        assert wait_for({"SEPA health disk:/: degraded"}) == {"SEPA health disk:/: degraded"}
        # the scheduler's and the error rate's states are items, without triggers of their own here
        checks = zabbix.api("item.get", {"host": host, "search": {"key_": "sepa.health.status["},
                                         "output": ["key_"]})
        assert {c["key_"] for c in checks} >= {"sepa.health.status[scheduler]", "sepa.health.status[error_rate]",
                                                 "sepa.health.status[database]", "sepa.health.status[disk:/]"}
    finally:
        found = zabbix.api("host.get", {"filter": {"host": [host]}, "output": ["hostid"]})
        if found:
            zabbix.api("host.delete", [h["hostid"] for h in found])
