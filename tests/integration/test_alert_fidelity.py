"""Alert fidelity, end to end on a real Zabbix 6.0.

`zabbix-sepa zabbix setup` configures the server for one site per scenario;
each site is the healthy dataset of zabbix_sepa.dataset.scenarios with one
fault; `zabbix-sepa send --all` pushes documents on a short cadence at the
real time; the API then shows exactly which problems are open, per host:
the healthy site none at all, every fault exactly its problems.
Also: recovery with hysteresis, the collector's own failure modes (database
unreachable: one problem; silent: nodata), escalation through the webhook
with and without acknowledgement, and one scenario through the real agent.
"""
import datetime as dt
import email
import email.policy
import json
import os
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import yaml

from tests import mariadb, zabbix
from tests.browser import frontend, widget_texts
from tests.redis_server import RedisServer
from tests.rq_data import Writer
from tests.smtp import SMTPSink
from tests.conftest import SiteDB, run_cli
from zabbix_sepa.dataset import scenarios
from zabbix_sepa.groups.batches import STUCK_HOURS, UNPROCESSED_HOURS
from zabbix_sepa.zabbix import dashboard as template_dashboard, fleet as fleet_dashboard

pytestmark = pytest.mark.zabbix

DISASTER, HIGH, AVERAGE, WARNING, INFO = 5, 4, 3, 2, 1
PREFIX = "zsepa-fid-"
ARTIFACTS = os.environ.get("ZABBIX_SEPA_ARTIFACTS",
                           os.path.join(os.path.dirname(os.path.dirname(__file__)), "artifacts"))
ADMIN = "zsepa-admin"
# the overview's widgets: a value per registry metric with `overview` + a graph each
WIDGETS = len(template_dashboard.VALUES) + len(template_dashboard.GRAPHS)
BENCH = "frappe-bench"    # the fleet's sites share one bench, whose Redis has a live worker and no job
SMTP_LOGIN = ("zabbix@example.org", "relay pass")


# How long a discovered batch may wait in each status (the template's default macros);
# in any other status a batch has no per-batch time limit.
WAIT_LIMIT_HOURS = {"Draft": STUCK_HOURS.default, "Generated": STUCK_HOURS.default,
                    "Submitted": UNPROCESSED_HOURS.default}


def waited_too_long(batches):
    return {(f"SEPA batch {name}: {status} for too long", INFO)
            for name, status, hours in batches if hours > WAIT_LIMIT_HOURS.get(status, float("inf"))}


def expected(fault_result):
    """scenario -> the exact set of (problem name, severity) it must open."""
    b = fault_result
    every_status = b.get("batches_in_every_status", [])
    return {
        "healthy": set(),
        "failed_batch": {("SEPA: failed direct debit batches", HIGH), ("SEPA: batch success rate low", AVERAGE)},
        "stuck_draft_batch": {("SEPA: stuck direct debit batches", AVERAGE),
                              (f"SEPA batch {b.get('stuck_draft_batch')}: Draft for too long", INFO)},
        "submitted_unprocessed": {("SEPA: stuck direct debit batches", AVERAGE),
                                  (f"SEPA batch {b.get('submitted_unprocessed')}: Submitted for too long", INFO)},
        # Draft/Generated 4 h, 100 h, 150 h and Submitted 100 h, 150 h wait too long; nothing for
        # Partially Collected, Processed, Failed, Rolled Back or Cancelled batches, whatever their age.
        "batches_in_every_status": {("SEPA: failed direct debit batches", HIGH),
                                    ("SEPA: stuck direct debit batches", AVERAGE),
                                    ("SEPA: batch success rate low", AVERAGE)} | waited_too_long(every_status),
        "mandate_expiry_wave": {("SEPA: mandates expiring within 30 days", WARNING)},
        "dormant_mandates": {("SEPA: dormant mandates", WARNING)},
        "invalid_ibans": {("SEPA: active mandates with an invalid IBAN", AVERAGE)},
        "members_without_mandate": {("SEPA: members paying by SEPA without an active mandate", WARNING)},
        "error_storm": {("SEPA: error rate high", DISASTER)},
        "sepa_errors": {("SEPA: SEPA-related errors", WARNING)},
        "dead_scheduler": {("SEPA: scheduler inactive", HIGH)},
        "stuck_dues": {("SEPA: stuck dues schedules", AVERAGE)},
        "collection_rate_drop": {("SEPA: collection rate low", AVERAGE)},
        "required_table_missing": {("SEPA: hourly collection partial", WARNING)},   # mandate usage: hourly
        "optional_table_missing": set(),       # metrics.md: a missing optional table is no failure
        "database_unreachable": {("SEPA: collector cannot reach the database", HIGH)},
    }


