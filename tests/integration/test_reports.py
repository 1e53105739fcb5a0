"""`zabbix-sepa report` on generated datasets, checked against ground truth (tests/report_oracle.py).

Every report type runs as a user runs it (the CLI, JSON out) on the `prod` dataset; its
figures are compared with the oracle's, and where the collector has the same figure (30-day
rates, expiring mandates, overdue totals) with the collector's document too. Also: CSV
parses back to the same rows, the HTML renders in headless Chromium with its charts, no
personal data reaches any report in any format, and the daily report reaches a local SMTP
server.
"""
import csv
import datetime as dt
import io
import json
import math
import os
import socket

import pytest

from tests import mariadb, oracle, report_oracle
from tests.smtp import SMTPSink
from tests.conftest import ROOT, SiteDB, run_cli, write_config
from zabbix_sepa.dataset import generate

NOW = dt.datetime(2026, 11, 22, 12, 0, 0)
NOW_ARG = NOW.strftime("%Y-%m-%d %H:%M:%S")
ARTIFACTS = os.environ.get("ZABBIX_SEPA_ARTIFACTS",
                           os.path.join(os.path.dirname(os.path.dirname(__file__)), "artifacts"))


@pytest.fixture(scope="module")
def prod(server, tmp_path_factory):
    db = SiteDB(server, mariadb.unique_name("rpprod"), schema=False)
    generate.generate(db.admin, "prod", NOW, seed=5)
    db.admin.commit()
    cfg = write_config(tmp_path_factory.mktemp("reports"), db)
    yield db, oracle.load_rows(db.admin), cfg
    db.drop()


def report(cfg, kind, *args, days=30):
    rc, out, err = run_cli("report", kind, "--config", cfg, "--now", NOW_ARG, "--days", str(days),
                           "--format", "json", *args, timeout=120)
    assert rc == 0, err
    return json.loads(out)


def rows(rep, table):
    return rep["tables"][table]["rows"]


def close(a, b):
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.006)


@pytest.mark.parametrize("days", [30, 7, 90])
def test_operational_matches_truth(prod, days):
    db, data, cfg = prod
    rep = report(cfg, "operational", days=days)
    truth = report_oracle.operational(data, NOW, days)
    got = rows(rep, "batches")
    assert [b["batch"] for b in got] == [t["batch"] for t in truth]
    for g, t in zip(got, truth):
        for key in ("entries", "failed_entries", "batch_date"):
            assert g[key] == t[key], (g, t)
        assert close(g["amount"], t["amount"]) and close(g["age_hours"], t["age_hours"])
    assert len(rows(rep, "days")) == days + 1
    assert sum(d["entries"] for d in rows(rep, "days")) == sum(t["entries"] for t in truth)
    assert sum(s["batches"] for s in rows(rep, "statuses")) == len(truth)
    if days == 30:
        assert len(truth) > 20 and sum(t["failed_entries"] for t in truth) > 0   # the data exercises it


@pytest.mark.parametrize("days", [30, 14])
def test_executive_matches_truth_and_the_collector(prod, days):
    db, data, cfg = prod
    rep = report(cfg, "executive", days=days)
    kpis = {r["kpi"]: r for r in rows(rep, "kpis")}
    for label, (current, previous) in report_oracle.executive(data, NOW, days).items():
        assert close(kpis[label]["current"], current), (label, kpis[label], current)
        assert close(kpis[label]["previous"], previous), (label, kpis[label], previous)
    collected = kpis["Collected by direct debit (EUR)"]
    assert collected["current"] > 0 and collected["trend"] in ("up", "down", "flat")
    assert close(sum(r["collected"] for r in rows(rep, "collected")), collected["current"])
    metrics = db.collect(NOW)["metrics"]
    assert kpis["Outstanding (EUR)"]["current"] == metrics["sepa.invoice.outstanding.amount"]
    assert kpis["Outstanding (EUR)"]["previous"] is None and kpis["Outstanding (EUR)"]["trend"] == "n/a"
    if days == 30:   # the same definitions as the 30-day metrics
        assert kpis["Batch success rate (%)"]["current"] == metrics["sepa.batch.success_rate_30d"]
        assert kpis["Collection rate (%)"]["current"] == metrics["sepa.collection.rate_30d"]
        assert collected["current"] == metrics["sepa.batch.collected_amount_30d"]
    assert any("zabbix.api is not configured" in n for n in rep["notes"])


