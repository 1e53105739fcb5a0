"""The health checks' judgement, without a database (the checks against one: tests/integration/test_health.py)."""
import datetime as dt

import psutil
import pytest

from zabbix_sepa.config import DEFAULT_THRESHOLDS, HealthConfig
from zabbix_sepa.groups import health


def test_disk_use_is_counted_as_psutil_and_df_count_it():
    assert health.used_percent("/") == psutil.disk_usage("/").percent


@pytest.mark.parametrize("warn, critical, state", [(99, 100, "healthy"), (1, 100, "degraded"), (1, 2, "critical")])
def test_disk_levels(warn, critical, state):
    (check,) = health.disks(HealthConfig(disk_paths=("/",), disk_warn_percent=warn,
                                         disk_critical_percent=critical)).values()
    assert check["status"] == state


def test_an_unreadable_path_is_degraded_and_says_why():
    (check,) = health.disks(HealthConfig(disk_paths=("/no/such/path",))).values()
    assert check["status"] == "degraded" and check["value"] is None and "cannot read /no/such/path" in check["detail"]


@pytest.mark.parametrize("minutes_ago, state", [(None, "critical"), (10, "healthy"), (100, "degraded"),
                                                (1000, "critical")])
def test_scheduler_levels(minutes_ago, state):
    now = dt.datetime(2026, 12, 4, 12, 0)
    last = None if minutes_ago is None else now - dt.timedelta(minutes=minutes_ago)
    t = dict(DEFAULT_THRESHOLDS, scheduler_inactive_minutes=60)
    assert health.judge_scheduler(last, now, t)["status"] == state


@pytest.mark.parametrize("errors, state", [(0, "healthy"), (26, "degraded"), (51, "critical")])
def test_error_rate_levels(errors, state):
    assert health.judge_error_rate(errors, dict(DEFAULT_THRESHOLDS, error_rate_per_hour=50))["status"] == state
