"""The generated templates in the real Zabbix of the major under test (ZABBIX_VERSION,
7.0 or 6.0), in that major's own format: they import with the rules a user would
use (twice: the second import changes nothing), a pushed document fills the
dependent items and the discovery rules, and the triggers open exactly the
expected problems. On 7.0 the import preview (configuration.importcompare) of an
imported template is empty, and the 7.0 template updates a 6.0 one in place.

Values are sent with the real current time (a trigger judges the newest
value by its clock), so the site's rows are placed relative to now, in UTC.
"""
import datetime as dt
import json
import os
import time

import pytest
import yaml

from tests import zabbix
from tests.conftest import run_cli
from tests.rq_data import not_configured
from zabbix_sepa import registry
from zabbix_sepa.zabbix.template import VARIANTS, export

pytestmark = pytest.mark.zabbix

# 6.2+ name template groups `template_groups`; 6.0 knows only `groups`
GROUP_RULE = {"groups": {"createMissing": True}} if zabbix.VERSION == "6.0" else \
    {"template_groups": {"createMissing": True, "updateExisting": True}}
IMPORT_RULES = {
    **GROUP_RULE,
    "templates": {"createMissing": True, "updateExisting": True},
    "templateLinkage": {"createMissing": True},
    **{k: {"createMissing": True, "updateExisting": True, "deleteMissing": True}
       for k in ("items", "triggers", "discoveryRules", "graphs", "valueMaps", "templateDashboards")},
}


def import_template(variant, version=zabbix.VERSION):
    return zabbix.api("configuration.import", {"format": "yaml", "source": export(variant, version),
                                               "rules": IMPORT_RULES})


@pytest.fixture(scope="module")
def templates():
    zabbix.ensure_stack()
    ids = {}
    for variant, spec in VARIANTS.items():
        assert import_template(variant) is True
        (t,) = zabbix.api("template.get", {"filter": {"host": [spec["name"]]}})
        ids[variant] = t["templateid"]
    return ids


class LinkedHost:
    """A host with the trapper template linked, plus a host-level probe item to learn when
    the server's configuration cache knows it."""

    def __init__(self, name, templateid):
        self.name = name
        old = zabbix.api("host.get", {"filter": {"host": [name]}})
        if old:
            zabbix.api("host.delete", [h["hostid"] for h in old])
        self.hostid = zabbix.api("host.create", {"host": name, "groups": [{"groupid": zabbix.group_id()}],
                                                 "templates": [{"templateid": templateid}]})["hostids"][0]
        zabbix.api("item.create", {"hostid": self.hostid, "name": "probe", "key_": "probe", "type": 2,
                                   "value_type": 3, "history": "1h"})
        deadline = time.monotonic() + 60
        zabbix.reload_config_cache()
        while not zabbix.sender(name, "probe", "1"):
            assert time.monotonic() < deadline, f"{name} not accepted by the server"
            time.sleep(0.5)
            zabbix.reload_config_cache()

    def items(self, **search):
        return {i["key_"]: i for i in zabbix.api("item.get", {
            "hostids": [self.hostid], "output": ["key_", "lastvalue", "lastclock", "state", "error"],
            **search})}

    def problems(self):
        """{(name, severity)} of the host's open problems (trigger states, resolved names)."""
        triggers = zabbix.api("trigger.get", {"hostids": [self.hostid], "filter": {"value": 1},
                                              "output": ["description", "priority"],
                                              "expandDescription": True, "skipDependent": False})
        return {(t["description"], int(t["priority"])) for t in triggers}

    def event_names(self):
        return {p["name"] for p in zabbix.api("problem.get", {"hostids": [self.hostid]})}

    def delete(self):
        zabbix.api("host.delete", [self.hostid])


def utc_now():
    return dt.datetime.utcnow().replace(microsecond=0)


def site_config(tmp_path, site, host):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({
        "timezone": "UTC", "spool_dir": str(tmp_path / "spool"),
        "zabbix": {"server": "127.0.0.1", "port": zabbix.SERVER_PORT},
        "sites": [{"name": host, "database": site.server.site_database_mapping(site.name)}]}))
    os.chmod(path, 0o600)
    return str(path)


def push(cfg, now):
    rc, out, err = run_cli("send", "--config", cfg, "--now", now.strftime("%Y-%m-%d %H:%M:%S"))
    assert rc == 0, out + err


def wait_for(what, predicate, timeout=45):
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if predicate(value) or time.monotonic() > deadline:
            return value
        time.sleep(1)


HIGH, AVERAGE, WARNING, INFO = 4, 3, 2, 1