@pytest.mark.parametrize("days", [30, 120, 400])
def test_financial_matches_truth(prod, days):
    db, data, cfg = prod
    rep = report(cfg, "financial", days=days)
    invoiced, paid, collected, ageing, retries = report_oracle.financial(data, NOW, days)
    periods = rep["tables"]["periods"]
    total = periods["total"]
    assert close(total["invoiced"], sum(invoiced.values())) and close(total["paid"], sum(paid.values()))
    assert close(total["collected"], sum(collected.values()))
    assert close(sum(p["invoiced"] for p in periods["rows"]), total["invoiced"])
    labels = [p["period"] for p in periods["rows"]]
    assert labels == sorted(labels) and len(labels) == len(set(labels))
    assert len(labels) == {30: 31, 120: 18, 400: 14}[days]          # days, ISO weeks, months
    if days == 30:
        by_day = {p["period"]: p for p in periods["rows"]}
        for day, amount in invoiced.items():
            assert close(by_day[day.isoformat()]["invoiced"], amount)
    age = {a["age"]: a for a in rows(rep, "ageing")}
    for name, (n, amount) in ageing.items():
        assert age[name]["invoices"] == n and close(age[name]["outstanding"], amount), name
    metrics = db.collect(NOW)["metrics"]
    overdue = [a for name, a in age.items() if name != "not overdue"]
    assert sum(a["invoices"] for a in overdue) == metrics["sepa.invoice.overdue.count"]
    assert close(sum(a["outstanding"] for a in overdue), metrics["sepa.invoice.overdue.amount"])
    assert close(rep["tables"]["ageing"]["total"]["outstanding"], metrics["sepa.invoice.outstanding.amount"])
    got = {oracle._fold(r["status"]) if r["status"] not in ("(none)", "(blank)") else
           (None if r["status"] == "(none)" else ""): (r["retries"], r["attempts"]) for r in rows(rep, "retries")}
    assert got == retries


def test_mandates_matches_truth_and_the_collector(prod):
    db, data, cfg = prod
    rep = report(cfg, "mandates")
    lifecycle, statuses, expiring = report_oracle.mandates(data, NOW, 30)
    assert {r["event"]: (r["current"], r["previous"]) for r in rows(rep, "lifecycle")} == lifecycle
    got = {None if r["status"] == "(none)" else "" if r["status"] == "(blank)" else oracle._fold(r["status"]):
           r["mandates"] for r in rows(rep, "statuses")}
    assert got == statuses
    assert {int(r["within"].split()[0]): r["mandates"] for r in rows(rep, "expiring")} == expiring
    doc = db.collect(NOW)
    assert expiring[30] == doc["metrics"]["sepa.mandate.expiring_30d"]
    health = {r["check"]: r["count"] for r in rows(rep, "health")}
    assert health["dormant (no use in 36 months)"] == doc["metrics"]["sepa.mandate.dormant"]
    assert health["invalid IBAN (active)"] == doc["metrics"]["sepa.mandate.iban_invalid"]
    banks = {b["bank"]: (b["mandates"], b["failed_entries_30d"]) for b in rows(rep, "banks")}
    assert banks == {b["{#BANK}"]: (b["mandates"], b["failed_entries_30d"]) for b in doc["discovery"]["banks"]}
    assert all(len(code) == 7 and code[2] == ":" for code in banks)


def test_daily_matches_truth(prod):
    db, data, cfg = prod
    rep = report(cfg, "daily")
    methods, batches, failures, users = report_oracle.daily(data, NOW)
    top = sorted(methods.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(r["method"], r["errors"]) for r in rows(rep, "errors")] == top
    assert rows(rep, "users") == [{"window": "last 24 hours", "users": users}] and users > 50
    assert users == db.collect(NOW)["metrics"]["sepa.users.active_24h"]         # the figure Zabbix has
    assert {oracle._fold(r["status"]): r["batches"] for r in rows(rep, "batches")} == batches
    assert {oracle._fold(r["job"]): r["failures"] for r in rows(rep, "scheduler")} == failures
    assert rep["days"] is None