class Receiver:
    """A local HTTP endpoint standing in for Slack: records what the webhook media type posts."""

    def __init__(self):
        self.posts = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def about(self, host):
        return [(p.get("channel"), p["text"]) for p in list(self.posts) if f"Site: {host}" in p["text"]]

    def close(self):
        self.server.shutdown()


def host_problems(hostid, skip_dependent=False):
    params = {"hostids": [hostid], "filter": {"value": 1}, "output": ["description", "priority"],
              "expandDescription": True}
    if skip_dependent:              # an API flag: present means on, whatever its value
        params["skipDependent"] = True
    triggers = zabbix.api("trigger.get", params)
    return {(t["description"], int(t["priority"])) for t in triggers}


def wait_for(what, predicate, timeout=90, step=1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if predicate(value) or time.monotonic() > deadline:
            return value
        time.sleep(step)


def utc_now():
    return dt.datetime.utcnow().replace(microsecond=0)


def push(cfg, now=None):
    rc, out, err = run_cli("send", "--config", cfg, "--all", "--now",
                           (now or utc_now()).strftime("%Y-%m-%d %H:%M:%S"), timeout=120)
    return rc, out, err


class Fleet:
    """Sites (databases + Zabbix hosts made by `zabbix setup`) for every scenario."""

    def __init__(self, tmp, receiver, smtp):
        self.dbs = []
        self.smtp = smtp
        self.redis = None
        try:
            self._build(tmp, receiver)
        except BaseException:
            self.close()
            raise

    def _build(self, tmp, receiver):
        self.server = mariadb.ensure_server()
        zabbix.ensure_stack()
        self.redis = self.healthy_bench()
        self.tmp, self.now = tmp, utc_now()
        self.smtp_password = os.path.join(tmp, "smtp-password")
        with open(self.smtp_password, "w") as fh:
            fh.write(SMTP_LOGIN[1] + "\n")
        os.chmod(self.smtp_password, 0o600)
        self.faults, self.sites, self.db = {}, {}, {}
        self.cleanup_zabbix()
        for name in ["healthy", *scenarios.FAULTS, "recovery", "esc-ack", "esc-noack", "outage", "batches-move"]:
            db = self.database(name)
            fault = {"recovery": "failed_batch", "esc-ack": "failed_batch", "esc-noack": "failed_batch",
                     "outage": "failed_batch", "batches-move": "batches_in_every_status"}.get(name, name)
            if fault in scenarios.FAULTS:
                self.faults[name] = scenarios.FAULTS[fault](db.scenario)
            self.sites[name] = {"name": PREFIX + name, "database": self.server.site_database_mapping(db.name)}
        self.sites["database_unreachable"] = {"name": PREFIX + "database_unreachable", "database": dict(
            self.server.site_database_mapping(self.dbs[0].name), password="wrong-password")}
        silent_db = self.database("silent")
        self.silent = {"name": PREFIX + "silent", "database": self.server.site_database_mapping(silent_db.name),
                       "thresholds": {"nodata_minutes": 0.5},     # silent soon: it speaks every 10 s
                       "cadences": {"minute": {"interval": 10}}}
        zabbix.api("user.create", {"username": ADMIN, "passwd": secrets.token_urlsafe(16), "roleid": "1",
                                   "usrgrps": [{"usrgrpid": self.guests()}]})
        self.receiver = receiver
        self.cfg = self.write("fleet.yaml", list(self.sites.values()) + [self.silent])
        self.outage = self.sites.pop("outage")          # pushed by its own config: the test breaks it
        self.push_cfg = self.write("push.yaml", list(self.sites.values()))
        self.outage_cfg = self.write("outage.yaml", [self.outage])
        self.silent_cfg = self.write("silent.yaml", [self.silent])
        rc, out, err = run_cli("zabbix", "setup", "--config", self.cfg, timeout=300)
        assert rc == 0, out + err
        self.hostids = {h["host"]: h["hostid"] for h in zabbix.api(
            "host.get", {"search": {"host": PREFIX}, "output": ["host"]})}
        (admin,) = zabbix.api("user.get", {"filter": {"username": [ADMIN]}})
        (hook,) = zabbix.api("mediatype.get", {"filter": {"name": ["SEPA webhook"]}})
        (mail,) = zabbix.api("mediatype.get", {"filter": {"name": ["SEPA Email"]}})
        every_severity = {"active": 0, "severity": 63, "period": "1-7,00:00-24:00"}
        zabbix.api("user.update", {"userid": admin["userid"], "medias": [
            {"mediatypeid": hook["mediatypeid"], "sendto": "#admins", **every_severity},
            {"mediatypeid": mail["mediatypeid"], "sendto": ["sepa-admin@example.org"], **every_severity}]})
        zabbix.reload_config_cache()

    @staticmethod
    def healthy_bench():
        """The bench's redis_queue as a quiet bench has it: its three queues known, empty, and one
        worker listening to them with a fresh heartbeat."""
        import random
        redis = RedisServer()
        queues = [f"{BENCH}:{q}" for q in ("short", "default", "long")]
        with redis.admin() as conn:
            Writer(conn, time.time(), random.Random(1), ()).worker("frappe-worker-1", queues, heartbeat_before=5)
            conn.call("SADD", "rq:queues", *(f"rq:queue:{q}" for q in queues))
        return redis

    @staticmethod
    def guests():
        return zabbix.api("usergroup.get", {"filter": {"name": ["Guests"]}})[0]["usrgrpid"]

    def database(self, name):
        db = SiteDB(self.server, mariadb.unique_name(f"fid{name}"), schema=False)
        db.scenario = scenarios.healthy(db.admin, self.now)
        self.dbs.append(db)
        self.db[name] = db
        return db

    def write(self, filename, sites):
        path = os.path.join(self.tmp, filename)
        with open(path, "w") as fh:
            yaml.safe_dump({"timezone": "UTC", "spool_dir": os.path.join(self.tmp, "spool"),
                            "redis": {"host": "127.0.0.1", "port": self.redis.port, "bench_id": BENCH},
                            "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT,
                                       "api": {"url": zabbix.API_URL, "user": "Admin", "password": "zabbix"}},
                            "alerts": {"admins": [ADMIN], "escalate_after_minutes": 1,
                                       "email": {"smtp_server": "127.0.0.1", "smtp_port": self.smtp.port,
                                                 "smtp_email": "zabbix@example.org", "security": "starttls",
                                                 "verify": False, "user": SMTP_LOGIN[0],
                                                 "password_file": self.smtp_password},
                                       "webhook": {"url": self.receiver.url, "channel": "#escalation"}},
                            "sites": sites}, fh)
        os.chmod(path, 0o600)
        return path

    def cycle(self):
        rc, out, err = push(self.push_cfg)
        push(self.outage_cfg)
        zabbix.reload_config_cache()
        return rc, out, err

    def problems(self, name):
        return host_problems(self.hostids[PREFIX + name])

    @staticmethod
    def cleanup_zabbix():
        for method, key, idkey, names in (("action", "name", "actionid", ["SEPA problems"]),
                                          ("user", "username", "userid", [ADMIN, "sepa-escalation"]),
                                          ("dashboard", "name", "dashboardid", [fleet_dashboard.NAME])):
            found = zabbix.api(f"{method}.get", {"filter": {key: names}, "output": [idkey]})
            if found:
                zabbix.api(f"{method}.delete", [f[idkey] for f in found])
        hosts = zabbix.api("host.get", {"search": {"host": PREFIX}, "output": ["hostid"]})
        if hosts:
            zabbix.api("host.delete", [h["hostid"] for h in hosts])

    def close(self):
        self.cleanup_zabbix()
        for db in self.dbs:
            db.drop()
        if self.redis:
            self.redis.stop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    receiver, smtp = Receiver(), SMTPSink(tls="starttls", login=SMTP_LOGIN)   # a relay as most are
    f = Fleet(str(tmp_path_factory.mktemp("fidelity")), receiver, smtp)
    try:
        push(f.silent_cfg)                     # the silent site speaks once, then never again
        want = dict(expected(f.faults), outage=expected(f.faults)["failed_batch"])
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:     # a document every few seconds, as a busy timer would
            f.cycle()
            if all(f.problems(name) >= problems for name, problems in want.items()):
                break
            time.sleep(2)
        for _ in range(3):                     # a few more values: nothing else may appear
            f.cycle()
            time.sleep(2)
        yield f
    finally:
        f.close()
        receiver.close()
        smtp.close()


