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


# -- hardening (issue 14, defect 8) ---------------------------------------------------------------

def test_world_readable_psk_file_warns(tmp_path, capsys):
    psk = tmp_path / "zabbix.psk"
    psk.write_text("ab" * 32 + "\n")
    os.chmod(psk, 0o644)
    doc = {"zabbix": {"tls_psk_identity": "id", "tls_psk_file": str(psk)}, "sites": [SITE]}
    config.load(write(tmp_path, doc))
    err = capsys.readouterr().err
    assert f"{psk} holds a secret (zabbix.tls_psk_file) and is readable by every user" in err
    os.chmod(psk, 0o640)
    config.load(write(tmp_path, doc))
    assert capsys.readouterr().err == ""


def run_main(*argv):
    """zabbix_sepa.cli.main in this process: (exit status, stdout, stderr), as the console script
    would exit (an uncaught exception propagates: that is the traceback the tests look for)."""
    import contextlib
    import io
    from zabbix_sepa import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(list(argv))
        except SystemExit as exc:       # argparse
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def write_bytes(tmp_path, data):
    path = tmp_path / "config.yaml"
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return str(path)


@pytest.mark.parametrize("data, problem", [
    (b"sites:\n  - name: caf\xe9\n", "not valid UTF-8 (byte 0xe9 at line 2, byte 14)"),
    (b"\xff\xfesites: []\n", "not valid UTF-8 (byte 0xff at line 1, byte 1)"),
    (b"sites: " + b"[" * 100000 + b"]" * 100000 + b"\n", "nested too deeply"),
    (b"".join(b"  " * i + b"k:\n" for i in range(5000)), "nested too deeply"),
    (b"spool_dir: " + b"1" * 20000 + b"\nsites: []\n", "not valid YAML"),
])
def test_undecodable_and_pathological_files_are_config_errors(tmp_path, data, problem):
    path = write_bytes(tmp_path, data)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert problem in str(err.value)
    rc, out, err = run_main("db-grants", "--config", path)
    assert (rc, out) == (2, "")
    assert err.startswith(f"zabbix-sepa: config error in {path}: ") and problem in err


def test_a_huge_number_is_named_not_printed(tmp_path):
    # 0x... is exempt from Python's int-to-text limit on reading, not on printing
    path = write(tmp_path, "zabbix: {port: 0x" + "f" * 20000 + "}\nsites: []\n")
    with pytest.raises(config.ConfigError, match=r"zabbix.port: must be between 1 and 65535, got 0xf+\.\.\."):
        config.load(path)


@pytest.mark.parametrize("written, text", [
    ("0123", "0123"),          # YAML 1.1 octal: 83
    ("0x1F", "0x1F"),
    ("1_000", "1_000"),        # 1000
    ("12:30", "12:30"),        # sexagesimal: 750
    ("1e3", "1e3"),
    (".5", ".5"),
    ("yes", "yes"),            # True
    ("off", "off"),
    ("2024-01-31", "2024-01-31"),
    ("'0123'", "0123"),
    ('"0123"', "0123"),
])
def test_secrets_are_the_text_the_user_wrote(tmp_path, written, text):
    cfg = config.load(write(tmp_path, f"""
zabbix:
  api: {{url: "http://127.0.0.1/api_jsonrpc.php", user: Admin, password: {written}}}
alerts:
  webhook: {{url: "http://127.0.0.1/hook", token: {written}}}
sites:
  - name: a
    database: {{name: d, user: u, password: {written}}}
"""))
    assert cfg.sites[0].database.password == text
    assert cfg.api.password == text
    assert cfg.alerts.webhook_token == text
    cfg = config.load(write(tmp_path, f"""
zabbix:
  api:
    url: http://127.0.0.1/api_jsonrpc.php
    token: {written}
sites: [{{name: a, database: {{name: d, user: u}}}}]
"""))
    assert cfg.api.token == text