def test_import_is_idempotent(templates):
    before = {v: zabbix.api("template.get", {"templateids": [i], "selectItems": "count",
                                               "selectTriggers": "count", "selectDiscoveries": "count"})
              for v, i in templates.items()}
    for variant in VARIANTS:
        assert import_template(variant) is True
    after = {v: zabbix.api("template.get", {"templateids": [i], "selectItems": "count",
                                              "selectTriggers": "count", "selectDiscoveries": "count"})
             for v, i in templates.items()}
    assert before == after
    counts = after["trapper"][0]
    assert int(counts["items"]) >= 69 and int(counts["triggers"]) >= 12 and int(counts["discoveries"]) == len(registry.discoveries())


@pytest.mark.skipif(zabbix.VERSION == "6.0", reason="the 6.0 export keeps its old, non-canonical shape")
def test_import_preview_of_an_imported_template_is_empty(templates):
    """What the frontend shows before re-importing an unchanged template: no change at all
    (the 7.0 export is in the form Zabbix's own export writes)."""
    for variant in VARIANTS:
        assert zabbix.api("configuration.importcompare", {
            "format": "yaml", "source": export(variant, zabbix.VERSION), "rules": IMPORT_RULES}) in ([], {})


@pytest.mark.skipif(zabbix.VERSION == "6.0", reason="an upgrade from 6.0 to 7.0")
def test_7_0_template_updates_a_6_0_one_in_place(templates):
    """After upgrading Zabbix, importing the 7.0 template over the 6.0 one keeps every item,
    trigger and rule (same ids: history kept) and leaves nothing to change."""
    def ids():
        tids = list(templates.values())
        return {"items": sorted(i["itemid"] for i in zabbix.api("item.get", {"templateids": tids})),
                "triggers": sorted(t["triggerid"] for t in zabbix.api("trigger.get", {"templateids": tids})),
                "rules": sorted(r["itemid"] for r in zabbix.api("discoveryrule.get", {"templateids": tids}))}
    for variant in VARIANTS:
        assert import_template(variant, "6.0") is True
    before = ids()
    for variant in VARIANTS:
        assert import_template(variant, "7.0") is True
    assert ids() == before
    for variant, spec in VARIANTS.items():
        (t,) = zabbix.api("template.get", {"templateids": [templates[variant]],
                                           "output": ["vendor_name", "vendor_version"]})
        assert t["vendor_name"] == "zabbix-sepa" and t["vendor_version"]
        timed = zabbix.api("item.get", {"templateids": [templates[variant]], "output": ["key_", "timeout"]})
        assert {i["key_"]: i["timeout"] for i in timed if i["timeout"]} == (
            {"sepa.collect[{$SEPA.SITE}]": "{$SEPA.AGENT.TIMEOUT}",
             "sepa.collect.hour[{$SEPA.SITE}]": '{$SEPA.AGENT.TIMEOUT:"hour"}'} if variant == "agent" else {})


def test_document_fills_items_discovery_and_opens_the_expected_problems(tmp_path, site, templates):
    host = f"zsepa-live-{site.name[-8:]}"
    h = LinkedHost(host, templates["trapper"])
    try:
        now = utc_now()
        # healthy background: the scheduler ran a minute ago
        site.insert("Scheduled Job Log", status="Complete", scheduled_job_type="x", creation=now - dt.timedelta(minutes=1))
        # one failed batch today with two failed entries, one fresh Draft
        failed = site.insert("Direct Debit Batch", status="Failed", docstatus=1, batch_date=now.date(),
                             creation=now - dt.timedelta(hours=3), modified=now - dt.timedelta(hours=1))
        for _ in range(2):
            site.insert("Direct Debit Batch Invoice", parent=failed, parenttype="Direct Debit Batch",
                        parentfield="invoices", status="Failed", iban="NL91ABNA0417164300",
                        creation=now - dt.timedelta(hours=3))
        site.insert("Direct Debit Batch", status="Draft", docstatus=0, batch_date=now.date(),
                    creation=now - dt.timedelta(minutes=10))
        cfg = site_config(tmp_path, site, host)
        # a realistic cadence: a document every few seconds until the server has discovered
        # the batches and filled their items (new LLD items join the configuration cache first)
        pushes = iter(range(1, 100))

        def cycle():
            push(cfg, now + dt.timedelta(seconds=next(pushes)))
            zabbix.reload_config_cache()
            return h.items()

        items = wait_for(cycle, lambda i: i.get(f"sepa.batch.failed_entries[{failed}]", {}).get("lastvalue") == "2",
                         timeout=90)
        assert items["sepa.batch.failed_24h"]["lastvalue"] == "1"
        assert items["sepa.batch.total"]["lastvalue"] == "2"
        assert items["sepa.collector.status"]["lastvalue"] == "0"
        assert json.loads(items["sepa.collector.unsupported"]["lastvalue"]) == not_configured()   # no redis
        assert items[f"sepa.batch.failed_entries[{failed}]"]["lastvalue"] == "2"
        assert len([k for k in items if k.startswith("sepa.batch.age[")]) == 2
        # the failed batch makes: failed batches (24h), success rate 0 % (30d), both entries of
        # the last 7 days failed (100 %), and its own prototype; the fresh Draft raises nothing
        want = {("SEPA: failed direct debit batches", HIGH), ("SEPA: batch success rate low", AVERAGE),
                ("SEPA: batch entry failure rate high", WARNING), (f"SEPA batch {failed}: failed entries", WARNING)}
        problems = wait_for(h.problems, lambda p: p >= want)
        assert problems == want
        names = wait_for(h.event_names, lambda n: len(n) >= 4)
        assert "SEPA: batches failed in 24h (more than 0)" in names
        assert f"SEPA batch {failed}: failed entries (more than 0)" in names
    finally:
        h.delete()