@pytest.mark.parametrize("scenario", ["healthy", *scenarios.FAULTS, "database_unreachable"])
def test_exactly_the_expected_problems(fleet, scenario):
    assert fleet.problems(scenario) == expected(fleet.faults)[scenario]


def test_a_batch_that_moves_on_ends_its_problem(fleet):
    """A waiting batch past its limit is processed (still listed), processed and dated back
    (it leaves the list), or cancelled (it leaves the list): each problem ends at the next
    document, without waiting for the discovery's lifetime; the others stay."""
    batches = fleet.faults["batches-move"]
    late = waited_too_long(batches)
    assert wait_for(lambda: fleet.problems("batches-move"), lambda p: p >= late) >= late
    by = {(status, hours): name for name, status, hours in batches}
    moved = {by["Submitted", 150]: "processed", by["Draft", 100]: "dated back", by["Generated", 150]: "cancelled"}
    db = fleet.db["batches-move"]
    with db.admin.cursor() as cur:
        for name, how in moved.items():
            cur.execute("UPDATE `tabDirect Debit Batch` SET status = %s, docstatus = %s, modified = %s, "
                        "batch_date = IF(%s, batch_date - INTERVAL 10 DAY, batch_date) WHERE name = %s",
                        ("Cancelled" if how == "cancelled" else "Processed", 2 if how == "cancelled" else 1,
                         utc_now(), how == "dated back", name))
    db.admin.commit()
    still = {p for p in late if not any(p[0] == f"SEPA batch {name}: {status} for too long"
                                        for name, status, _ in batches if name in moved)}
    assert len(still) == len(late) - len(moved)

    def after_a_cycle():
        fleet.cycle()
        return {p for p in fleet.problems("batches-move") if p[1] == INFO}
    assert wait_for(after_a_cycle, lambda p: p == still, timeout=60, step=2) == still