@pytest.mark.parametrize("value", ["[1, 2]", "{a: 1}"])
def test_a_secret_that_is_no_text_is_refused_with_a_hint_to_quote_it(tmp_path, value):
    path = write(tmp_path, f"sites: [{{name: a, database: {{name: d, user: u, password: {value}}}}}]\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert err.value.key == "sites[0].database.password"
    assert "must be text" in err.value.problem and "quote" in err.value.problem


@pytest.mark.parametrize("key", ["spool_dir", "cache_dir"])
@pytest.mark.parametrize("value", ["spool", "./spool", "~/spool", "var/spool/zabbix-sepa"])
def test_spool_and_cache_dir_must_be_absolute(tmp_path, key, value):
    path = write(tmp_path, {key: value, "sites": [SITE]})
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert err.value.key == key
    assert f"must be an absolute path, got {value!r}" in err.value.problem
    rc, _, err = run_main("db-grants", "--config", path)
    assert rc == 2 and "must be an absolute path" in err


@pytest.mark.parametrize("key", ["password_file", "token_file"])
def test_secret_files_that_cannot_be_read_as_text_are_config_errors(tmp_path, key):
    bad = tmp_path / "secret"
    bad.write_bytes(b"\xff\xfe\n")
    os.chmod(bad, 0o600)
    api = {"url": "http://127.0.0.1/api_jsonrpc.php", key: str(bad)}
    if key == "password_file":
        api["user"] = "Admin"
    for doc, where in (({"zabbix": {"api": api}, "sites": [SITE]}, f"zabbix.api.{key}"),
                       ({"sites": [dict(SITE, database={"name": "d", "user": "u", "password_file": str(bad)})]},
                        "sites[0].database.password_file")):
        if key == "token_file" and where.startswith("sites"):
            continue
        with pytest.raises(config.ConfigError) as err:
            config.load(write(tmp_path, doc))
        assert err.value.key == where and "not valid UTF-8" in err.value.problem
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, {"sites": [dict(SITE, database={"name": "d", "user": "u",
                                                                     "password_file": "/tmp/a\0b"})]}))
    assert err.value.key == "sites[0].database.password_file"


# -- reports.daily: who gets the daily report, and when install.sh schedules it ---------------

def test_daily_report_recipients_per_site_and_the_schedule(tmp_path):
    cfg = config.load(write(tmp_path, {
        "reports": {"daily": {"mail_to": "finance@example.org", "at": "6:05"}},
        "sites": [SITE, dict(SITE, name="b", reports={"daily": {"mail_to": ["t@b.example", "u@b.example"]}}),
                  dict(SITE, name="c", reports={"daily": {"mail_to": []}})]}))
    assert [s.daily_report_to for s in cfg.sites] == [("finance@example.org",), ("t@b.example", "u@b.example"), ()]
    assert cfg.daily_report_at == "06:05" and cfg.daily_report_scheduled
    plain = config.load(write(tmp_path, {"sites": [SITE]}))
    assert plain.daily_report_at == "07:15" and not plain.daily_report_scheduled


@pytest.mark.parametrize("reports, key, problem", [
    ({"daily": {"mail_to": "finance"}}, "reports.daily.mail_to", "'finance' is not an e-mail address"),
    ({"daily": {"mail_to": "a@b.nl, c@d.nl"}}, "reports.daily.mail_to", "is not an e-mail address"),
    ({"daily": {"mail_to": {"a": 1}}}, "reports.daily.mail_to", "an e-mail address or a list of them"),
    ({"daily": {"at": "24:00"}}, "reports.daily.at", "a time of day HH:MM, got '24:00'"),
    ({"daily": {"at": 435}}, "reports.daily.at", 'write the time in quotes, e.g. at: "07:15"'),
    ({"weekly": {}}, "reports.weekly", "unknown key"),
])
def test_daily_report_errors_name_the_key(tmp_path, reports, key, problem):
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, {"reports": reports, "sites": [SITE]}))
    assert (err.value.key, problem in err.value.problem) == (key, True), err.value


def test_a_site_cannot_have_its_own_report_time(tmp_path):
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, {"sites": [dict(SITE, reports={"daily": {"at": "08:00"}})]}))
    assert err.value.key == "sites[0].reports.daily.at" and "unknown key" in err.value.problem


def test_at_written_unquoted_is_explained(tmp_path):
    """YAML 1.1 reads 7:15 as the number 435 (base 60)."""
    path = write(tmp_path, "reports:\n  daily:\n    at: 7:15\nsites:\n  - name: a\n    database: {name: d, user: u}\n")
    rc, out, err = run_main("check", "--config", path)
    assert rc == 2 and 'reports.daily.at: write the time in quotes, e.g. at: "07:15" (YAML read 435' in err