def test_performance_reports_every_section_within_its_declaration(prod):
    db, data, cfg = prod
    rep = report(cfg, "performance", "--runs", "2")
    from zabbix_sepa import registry
    declared = {f"{g.name}.{s.name}": s.max_statements for g in registry.groups() for s in g.sections if s.needs_db}
    sections = {r["section"]: r for r in rows(rep, "sections")}
    assert set(sections) == set(declared)
    assert all(r["ms"] is not None and r["statements"] <= r["declared"] for r in sections.values()), sections
    targets = {t["measure"]: t for t in rows(rep, "targets")}
    assert targets["statements"]["met"] == "yes"
    assert targets["whole collection (s)"]["value"] > 0 and targets["peak memory (MB)"]["value"] > 10
    assert {r["cadence"] for r in sections.values()} == {"minute", "hour"}
    assert targets["minute sections (s)"]["met"] == targets["hourly sections (s)"]["met"] == "yes"     # prod is small


def test_csv_is_one_table_per_file_and_parses_back(prod, tmp_path):
    db, data, cfg = prod
    rep = report(cfg, "operational")
    rc, out, err = run_cli("report", "operational", "--config", cfg, "--now", NOW_ARG, "--format", "csv",
                           "--table", "batches")
    assert rc == 0, err
    parsed = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [r["batch"] for r in parsed] == [r["batch"] for r in rows(rep, "batches")]
    assert [int(r["failed_entries"]) for r in parsed] == [r["failed_entries"] for r in rows(rep, "batches")]
    # several tables and no --table: a clear error, or one file per table with --output
    rc, out, err = run_cli("report", "operational", "--config", cfg, "--now", NOW_ARG, "--format", "csv")
    assert rc == 2 and "--table" in err and "days, statuses, batches" in err
    target = tmp_path / "ops.csv"
    rc, out, err = run_cli("report", "operational", "--config", cfg, "--now", NOW_ARG, "--format", "csv",
                           "--output", str(target))
    assert rc == 0, err
    assert sorted(p.name for p in tmp_path.glob("ops-*.csv")) == ["ops-batches.csv", "ops-days.csv", "ops-statuses.csv"]
    raw = (tmp_path / "ops-days.csv").read_bytes()
    assert raw.count(b"\r\n") == 32 and raw.count(b"\n") == 32          # RFC 4180: CRLF line ends
    days = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert len(days) == 31 and set(days[0]) == {"day", "batches", "entries", "failed_entries", "amount"}
    rc, _, err = run_cli("report", "operational", "--config", cfg, "--format", "csv", "--table", "nope")
    assert rc == 2 and "no table 'nope'" in err and "batches" in err


def test_html_renders_in_chromium_with_its_charts(prod, tmp_path):
    db, data, cfg = prod
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    pages = {}
    for kind in ("executive", "financial", "operational"):
        path = tmp_path / f"{kind}.html"
        rc, _, err = run_cli("report", kind, "--config", cfg, "--now", NOW_ARG, "--days", "90", "--format", "html",
                             "--output", str(path))
        assert rc == 0, err
        text = path.read_text()
        assert "<script" not in text.lower() and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        pages[kind] = path
    opts = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,1600",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"):
        opts.add_argument(arg)
    opts.binary_location = "/usr/bin/chromium"
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        os.makedirs(ARTIFACTS, exist_ok=True)
        for kind, path in pages.items():
            browser.get(f"file://{path}")
            charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
            assert charts, kind
            for chart in charts:
                assert chart.size["width"] > 600 and chart.size["height"] > 200
                drawn = chart.find_elements(By.CSS_SELECTOR, "rect, polyline")
                assert len(drawn) > 3, kind            # bars or lines, and the legend
            assert browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
            browser.save_screenshot(os.path.join(ARTIFACTS, f"report-{kind}.png"))
    finally:
        browser.quit()


def test_no_personal_data_in_any_report(site, tmp_path):
    from tests.integration.test_privacy import assert_clean, seed
    seed(site)
    cfg = write_config(tmp_path, site)
    for kind in ("executive", "operational", "financial", "mandates", "performance", "daily"):
        for fmt in ("md", "json", "html"):
            rc, out, err = run_cli("--debug", "report", kind, "--config", cfg, "--now", NOW_ARG, "--format", fmt)
            assert rc == 0, (kind, fmt, err)
            assert_clean(out + err)
        rc, out, err = run_cli("report", kind, "--config", cfg, "--now", NOW_ARG, "--format", "csv",
                               "--output", str(tmp_path / f"{kind}.csv"))
        assert rc == 0, err
        for path in tmp_path.glob(f"{kind}*.csv"):
            assert_clean(path.read_text())