def test_event_names_state_value_and_threshold(fleet):
    problems = zabbix.api("problem.get", {"hostids": [fleet.hostids[PREFIX + "error_storm"]]})
    assert [p["name"] for p in problems] == ["SEPA: more than 50 errors in the last hour"]
    (trigger,) = zabbix.api("trigger.get", {"triggerids": [problems[0]["objectid"]], "output": ["opdata"],
                                            "expandData": True, "selectItems": ["lastvalue"]})
    assert trigger["opdata"] == "Errors in 1h: {ITEM.LASTVALUE1}"
    assert trigger["items"][0]["lastvalue"] == "60"         # what the problem view shows as operational data


def test_recovery_respects_hysteresis(fleet):
    site = fleet.db["recovery"].scenario
    batch = fleet.faults["recovery"]
    site.execute("UPDATE `tabDirect Debit Batch` SET status = 'Processed' WHERE name = %s", (batch,))
    site.commit()
    fleet.cycle()
    time.sleep(3)
    # one good value is not enough: the recovery expressions look at the last three
    assert ("SEPA: failed direct debit batches", HIGH) in fleet.problems("recovery")
    for _ in range(3):
        fleet.cycle()
        time.sleep(2)
    assert wait_for(lambda: fleet.problems("recovery"), lambda p: not p, timeout=30) == set()


def test_executive_report_counts_the_hosts_problems(fleet):
    """The executive report reads the alert statistics of the site's host from the API: problems
    by severity, how many are resolved, and the mean time to resolve."""
    def alerts(name):
        rc, out, err = run_cli("report", "executive", "--config", fleet.cfg, "--site", PREFIX + name,
                               "--days", "1", "--format", "json", timeout=120)
        assert rc == 0, err
        return {r["severity"]: r for r in json.loads(out)["tables"]["alerts"]["rows"]}

    open_ = alerts("failed_batch")
    assert {k: (r["problems"], r["resolved"], r["open"]) for k, r in open_.items()} == {
        "High": (1, 0, 1), "Average": (1, 0, 1), "All": (2, 0, 2)}
    assert open_["All"]["mttr_hours"] is None
    # the recovery site's problems were fixed by the test before this one
    resolved = wait_for(lambda: alerts("recovery"), lambda a: a.get("All", {}).get("resolved") == 2, timeout=30)
    assert resolved["All"]["problems"] == 2 and resolved["All"]["open"] == 0
    assert 0 < resolved["All"]["mttr_hours"] < 1