@pytest.mark.parametrize("args, message", [
    (["report", "operational", "--mail"], "--mail sends to reports.daily.mail_to, which is for the daily report"),
    (["report", "daily", "--all"], "--all mails each site's daily report to its reports.daily.mail_to: add --mail"),
    (["report", "daily", "--all", "--mail", "--site", "prod"], "leave out --site and --output"),
    (["report", "daily", "--mail"], "site 'prod' has no reports.daily.mail_to"),
    (["report", "daily", "--all", "--mail"], "no site has reports.daily.mail_to"),
])
def test_report_mail_usage_errors_exit_2_before_any_database_work(tmp_path, args, message):
    path = write(tmp_path, {"sites": [SITE]})
    rc, out, err = run_main(*args, "--config", path)
    assert rc == 2 and message in err and out == "", err


def test_install_reads_the_schedule_before_the_rest_of_the_config_is_usable(tmp_path):
    """install.sh asks daily_report_schedule on a fresh config whose password_file does not exist yet."""
    site = dict(SITE, database={"name": "d", "user": "u", "password_file": str(tmp_path / "not-yet")})
    assert config.daily_report_schedule(write(tmp_path, {"sites": [site]})) is None
    path = write(tmp_path, {"reports": {"daily": {"at": "21:40"}},
                            "sites": [site, dict(site, name="b", reports={"daily": {"mail_to": "x@y.example"}})]})
    assert config.daily_report_schedule(path) == "21:40"
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(path)
    with pytest.raises(config.ConfigError, match=r"reports\.daily\.at: must be a time of day"):
        config.daily_report_schedule(write(tmp_path, {"reports": {"daily": {"at": "noon"}}, "sites": [site]}))


def test_a_no_data_time_shorter_than_its_interval_is_a_warning_not_an_error(tmp_path):
    """Such configs loaded before the cadences existed: they must keep loading."""
    path = write(tmp_path, {"thresholds": {"nodata_minutes": 0.5}, "sites": [SITE]})
    rc, out, err = run_main("check", "--config", path)
    assert "warning" in err and "thresholds.nodata_minutes (0.5 minutes) is shorter than cadences.minute.interval" in err
    assert config.load(path).sites[0].thresholds["nodata_minutes"] == 0.5


def test_alert_severities_default_and_names(tmp_path):
    cfg = config.load(write(tmp_path, {"sites": [SITE]}))
    assert (cfg.alerts.notify_min_severity, cfg.alerts.escalate_min_severity) == (2, 4)   # Warning, High
    cfg = config.load(write(tmp_path, {"sites": [SITE], "alerts": {"notify_min_severity": "Information",
                                                                   "escalate_min_severity": "disaster"}}))
    assert (cfg.alerts.notify_min_severity, cfg.alerts.escalate_min_severity) == (1, 5)