def test_progress_on_stderr_only_in_a_terminal(prod):
    import pty
    import subprocess
    import sys
    db, data, cfg = prod
    master, slave = pty.openpty()
    proc = subprocess.run([sys.executable, "-m", "zabbix_sepa", "report", "financial", "--config", cfg,
                           "--now", NOW_ARG], stdout=subprocess.PIPE, stderr=slave, timeout=60, cwd=ROOT)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:                 # the terminal closed: all read
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.returncode == 0
    assert b"report financial: invoices of the period ..." in seen and b"receivables" in seen
    rc, out, err = run_cli("report", "financial", "--config", cfg, "--now", NOW_ARG)   # not a terminal
    assert rc == 0 and err == ""


def test_missing_optional_table_and_unreachable_database(make_site, tmp_path):
    site = make_site(skip=("SEPA Payment Retry", "Activity Log"))
    rep = report(write_config(tmp_path, site), "financial")
    assert rep["tables"]["retries"]["rows"] == []
    assert "does not exist" in rep["tables"]["retries"]["note"]
    users = report(write_config(tmp_path, site), "daily")["tables"]["users"]
    assert users["rows"] == [] and "`tabActivity Log` does not exist" in users["note"]
    cfg = write_config(tmp_path, site, database=dict(site.server.site_database_mapping(site.name), password="wrong"))
    rc, out, err = run_cli("report", "operational", "--config", cfg, "--now", NOW_ARG)
    assert rc == 1 and out == ""
    assert "access denied for the configured user" in err and "Traceback" not in err
    rc, out, err = run_cli("report", "operational", "--config", cfg, "--days", "0")
    assert rc == 2 and "argument --days: must be between 1 and 3660, got 0" in err


def test_executive_report_is_made_when_zabbix_cannot_be_asked(site, tmp_path):
    with socket.socket() as s:                     # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = write_config(tmp_path, site, zabbix={"api": {"url": f"http://127.0.0.1:{port}/api_jsonrpc.php",
                                                       "user": "Admin", "password": "zabbix"}})
    rc, out, err = run_cli("report", "executive", "--config", cfg, "--now", NOW_ARG, "--format", "json")
    assert rc == 0, err
    alerts = json.loads(out)["tables"]["alerts"]
    assert alerts["rows"] == [] and "cannot connect to" in alerts["note"]
    assert "alert statistics: cannot connect" in err