def test_database_outage_leaves_one_visible_problem(fleet):
    """A site with open business problems loses its database: one new problem, and the business
    problems are suppressed by the dependency (Zabbix's 'skip dependent' view shows only the cause)."""
    business = expected(fleet.faults)["failed_batch"]
    assert fleet.problems("outage") == business
    with open(fleet.outage_cfg) as fh:
        raw = yaml.safe_load(fh)
    raw["sites"][0]["database"]["password"] = "wrong-password"
    with open(fleet.outage_cfg, "w") as fh:
        yaml.safe_dump(raw, fh)
    hostid = fleet.hostids[PREFIX + "outage"]
    cause = {("SEPA: collector cannot reach the database", HIGH)}
    for _ in range(2):
        fleet.cycle()
    visible = wait_for(lambda: host_problems(hostid, skip_dependent=True), lambda p: p == cause, timeout=30)
    assert visible == cause
    # underneath, the business problems stay open (not new ones): their items are unsupported now,
    # so Zabbix keeps their last state until the database answers again
    assert host_problems(hostid) == cause | business


def test_silent_collector_raises_nodata(fleet):
    hostid = fleet.hostids[PREFIX + "silent"]
    problems = wait_for(lambda: host_problems(hostid), lambda p: bool(p), timeout=150, step=3)
    assert problems == {("SEPA: no data from the collector", HIGH)}


def test_escalation_only_without_acknowledgement(fleet):
    ack, noack = PREFIX + "esc-ack", PREFIX + "esc-noack"
    events = zabbix.api("problem.get", {"hostids": [fleet.hostids[ack]], "output": ["eventid"]})
    assert events
    zabbix.api("event.acknowledge", {"eventids": [e["eventid"] for e in events], "action": 6,
                                     "message": "on it (zabbix-sepa test)"})
    # step 2 comes one escalation period (1 minute here) after step 1
    posts = wait_for(lambda: fleet.receiver.about(noack), lambda p: any(c == "#escalation" for c, _ in p),
                     timeout=150, step=3)
    assert any(c == "#admins" and "SEPA problem:" in t for c, t in posts), posts
    assert any(c == "#escalation" and "SEPA problem:" in t for c, t in posts), posts
    time.sleep(5)
    acked = fleet.receiver.about(ack)
    assert any(c == "#admins" and "SEPA problem:" in t for c, t in acked), acked
    assert not any(c == "#escalation" for c, _ in acked), acked


def mails_about(fleet, host):
    """Subject and body of every mail Zabbix sent about `host` (it encodes both as base64)."""
    out = []
    for m in list(fleet.smtp.messages):
        msg = email.message_from_bytes(m["data"], policy=email.policy.default)
        text = f"{msg['Subject']}\n{msg.get_content()}"
        if f"Site: {host}" in text:
            assert m["tls"] and m["user"] == SMTP_LOGIN[0]      # the sink takes nothing else anyway
            out.append((m["to"], text))
    return out


