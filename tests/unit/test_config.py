"""Configuration: defaults, overrides, and errors that name file, key and problem."""
import os

import pytest
import yaml

from zabbix_sepa import config
from tests.conftest import run_cli

SITE = {"name": "prod", "database": {"name": "site_db", "user": "zbx", "password": "pw"}}


def write(tmp_path, doc, mode=0o600):
    path = tmp_path / "config.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    os.chmod(path, mode)
    return str(path)


def test_defaults_and_per_site_overrides(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    os.chmod(pw, 0o600)
    cfg = config.load(write(tmp_path, {
        "thresholds": {"batch_stuck_hours": 3},
        "timezone": "Europe/Amsterdam",
        "sites": [SITE, {"name": "test", "timezone": "UTC", "thresholds": {"batch_unprocessed_hours": 24},
                         "discovery": {"max_batches": 5},
                         "database": {"socket": "/run/mysqld/mysqld.sock", "name": "t", "user": "u",
                                      "password_file": str(pw)}}]}))
    prod, test = cfg.sites
    assert prod.thresholds == dict(config.DEFAULT_THRESHOLDS, batch_stuck_hours=3)
    assert test.thresholds == dict(config.DEFAULT_THRESHOLDS, batch_stuck_hours=3, batch_unprocessed_hours=24)
    assert (prod.discovery, test.discovery) == ({"max_batches": 100}, {"max_batches": 5})
    assert (prod.timezone, test.timezone) == ("Europe/Amsterdam", "UTC")
    assert prod.collect_timeout == 2.5
    assert test.database.password == "s3cret" and test.database.socket == "/run/mysqld/mysqld.sock"
    assert prod.database.host == "127.0.0.1" and prod.database.port == 3306
    assert cfg.zabbix.port == 10051 and cfg.spool_dir == "/var/spool/zabbix-sepa"
    assert cfg.site("test") is test
    with pytest.raises(config.ConfigError, match="choose one with --site"):
        cfg.site()
    with pytest.raises(config.ConfigError, match="no site named 'nope'"):
        cfg.site("nope")


@pytest.mark.parametrize("doc, key, problem", [
    ({"sites": []}, "sites", "non-empty list"),
    ({"sites": [{"name": "x"}]}, "sites[0].database", "is required"),
    ({"sites": [dict(SITE, name="bad/name")]}, "sites[0].name", "not a valid Zabbix host name"),
    ({"sites": [SITE, SITE]}, "sites[1].name", "duplicate"),
    ({"sites": [dict(SITE, database={"name": "d", "user": "u", "port": "3306"})]},
     "sites[0].database.port", "must be an integer"),
    ({"sites": [dict(SITE, database={"name": "d", "user": "u", "port": 70000})]},
     "sites[0].database.port", "between 1 and 65535"),
    ({"sites": [dict(SITE, database={"user": "u"})]}, "sites[0].database.name", "is required"),
    ({"thresholds": {"batch_stuck_hours": -1}, "sites": [SITE]}, "thresholds.batch_stuck_hours", "between"),
    ({"thresholds": {"batch_stuk_hours": 1}, "sites": [SITE]}, "thresholds.batch_stuk_hours", "unknown key"),
    ({"discovery": {"max_batches": 1.5}, "sites": [SITE]}, "discovery.max_batches", "integer"),
    ({"timezone": "Mars/Olympus", "sites": [SITE]}, "timezone", "unknown time zone"),
    ({"collect_timeout": 0, "sites": [SITE]}, "collect_timeout", "between"),
    ({"sitez": [], "sites": [SITE]}, "sitez", "unknown key"),
    ({"sites": [dict(SITE, database={"name": "d", "user": "u", "password_file": "/nonexistent/pw"})]},
     "sites[0].database.password_file", "cannot read /nonexistent/pw"),
    ({"sites": [dict(SITE, database={"name": "d", "user": "u", "password": "a", "password_file": "/x"})]},
     "sites[0].database", "either password or password_file"),
    ({"zabbix": {"tls_psk_identity": "id"}, "sites": [SITE]}, "zabbix", "go together"),
])
def test_errors_name_file_key_and_problem(tmp_path, doc, key, problem):
    path = write(tmp_path, doc)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert err.value.key == key
    assert problem in err.value.problem
    assert str(err.value).startswith(f"config error in {path}: {key}: ")


def test_invalid_yaml_and_missing_file(tmp_path):
    with pytest.raises(config.ConfigError, match=r"not valid YAML at line 2"):
        config.load(write(tmp_path, "sites: x\n  name: a: b\n"))
    with pytest.raises(config.ConfigError, match="cannot read the file"):
        config.load(str(tmp_path / "absent.yaml"))


def test_environment_variable_selects_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, {"sites": [SITE]})
    monkeypatch.setenv(config.ENV_VAR, path)
    assert config.load().path == path
    assert config.resolve_path("/other") == "/other"     # --config wins


def test_cli_config_error_exits_2_without_traceback(tmp_path):
    path = write(tmp_path, {"sites": [dict(SITE, database={"name": "d", "user": "u", "port": "x"})]})
    rc, out, err = run_cli("collect", "--config", path)
    assert rc == 2 and out == ""
    assert err.strip() == f"zabbix-sepa: config error in {path}: sites[0].database.port: " \
                          "must be an integer, got 'x'"


def test_cli_bad_now_exits_2(tmp_path):
    rc, _, err = run_cli("collect", "--config", write(tmp_path, {"sites": [SITE]}), "--now", "yesterday")
    assert rc == 2 and "--now must look like 'YYYY-MM-DD HH:MM:SS'" in err


def test_world_readable_password_warns(tmp_path, capsys):
    config.load(write(tmp_path, {"sites": [SITE]}, mode=0o644))
    assert "holds a password" in capsys.readouterr().err
    config.load(write(tmp_path, {"sites": [SITE]}, mode=0o600))
    assert capsys.readouterr().err == ""


def test_example_config_is_valid(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "config.example.yaml"), encoding="utf-8") as fh:
        text = fh.read()
    pw = tmp_path / "pw"
    pw.write_text("x")
    os.chmod(pw, 0o600)
    cfg = config.load(write(tmp_path, text.replace("/etc/zabbix-sepa/db-password", str(pw))))
    assert [s.name for s in cfg.sites] == ["verenigingen-prod"]
    assert cfg.sites[0].thresholds == config.DEFAULT_THRESHOLDS


def test_alert_thresholds_have_their_own_ranges(tmp_path):
    ok = config.load(write(tmp_path, {"thresholds": {"batch_failed_max": 0, "collection_rate_min": 85.5},
                                      "sites": [SITE]}))
    assert ok.sites[0].thresholds["collection_rate_min"] == 85.5
    with pytest.raises(config.ConfigError, match=r"thresholds.collection_rate_min: must be between 0 and 100"):
        config.load(write(tmp_path, {"thresholds": {"collection_rate_min": 120}, "sites": [SITE]}))