@pytest.mark.parametrize("alerts, message", [
    ({"notify_min_severity": "critical"}, "alerts.notify_min_severity: must be one of information, warning, "
                                          "average, high, disaster, got 'critical'"),
    ({"escalate_min_severity": 4}, "alerts.escalate_min_severity: must be one of"),
    ({"notify_min_severity": "high", "escalate_min_severity": "average"},
     "alerts.escalate_min_severity: average is below alerts.notify_min_severity (high)"),
])
def test_alert_severity_errors_name_the_keys(tmp_path, alerts, message):
    with pytest.raises(config.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.load(write(tmp_path, {"sites": [SITE], "alerts": alerts}))


def test_smtp_security_login_and_default_ports(tmp_path):
    pw = tmp_path / "smtp-pw"
    pw.write_text("s3cret\n")
    os.chmod(pw, 0o600)
    a = config.load(write(tmp_path, {"sites": [SITE]})).alerts
    assert (a.smtp_security, a.smtp_port, a.smtp_verify, a.smtp_user, a.smtp_password) == ("none", 25, True, None, None)
    for security, port in (("starttls", 587), ("ssl", 465)):
        a = config.load(write(tmp_path, {"sites": [SITE], "alerts": {"email": {
            "security": security, "user": "relay", "password_file": str(pw)}}})).alerts
        assert (a.smtp_security, a.smtp_port, a.smtp_user, a.smtp_password) == (security, port, "relay", "s3cret")


@pytest.mark.parametrize("email, message", [
    ({"security": "tls"}, "alerts.email.security: must be one of none, starttls, ssl, got 'tls'"),
    ({"verify": "no"}, "alerts.email.verify: must be true or false, got 'no'"),
    ({"security": "starttls", "user": "relay"}, "alerts.email.password_file: is needed too"),
    ({"password_file": "relative/pw"}, "alerts.email.password_file: must be an absolute path"),
])
def test_smtp_errors_name_the_key(tmp_path, email, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(write(tmp_path, {"sites": [SITE], "alerts": {"email": email}}))


def test_smtp_login_in_clear_is_warned_about(tmp_path, capsys):
    pw = tmp_path / "smtp-pw"
    pw.write_text("s3cret\n")
    os.chmod(pw, 0o600)
    config.load(write(tmp_path, {"sites": [SITE], "alerts": {"email": {"user": "relay", "password_file": str(pw)}}}))
    assert "alerts.email.user logs in without alerts.email.security" in capsys.readouterr().err


# -- thresholds that cannot contradict (issue 16, part 5) -----------------------------------------

# One case per Order the groups declare: (lower key, a value breaking it, higher key, relation).
# Every value is in its key's own range and only the order is broken (the higher key at its default).
BROKEN_ORDERS = [
    ("batch_stuck_hours", 72, "batch_unprocessed_hours", "below"),        # equal: Draft must be sooner
    ("error_rate_per_hour", 501, "errors_per_day_max", "at most"),
    ("nodata_minutes", 151, "nodata_hour_minutes", "at most"),
    ("queue_wait_minutes", 31, "queue_long_wait_minutes", "at most"),
]


def test_every_order_has_a_breaking_case_here():
    from zabbix_sepa import registry
    declared = {(o.lower.key, o.higher.key) for o in registry.orders()}
    assert declared == {(low, high) for low, _, high, _ in BROKEN_ORDERS}


def test_the_defaults_keep_every_order(tmp_path):
    from zabbix_sepa import registry
    assert registry.orders()
    for order in registry.orders():
        assert order.holds(config.DEFAULT_THRESHOLDS), order
    assert config.load(write(tmp_path, {"sites": [SITE]})).sites[0].thresholds == config.DEFAULT_THRESHOLDS
    assert config.HealthConfig().disk_warn_percent <= config.HealthConfig().disk_critical_percent


@pytest.mark.parametrize("low, value, high, relation", BROKEN_ORDERS)
def test_a_threshold_its_order_forbids_is_an_error_naming_both_keys_and_the_site(tmp_path, low, value, high,
                                                                                  relation):
    path = write(tmp_path, {"thresholds": {low: value}, "sites": [SITE]})
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    default = config.DEFAULT_THRESHOLDS[high]
    assert err.value.key == "sites[0].thresholds"
    assert err.value.problem.startswith(f"site 'prod': {low} ({value}, thresholds.{low}) must be {relation} "
                                        f"{high} ({default}, default): ")
    # the limit itself is allowed (the strict order: just below it)
    at_limit = default - 0.5 if relation == "below" else default
    assert config.load(write(tmp_path, {"thresholds": {low: at_limit}, "sites": [SITE]}))


def test_a_site_overriding_one_key_is_checked_against_the_inherited_other(tmp_path):
    doc = {"thresholds": {"batch_unprocessed_hours": 10},
           "sites": [SITE, dict(SITE, name="slow", thresholds={"batch_stuck_hours": 12})]}
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, doc))
    assert str(err.value).endswith(
        "sites[1].thresholds: site 'slow': batch_stuck_hours (12, sites[1].thresholds.batch_stuck_hours) must be "
        "below batch_unprocessed_hours (10, thresholds.batch_unprocessed_hours): a Draft or Generated batch waits "
        "for the association and is stuck sooner than a Submitted one, which waits for the bank")
    # what counts is each site's merged thresholds: a top level that only its sites' own keys set right loads
    fixed = {"thresholds": {"batch_stuck_hours": 100},
             "sites": [dict(SITE, thresholds={"batch_unprocessed_hours": 200})]}
    assert config.load(write(tmp_path, fixed)).sites[0].thresholds["batch_stuck_hours"] == 100