def test_severity_routing(fleet):
    """Warning and up reach the admins (mail through a relay requiring STARTTLS and a login, and
    chat), Information only the dashboard; only
    High and up escalate (the esc-noack site has a High and an Average problem, unacknowledged)."""
    host = PREFIX + "stuck_draft_batch"         # Average "stuck batches" + Information "Draft for too long"
    mails = wait_for(lambda: mails_about(fleet, host), lambda m: any("stuck batches" in t for _, t in m),
                     timeout=60)
    assert any("stuck batches" in t and "sepa-admin@example.org" in str(to) for to, t in mails), mails
    posts = fleet.receiver.about(host)
    assert any("stuck batches" in t for _, t in posts), posts
    assert not [t for _, t in mails + posts if "SEPA batch " in t]    # "SEPA batch X in Draft for more than 2h"
    storm = PREFIX + "error_storm"
    mails = wait_for(lambda: mails_about(fleet, storm), lambda m: any("Severity: Disaster" in t for _, t in m),
                     timeout=60)
    assert any("Severity: Disaster" in t for _, t in mails), mails
    noack = PREFIX + "esc-noack"
    escalated = wait_for(lambda: [t for c, t in fleet.receiver.about(noack) if c == "#escalation"],
                         lambda e: any("failed in 24h" in t for t in e), timeout=150, step=3)
    assert any("failed in 24h" in t for t in escalated), escalated
    time.sleep(5)
    escalated = [t for c, t in fleet.receiver.about(noack) if c == "#escalation"]
    assert not [t for t in escalated if "success rate" in t], escalated      # Average: not escalated
    sent = [t for c, t in fleet.receiver.about(noack) if c == "#admins"]
    assert any("success rate" in t for t in sent), sent                      # but sent to the admins


def test_one_scenario_through_the_real_agent(fleet, tmp_path):
    db = fleet.database("agent")
    batch = scenarios.failed_batch(db.scenario)
    name = PREFIX + "agent"
    cfg_path = fleet.write("agent.yaml", [{"name": name, "database": fleet.server.site_database_mapping(db.name)}])
    zabbix.install_userparameters(cfg_path)
    rc, out, err = run_cli("zabbix", "setup", "--config", cfg_path, "--agent", "--agent-port", str(zabbix.AGENT_PORT),
                           timeout=300)
    assert rc == 0, out + err
    (host,) = zabbix.api("host.get", {"filter": {"host": [name]}})
    fleet.hostids[name] = host["hostid"]
    masters = zabbix.api("item.get", {"hostids": [host["hostid"]], "search": {"key_": "sepa.collect"},
                                      "filter": {"type": "0"}})      # the two agent items, minute and hour
    assert sorted(m["key_"] for m in masters) == ["sepa.collect.hour[{$SEPA.SITE}]", "sepa.collect[{$SEPA.SITE}]"]
    zabbix.reload_config_cache()

    def poll():
        try:
            zabbix.api("task.create", [{"type": 6, "request": {"itemid": m["itemid"]}} for m in masters])
        except zabbix.ApiError:
            pass                       # the items are not in the server's cache yet
        time.sleep(3)
        return host_problems(host["hostid"])

    want = {("SEPA: failed direct debit batches", HIGH), ("SEPA: batch success rate low", AVERAGE)}
    assert wait_for(poll, lambda p: p == want, timeout=120) == want
    assert batch


def test_a_collection_longer_than_the_agents_timeout(fleet):
    """A site whose collection takes 5 s (a hung database, collect_timeout 5) through the real
    agent, whose own Timeout is 3 s. Zabbix 7.0 gives the check the template's per-item
    timeout, so the document arrives; Zabbix 6.0 has no such timeout: the item is unsupported."""
    silent = mariadb.SilentDatabase()
    name = PREFIX + "slow"
    try:
        cfg_path = fleet.write("slow.yaml", [{"name": name, "collect_timeout": 5, "database": {
            "host": "127.0.0.1", "port": silent.port, "name": "x", "user": "u", "password": "p"}}])
        zabbix.install_userparameters(cfg_path)
        rc, out, err = run_cli("zabbix", "setup", "--config", cfg_path, "--agent", "--agent-port",
                               str(zabbix.AGENT_PORT), timeout=300)
        assert rc == 0, out + err
        (host,) = zabbix.api("host.get", {"filter": {"host": [name]}})
        fleet.hostids[name] = host["hostid"]
        zabbix.reload_config_cache()

        def master():
            (item,) = zabbix.api("item.get", {"hostids": [host["hostid"]], "search": {"key_": "sepa.collect["},
                                              "output": ["itemid", "state", "error", "lastvalue"]})
            try:
                zabbix.api("task.create", [{"type": 6, "request": {"itemid": item["itemid"]}}])
            except zabbix.ApiError:
                pass                   # the item is not in the server's cache yet
            time.sleep(3)
            return item

        if zabbix.MAJOR >= (7, 0):
            item = wait_for(master, lambda i: i["lastvalue"].startswith("{"), timeout=120)
            doc = json.loads(item["lastvalue"])
            assert doc["site"] == name and doc["metrics"]["sepa.collector.status"] == 2
            assert doc["metrics"]["sepa.collector.duration"] >= 4.5, doc["metrics"]
        else:
            item = wait_for(master, lambda i: i["state"] == "1", timeout=120)
            assert item["lastvalue"] == "" and "imeout" in item["error"], item
    finally:
        silent.close()