def _documents(host, start, end, unusual_from=None, growing=False):
    """Minute documents every 20 minutes and hourly ones on the hour, from `start` to `end`
    (unix), as a quiet site sends them: errors with a daily rhythm, a steady collection rate,
    quick collections, a database of 10 GB. From `unusual_from` on: many errors, a lower
    collection rate, slow collections, each still within its fixed maximum. `growing`: the
    database grows by 1 GB a day from 20 GB."""
    import random
    rnd = random.Random(f"{host}-{start}")
    minute, hour = registry.master_key(registry.MINUTE), registry.master_key(registry.HOUR)
    values = []
    for clock in range(start, end, 1200):
        odd = unusual_from is not None and clock >= unusual_from
        day = 7 <= (clock // 3600) % 24 < 19
        metrics = {"sepa.collector.status": 0,
                   "sepa.error.count_1h": (30 if odd else (5 if day else 1) + rnd.randint(0, 2)),
                   "sepa.collector.duration": round((0.9 if odd else 0.05) + rnd.uniform(0, 0.02), 3),
                   "sepa.db.size": int((20 + (clock - start) / 86400 if growing else 10) * 2**30)}
        values.append((host, minute, json.dumps({"site": host, "clock": clock, "metrics": metrics}), clock))
        if clock % 3600 == 0:
            rate = (91.0 if odd else 96.0) + round(rnd.uniform(-0.2, 0.2), 2)
            values.append((host, hour, json.dumps({"site": host, "clock": clock, "metrics": {
                "sepa.collector.status": 0, "sepa.collection.rate_30d": rate}}), clock))
    return values


def test_anomaly_triggers_judge_the_last_hour_against_two_weeks_of_trends(templates):
    """Two sites' last 14 days back-filled through the sender with their own clocks (Zabbix
    makes trends of them): the same quiet rhythm, but one site's last complete hour has many
    errors, a lower collection rate and slow collections, all below their fixed maximums.
    Only that site gets the three anomaly problems. Its database, growing by 1 GB a day,
    reaches the 50 GB maximum in about two weeks: the capacity warning (timeleft) is its
    too; the calm site's stays at 10 GB."""
    from zabbix_sepa.groups.base import ANOMALY_DAYS
    from zabbix_sepa.transport.sender import Sender
    now = int(time.time())
    this_hour = now - now % 3600
    start = this_hour - (ANOMALY_DAYS * 24 + 2) * 3600
    odd, calm = (LinkedHost(f"zsepa-anomaly-{name}", templates["trapper"]) for name in ("odd", "calm"))
    try:
        sender = Sender("127.0.0.1", zabbix.SERVER_PORT, timeout=60)
        for host, unusual_from in ((odd.name, this_hour - 3600), (calm.name, None)):
            history = _documents(host, start, this_hour, unusual_from, growing=host == odd.name)
            for i in range(0, len(history), 500):
                assert sender.send(history[i:i + 500]).failed == 0
        # the current hour: the odd site is still unusual now, the calm one is calm
        for host, unusual_from in ((odd.name, this_hour - 3600), (calm.name, None)):
            assert sender.send(_documents(host, this_hour, this_hour + 1, unusual_from,
                                          growing=host == odd.name)).failed == 0
        names = {"SEPA: unusual error rate", "SEPA: unusual drop of the collection rate",
                 "SEPA: unusually slow collection", "SEPA: database grows toward its maximum"}

        def unusual(host):
            return {name for name, _ in host.problems() if name in names}
        assert wait_for(lambda: unusual(odd), lambda found: found == names, timeout=90) == names
        assert unusual(calm) == set()
        severities = {name: severity for name, severity in odd.problems() if name in names}
        assert severities == {"SEPA: unusual error rate": WARNING, "SEPA: unusual drop of the collection rate": INFO,
                              "SEPA: unusually slow collection": INFO, "SEPA: database grows toward its maximum": WARNING}
        # nothing else the documents could trip: their values are below every fixed maximum
        assert {name for name, _ in odd.problems()} == names
    finally:
        odd.delete()
        calm.delete()