def test_disk_warn_and_critical_are_ordered(tmp_path):
    path = write(tmp_path, {"health": {"disk_warn_percent": 90, "disk_critical_percent": 85}, "sites": [SITE]})
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert str(err.value) == (f"config error in {path}: health: disk_critical_percent (85) is below "
                              "disk_warn_percent (90)")


def test_a_contradiction_exits_2_with_the_message_not_a_traceback(tmp_path):
    path = write(tmp_path, {"sites": [dict(SITE, thresholds={"error_rate_per_hour": 600})]})
    rc, out, err = run_cli("check", "--config", path)
    assert rc == 2 and out == "" and "Traceback" not in err
    assert err.strip() == (f"zabbix-sepa: config error in {path}: sites[0].thresholds: site 'prod': "
                           "error_rate_per_hour (600, sites[0].thresholds.error_rate_per_hour) must be at most "
                           "errors_per_day_max (500, default): an hour's errors are part of its day's: more allowed "
                           "in one hour than in the whole day contradicts the daily maximum")


def test_slack_needs_a_token_file_and_a_channel(tmp_path):
    token = tmp_path / "slack-token"
    token.write_text("xoxb-1\n")
    os.chmod(token, 0o600)
    a = config.load(write(tmp_path, {"sites": [SITE], "alerts": {"slack": {
        "token_file": str(token), "channel": "#sepa"}}})).alerts
    assert (a.slack_token, a.slack_channel) == ("xoxb-1", "#sepa")
    assert config.load(write(tmp_path, {"sites": [SITE]})).alerts.slack_token is None
    for slack, message in (({"channel": "#sepa"}, "alerts.slack.token_file: is needed"),
                           ({"token_file": str(token)}, "alerts.slack.channel: is needed"),
                           ({"token_file": str(token), "channel": " "}, "alerts.slack.channel: must be a non-empty string"),
                           ({"token": "xoxb", "channel": "#sepa"}, "alerts.slack")):
        with pytest.raises(config.ConfigError, match=message):
            config.load(write(tmp_path, {"sites": [SITE], "alerts": {"slack": slack}}))


def test_proxies_and_the_sites_they_monitor(tmp_path):
    cfg = config.load(write(tmp_path, {
        "zabbix": {"server": "zbx.example.org", "proxies": [{"name": "proxy-nl1", "address": "10.1.2.3"},
                                                             {"name": "proxy-nl2", "address": "10.1.2.4", "port": 10052}]},
        "sites": [dict(SITE, proxy="proxy-nl2"), dict(SITE, name="direct")]}))
    via, direct = cfg.sites
    assert (via.proxy, direct.proxy) == ("proxy-nl2", None)
    assert cfg.zabbix.destination(via.proxy) == ("10.1.2.4", 10052)
    assert cfg.zabbix.destination(direct.proxy) == ("zbx.example.org", 10051)
    assert cfg.zabbix.proxies[0].port == 10051


def test_a_site_monitored_by_a_proxy_group(tmp_path):
    cfg = config.load(write(tmp_path, {
        "zabbix": {"proxies": [{"name": "p1", "address": "10.1.2.3", "proxy_group": "nl"},
                               {"name": "solo", "address": "10.1.2.9"},
                               {"name": "p2", "address": "10.1.2.4", "proxy_group": "nl"}]},
        "sites": [dict(SITE, proxy_group="nl")]}))
    assert (cfg.sites[0].proxy, cfg.sites[0].proxy_group) == (None, "nl")
    assert [p.name for p in cfg.zabbix.group_members("nl")] == ["p1", "p2"]