def test_dashboard_shows_values(fleet):
    """The template dashboard of a site with data, in headless Chromium: every value widget has
    a value (counts without decimals, seconds as 6.0 shows them), and every graph widget shows
    its chart, loaded at the widget's size with one legend row per graph item (on 7.0 the
    screenshot was once taken before the charts had loaded, and showed them blank)."""
    import re

    from zabbix_sepa.zabbix.dashboard import GRAPHS

    # Each classic graph widget's chart: an <img id="graph_..."> of chart3.php, a PNG. Zabbix
    # draws a graph item's legend row with a framed colour square in the image's first columns;
    # the squares are counted in a canvas copy of the image (same origin, so readable).
    charts_js = """
    const out = {};
    for (const w of document.querySelectorAll('.dashboard-grid-widget')) {
      const title = (w.innerText || '').split('\\n')[0], img = w.querySelector('img[id^="graph_"]');
      if (!img) continue;
      const r = img.getBoundingClientRect(), c = document.createElement('canvas');
      const chart = out[title] = {loaded: img.complete && img.naturalWidth > 0 && img.naturalHeight > 0,
                                  size: [img.naturalWidth, img.naturalHeight],
                                  shown: [Math.round(r.width), Math.round(r.height)], legend: 0};
      if (!chart.loaded) continue;
      [c.width, c.height] = chart.size;
      const ctx = c.getContext('2d');
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      const px = (x, y) => { const i = 4 * (y * c.width + x); return (d[i] << 16) | (d[i + 1] << 8) | d[i + 2]; };
      const bg = px(0, 0);
      for (let x = 0; x < Math.min(40, c.width); x++) {
        let squares = 0, top = -1;
        for (let y = 0; y <= c.height; y++) {
          const ink = y < c.height && px(x, y) !== bg;
          if (ink && top < 0) top = y;
          if (!ink && top >= 0) {       // a framed square: 8-14 px of ink, its middle unlike its frame
            const h = y - top;
            if (h >= 8 && h <= 14 && px(x, top + (h >> 1)) !== px(x, top)) squares++;
            top = -1;
          }
        }
        chart.legend = Math.max(chart.legend, squares);
      }
    }
    return out;
    """

    def drawn(charts):
        return set(charts) == set(GRAPHS) and all(
            c["loaded"] and min(c["shown"]) > 0 and all(abs(a - b) <= 2 for a, b in zip(c["size"], c["shown"]))
            and c["legend"] == len(GRAPHS[name]) for name, c in charts.items())

    hostid = fleet.hostids[PREFIX + "failed_batch"]
    with frontend() as (browser, base):
        browser.get(f"{base}/zabbix.php?action=host.dashboard.view&hostid={hostid}&from=now-15m&to=now")

        def widgets():
            return widget_texts(browser)
        texts = wait_for(widgets, lambda t: len(t) == WIDGETS and all("\n" in x or x.startswith("SEPA:") for x in t),
                         timeout=30)

        def charts_twice():
            """The charts, and again half a second later: the frontend reloads a chart when it
            resizes its widget, so drawn twice in a row means drawn for good."""
            first = browser.execute_script(charts_js)
            time.sleep(0.5)
            return first, browser.execute_script(charts_js)
        charts = wait_for(charts_twice, lambda both: all(map(drawn, both)), timeout=60, step=0.5)[1]
        assert "SEPA overview" in browser.title or "SEPA overview" in browser.page_source
        os.makedirs(ARTIFACTS, exist_ok=True)
        browser.save_screenshot(os.path.join(ARTIFACTS, f"dashboard-{zabbix.VERSION}.png"))
    assert len(texts) == WIDGETS                       # 26 values + 5 graphs
    bad = [t for t in texts if "No data" in t or "Cannot" in t or "No permissions" in t or "not found" in t]
    assert not bad, bad
    by_title = {t.split("\n", 1)[0]: t for t in texts}
    # title, time, the value's parts (7.0 puts decimals and units on lines of their own), item name
    values = {title: t.split("\n")[2:-1] for title, t in by_title.items() if not title.startswith("SEPA:")}
    assert values["Failed batches 24h"] == ["1"], values          # a count: no ".00" (7.0's default)
    assert len(values["Active mandates"]) == 1 and values["Active mandates"][0].isdigit(), values
    assert len(values["Scheduler idle"]) == 1 and \
        re.fullmatch(r"\d+[a-z]+( \d+[a-z]+)*", values["Scheduler idle"][0]), values      # "5m 48s", not "5.80m"
    assert "all groups collected (0)" in by_title["Collector"]
    assert "healthy (0)" in by_title["Health"]
    assert set(charts) == set(GRAPHS), charts          # title -> {loaded, size, shown, legend: rows seen}
    assert drawn(charts), charts