def test_daily_report_is_mailed_through_smtp(prod, tmp_path):
    import email
    import email.policy
    db, data, _ = prod
    sink = SMTPSink()
    try:
        cfg = write_config(tmp_path, db, alerts={"email": {"smtp_server": "127.0.0.1", "smtp_port": sink.port,
                                                           "smtp_helo": "monitor.example.org",
                                                           "smtp_email": "zabbix@example.org"}})
        rc, out, err = run_cli("report", "daily", "--config", cfg, "--now", NOW_ARG,
                               "--mail-to", "ops@example.org", "--mail-to", "treasurer@example.org")
        assert rc == 0, err
        assert "mailed the daily report of test-site to ops@example.org, treasurer@example.org" in out
        (mail,) = sink.messages
        assert mail["helo"] == "monitor.example.org" and "zabbix@example.org" in mail["from"]
        assert len(mail["to"]) == 2
        msg = email.message_from_bytes(mail["data"], policy=email.policy.default)
        assert msg["Subject"] == "Verenigingen daily report: test-site, 2026-11-22"
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        top_method = report_oracle.daily(data, NOW)[0]
        best = sorted(top_method.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        assert best in text and best in html
        assert "Direct debit batches modified in the last 7 days" in text and "<table>" in html
        assert "Active users, last 24 hours" in text and "Active users, last 24 hours" in html
    finally:
        sink.close()
    # the SMTP server gone: a clear error, exit 1, and the report on stdout instead of lost
    rc, out, err = run_cli("report", "daily", "--config", cfg, "--now", NOW_ARG, "--mail-to", "ops@example.org")
    assert rc == 1 and f"cannot reach the SMTP server 127.0.0.1:{sink.port}" in err
    assert out.startswith("# Verenigingen daily report: test-site")


def test_the_daily_report_goes_to_each_sites_configured_recipients(prod, tmp_path):
    """What the installed schedule runs: `report daily --all --mail`, one mail per site to its
    reports.daily.mail_to (a site's own list replaces the global one; an empty one opts out)."""
    import email
    import email.policy
    import yaml
    db, _, _ = prod
    database = db.server.site_database_mapping(db.name)
    sink = SMTPSink()
    try:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({
            "timezone": "Europe/Amsterdam",
            "alerts": {"email": {"smtp_server": "127.0.0.1", "smtp_port": sink.port}},
            "reports": {"daily": {"mail_to": "finance@example.org", "at": "06:30"}},
            "sites": [{"name": "site-a", "database": database},
                      {"name": "site-b", "database": database,
                       "reports": {"daily": {"mail_to": ["treasurer@b.example.org", "board@b.example.org"]}}},
                      {"name": "site-c", "database": database, "reports": {"daily": {"mail_to": []}}}]}))
        path.chmod(0o600)
        rc, out, err = run_cli("report", "daily", "--config", str(path), "--now", NOW_ARG, "--all", "--mail")
        assert rc == 0, err
        assert out.splitlines() == [
            "mailed the daily report of site-a to finance@example.org through 127.0.0.1:%d" % sink.port,
            "mailed the daily report of site-b to board@b.example.org, treasurer@b.example.org "
            "through 127.0.0.1:%d" % sink.port]
        subjects = {email.message_from_bytes(m["data"], policy=email.policy.default)["Subject"]: len(m["to"])
                    for m in sink.messages}
        assert subjects == {"Verenigingen daily report: site-a, 2026-11-22": 1,
                            "Verenigingen daily report: site-b, 2026-11-22": 2}

        rc, out, err = run_cli("report", "daily", "--config", str(path), "--site", "site-c", "--mail")
        assert rc == 2 and "site 'site-c' has no reports.daily.mail_to" in err and len(sink.messages) == 2
    finally:
        sink.close()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_daily_report_through_a_relay_that_requires_tls_and_a_login(prod, tmp_path, security):
    db, _, _ = prod
    sink = SMTPSink(tls=security, login=("reports", "pa55 word"))
    secret = tmp_path / "smtp-password"
    secret.write_text("pa55 word\n")
    secret.chmod(0o600)
    mail = {"smtp_server": "127.0.0.1", "smtp_port": sink.port, "security": security, "verify": False,
            "user": "reports", "password_file": str(secret)}
    try:
        cfg = write_config(tmp_path, db, alerts={"email": mail})
        rc, out, err = run_cli("report", "daily", "--config", cfg, "--now", NOW_ARG, "--mail-to", "ops@example.org")
        assert rc == 0, err
        (sent,) = sink.messages
        assert sent["tls"] and sent["user"] == "reports"

        # the certificate checked (the default): a self-signed one is refused, clearly
        cfg = write_config(tmp_path, db, alerts={"email": dict(mail, verify=True)})
        rc, out, err = run_cli("report", "daily", "--config", cfg, "--now", NOW_ARG, "--mail-to", "ops@example.org")
        assert rc == 1 and f"TLS with the SMTP server 127.0.0.1:{sink.port} failed" in err
        assert "CERTIFICATE_VERIFY_FAILED" in err and "Traceback" not in err

        # a wrong password: the login is named, the password is not
        secret.write_text("wrong\n")
        cfg = write_config(tmp_path, db, alerts={"email": mail})
        rc, out, err = run_cli("report", "daily", "--config", cfg, "--now", NOW_ARG, "--mail-to", "ops@example.org")
        assert rc == 1 and "refused the login of alerts.email.user 'reports': 535" in err, err
        assert "wrong" not in err and len(sink.messages) == 1
    finally:
        sink.close()


def test_a_relay_requiring_starttls_refuses_a_plain_config(prod, tmp_path):
    db, _, _ = prod
    sink = SMTPSink(tls="starttls", login=("reports", "pw"))
    try:
        cfg = write_config(tmp_path, db, alerts={"email": {"smtp_server": "127.0.0.1", "smtp_port": sink.port}})
        rc, out, err = run_cli("report", "daily", "--config", cfg, "--now", NOW_ARG, "--mail-to", "ops@example.org")
        assert rc == 1 and "did not take the report" in err and "STARTTLS" in err
        assert sink.messages == [] and sink.refused
    finally:
        sink.close()