@pytest.mark.parametrize("zbx, site, message", [
    ({}, {"proxy": "proxy-nl1"}, r"sites\[0\].proxy: site 'prod' names proxy 'proxy-nl1', which is not in "
                                 r"zabbix.proxies \(none is configured\)"),
    ({"proxies": [{"name": "a", "address": "h"}]}, {"proxy": "b"}, r"not in zabbix.proxies \(a\)"),
    ({"proxies": [{"name": "a", "address": "h"}, {"name": "a", "address": "i"}]}, {},
     r"zabbix.proxies\[1\].name: duplicate proxy name 'a'"),
    ({"proxies": [{"name": "a"}]}, {}, r"zabbix.proxies\[0\].address: is required"),
    ({"proxies": [{"name": "a", "address": "h", "port": 70000}]}, {}, r"zabbix.proxies\[0\].port"),
    ({"proxies": {"name": "a"}}, {}, "zabbix.proxies: must be a list"),
    ({"proxies": [{"name": "a", "address": "h", "proxy_group": "g"}]}, {"proxy_group": "nl"},
     r"sites\[0\].proxy_group: site 'prod' names proxy group 'nl', but no zabbix.proxies entry has "
     r"proxy_group: nl \(groups configured: g\)"),
    ({}, {"proxy_group": "nl"}, r"sites\[0\].proxy_group: .*\(groups configured: none\)"),
    ({"proxies": [{"name": "a", "address": "h", "proxy_group": "g"}]}, {"proxy": "a", "proxy_group": "g"},
     r"sites\[0\].proxy_group: site 'prod' names both a proxy and a proxy group"),
    ({"proxies": [{"name": "a", "address": "h", "proxy_group": " "}]}, {}, r"zabbix.proxies\[0\].proxy_group: must be"),
    ({"proxies": [{"name": "a", "address": "h"}, {"name": "b", "address": "h", "proxy_group": "g"}]}, {},
     r"zabbix.proxies\[1\].address: proxy 'b' has the address h:10051 of proxy 'a'; the proxies of a proxy "
     r"group need one each"),
])
def test_proxy_errors_name_site_and_key(tmp_path, zbx, site, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(write(tmp_path, {"zabbix": zbx, "sites": [dict(SITE, **site)]}))


def test_a_frappe_host_and_its_defaults(tmp_path):
    cfg = config.load(write(tmp_path, {"sites": [dict(SITE, frappe_host={"address": "10.1.2.4"}),
                                                 dict(SITE, name="b", frappe_host={"name": "b-app", "address": "h",
                                                                                   "port": 10070, "templates": ["linux"]}),
                                                 dict(SITE, name="c")]}))
    a, b, c = (s.frappe_host for s in cfg.sites)
    assert (a.name, a.address, a.port, a.templates) == ("prod-host", "10.1.2.4", 10050, ("linux", "mysql", "redis"))
    assert (b.name, b.port, b.templates) == ("b-app", 10070, ("linux",))
    assert c is None


@pytest.mark.parametrize("sites, message", [
    ([dict(SITE, frappe_host={})], r"sites\[0\].frappe_host.address: is required"),
    ([dict(SITE, frappe_host={"address": "h", "templates": ["windows"]})],
     r"sites\[0\].frappe_host.templates: must be a list of linux, mysql, redis"),
    ([dict(SITE, frappe_host={"address": "h", "name": "a/b"})], r"sites\[0\].frappe_host.name: 'a/b' is not a valid"),
    ([dict(SITE, frappe_host={"address": "h", "name": "prod"})], r"sites\[0\].frappe_host.name: 'prod' is already"),
    ([dict(SITE, frappe_host={"address": "h"}), dict(SITE, name="prod-host")],
     r"sites\[1\].name: 'prod-host' is already the Zabbix host of an earlier site's frappe_host"),
    ([dict(SITE, frappe_host={"address": "h", "name": "x"}), dict(SITE, name="b", frappe_host={"address": "h", "name": "x"})],
     r"sites\[1\].frappe_host.name: 'x' is already"),
    ([dict(SITE, frappe_host={"address": "h", "port": 0})], r"sites\[0\].frappe_host.port"),
])
def test_frappe_host_errors_name_the_key(tmp_path, sites, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(write(tmp_path, {"sites": sites}))


# -- redis: the bench's redis_queue (queue metrics; health's PING) ------------------------------

def secret_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, 0o600)
    return str(path)


def test_redis_top_level_and_per_site_key_by_key(tmp_path):
    top_pw = secret_file(tmp_path, "top", "top-secret-pw\n")
    site_pw = secret_file(tmp_path, "site", "site-secret-pw")
    cfg = config.load(write(tmp_path, {
        "redis": {"host": "10.0.0.5", "port": 11000, "password_file": top_pw, "bench_id": "frappe-bench"},
        "sites": [SITE,
                  {**SITE, "name": "other-bench", "redis": {"bench_id": "other-bench", "username": "other-bench",
                                                            "password_file": site_pw}},
                  {**SITE, "name": "own-redis", "redis": {"host": "10.0.0.9", "port": 12000}}]}))
    prod, other, own = (s.redis for s in cfg.sites)
    assert prod == config.RedisConfig("10.0.0.5", 11000, None, "top-secret-pw", "frappe-bench")
    assert other == config.RedisConfig("10.0.0.5", 11000, "other-bench", "site-secret-pw", "other-bench")
    assert own == config.RedisConfig("10.0.0.9", 12000, None, "top-secret-pw", "frappe-bench")
    assert (cfg.health.redis_host, cfg.health.redis_port) == ("10.0.0.5", 11000)       # health PINGs the top one
    assert "secret" not in repr(prod)


def test_redis_of_one_site_only_and_none_at_all(tmp_path):
    cfg = config.load(write(tmp_path, {"sites": [SITE, {**SITE, "name": "b", "redis": {"host": "r"}}]}))
    assert cfg.sites[0].redis is None and cfg.sites[1].redis == config.RedisConfig("r", 6379)
    assert cfg.health.redis_host is None


@pytest.mark.parametrize("top, site, key, problem", [
    ({"host": "r", "username": "u"}, None, "redis.username", "needs password_file too"),
    ({"host": "r"}, {"username": "u"}, "sites[0].redis.username", "needs password_file too"),
    ({"port": 11000}, None, "redis.host", "is required"),
    (None, {"port": 11000}, "sites[0].redis.host", "is required"),
    ({"port": 11000}, {"bench_id": "b"}, "sites[0].redis.host", "is required"),
    ({"host": "r"}, {"port": 70000}, "sites[0].redis.port", "must be between 1 and 65535"),
    ({"host": "r", "port": "11000"}, None, "redis.port", "must be an integer"),
    ({"host": "r"}, {"user": "u"}, "sites[0].redis.user", "unknown key"),
    ({"host": "r", "password": "pw"}, None, "redis.password", "unknown key"),
    ({"host": "r", "password_file": "relative/pw"}, None, "redis.password_file", "must be an absolute path"),
    ({"host": "r", "password_file": "/nonexistent/zsepa-pw"}, None, "redis.password_file", "cannot read"),
    ({"host": "r", "bench_id": ""}, None, "redis.bench_id", "must be a non-empty string"),
    ({"host": ["r"]}, None, "redis.host", "must be a non-empty string"),
    ({"host": "r"}, "r:6379", "sites[0].redis", "must be a mapping"),
])
def test_redis_errors_name_the_key(tmp_path, top, site, key, problem):
    doc = {"sites": [dict(SITE, **({"redis": site} if site is not None else {}))]}
    if top is not None:
        doc["redis"] = top
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, doc))
    assert err.value.key == key and problem in err.value.problem, (err.value.key, err.value.problem)


def test_a_redis_password_is_masked_in_logs(tmp_path):
    from zabbix_sepa import redact
    config.load(write(tmp_path, {"redis": {"host": "r", "password_file": secret_file(tmp_path, "pw", "rq-pw-1234567")},
                                 "sites": [SITE]}))
    assert redact.redact("AUTH rq-pw-1234567") == "AUTH ***"


def test_the_example_s_redis_block_switched_on_is_valid(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "config.example.yaml"), encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    start = lines.index("# redis:                     # the bench's redis_queue (common_site_config.json): the background job")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line[2:])
    text = "\n".join(lines[:start] + block + lines[start + len(block):])
    for name in ("db-password", "redis-password"):
        text = text.replace(f"/etc/zabbix-sepa/{name}", secret_file(tmp_path, name, "example-secret-pw"))
    cfg = config.load(write(tmp_path, text))
    assert cfg.sites[0].redis == config.RedisConfig("127.0.0.1", 11000, "zabbix-sepa", "example-secret-pw",
                                                    "frappe-bench")