def test_fleet_dashboard_shows_every_site(fleet):
    """The global dashboard "SEPA fleet" that setup made, in headless Chromium: problems of group
    SEPA by severity, one row of key figures per site (those with failed batches first), the
    problems worst first, and (7.0) the sites with their problem counts."""
    (board,) = zabbix.api("dashboard.get", {"filter": {"name": [fleet_dashboard.NAME]}, "output": ["dashboardid"]})
    titles = ["Problems by severity", "Sites: key figures", "Problems, worst first"] + (
        ["Sites by problems"] if zabbix.MAJOR >= (7, 0) else [])
    failed = PREFIX + "failed_batch"
    table_js = """
    const w = [...document.querySelectorAll('.dashboard-grid-widget')]
      .find(w => (w.innerText || '').startsWith(arguments[0]));
    return w ? [...w.querySelectorAll('tr')].map(tr => [...tr.querySelectorAll('th, td')]
      .map(c => c.innerText.trim())) : [];
    """

    def filled(texts):
        by_title = {t.split("\n", 1)[0]: t for t in texts}
        return list(by_title) == titles and failed in by_title["Sites: key figures"] and \
            "batches failed in 24h" in by_title["Problems, worst first"]
    # every site with a value of the column the rows are ordered by, before the page is loaded,
    # has its row (Top hosts lists no other)
    with_value = zabbix.api("item.get", {"hostids": list(fleet.hostids.values()), "output": ["hostid", "lastclock"],
                                         "filter": {"key_": "sepa.batch.failed_24h"}})
    names = {hostid: name for name, hostid in fleet.hostids.items()}
    shown = {names[i["hostid"]] for i in with_value if i["lastclock"] != "0"}
    with frontend() as (browser, base):
        browser.get(f"{base}/zabbix.php?action=dashboard.view&dashboardid={board['dashboardid']}")
        texts = wait_for(lambda: widget_texts(browser), filled, timeout=60)
        table = browser.execute_script(table_js, "Sites: key figures")
        os.makedirs(ARTIFACTS, exist_ok=True)
        browser.save_screenshot(os.path.join(ARTIFACTS, f"fleet-{zabbix.VERSION}.png"))
    by_title = {t.split("\n", 1)[0]: t for t in texts}
    bad = [t for t in texts if "No data" in t or "Cannot" in t or "No permissions" in t or "not found" in t
           or "Invalid" in t or "Undefined" in t]
    assert not bad, bad
    assert by_title["Problems by severity"].split("\n")[2].startswith("SEPA "), by_title["Problems by severity"]
    header, *rows = table
    labels = [m.overview for m in fleet_dashboard.fleet_metrics()]
    assert header == ["Site", *labels], header
    sites = {row[0]: dict(zip(labels, row[1:])) for row in rows}
    assert len(shown) >= len(fleet.hostids) - 3 and shown <= set(sites), sorted(shown - set(sites))
    assert sites[failed]["Failed batches 24h"] == "1", sites[failed]    # a count: no ".00"
    assert sites[failed]["Collection rate 30d"].endswith("%"), sites[failed]
    if zabbix.MAJOR >= (7, 0):     # 6.0's Top hosts shows its rows unordered whatever the column chosen
        failed_24h = [int(v) for v in (row[1 + labels.index("Failed batches 24h")] for row in rows) if v]
        assert failed_24h == sorted(failed_24h, reverse=True), failed_24h   # ordered by failed batches
        assert failed in by_title["Sites by problems"]
