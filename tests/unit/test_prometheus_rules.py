"""The Prometheus alerting rules: the committed file is the generator's; every trigger is
translated or listed with its reason; the real promtool accepts the file and, on series the
exposition writes from documents, sees each kind of rule fire above its registry threshold and
stay quiet at or below it; an expression of an unknown shape is refused when generating."""
import os
import re
import subprocess

import pytest
import yaml

from tests.conftest import ROOT, run_cli
from zabbix_sepa import registry
from zabbix_sepa.groups.base import TIME_SUFFIXES, Trigger
from zabbix_sepa.transport.prometheus import DOCUMENT_FAMILY, exposition
from zabbix_sepa.transport.prometheus_rules import (NODATA_LOOKBACK, NODATA_NOTE, NOT_TRANSLATED, ExpressionError,
                                                    NotExposed, alert_name, duration, export, group_triggers,
                                                    rules, translate, ZabbixOnly)

PROMTOOL = "/usr/bin/promtool"
RULES_FILE = os.path.join("templates", "prometheus", "sepa_rules.yml")


def all_triggers():
    return [t for g in registry.groups() for t in group_triggers(g)]


def trigger(name):
    return next(t for t in all_triggers() if t.name == name)


def macro(name):
    return next(m for m in registry.macros() if m.name == name)


def threshold(name):
    """A macro's default in the unit of its series before scaling: a time in seconds."""
    m = macro(name)
    return m.threshold.default * TIME_SUFFIXES.get(m.suffix, 1)


def zabbix_text(text, lld=None):
    """The text as Zabbix shows it for an entry: LLD macros by their values, then each user
    macro by its default (the context's own macro if declared, else the plain one)."""
    for name, value in (lld or {}).items():
        text = text.replace(name, value)
    names = {m.name: m.default for m in registry.macros()}
    return re.sub(r'\{\$([A-Z.]+)(:"[^"]*")?\}', lambda m: names.get(m[0]) or names[f"{{${m[1]}}}"], text)


def test_committed_rules_file_is_generated():
    with open(os.path.join(ROOT, RULES_FILE), encoding="utf-8") as fh:
        assert fh.read() == export(), f"run: zabbix-sepa prometheus rules -o {RULES_FILE}"


def test_every_trigger_is_translated_or_listed_with_its_reason():
    triggers = all_triggers()
    assert len(triggers) == len(registry.triggers()) + sum(len(d.triggers) for d in registry.discoveries())
    assert set(NOT_TRANSLATED) <= {t.name for t in triggers}
    header = " ".join(line[1:].strip() for line in export().splitlines() if line.startswith("#"))
    for t in triggers:
        if t.name in NOT_TRANSLATED:
            with pytest.raises((NotExposed, ZabbixOnly)):   # exactly what has no series or no counterpart
                translate(t)
            assert NOT_TRANSLATED[t.name] in header
        else:
            rule = translate(t)
            assert rule["labels"] == {"severity": t.severity.lower()}
            assert "{$" not in rule["expr"] + str(rule["annotations"]) and "{#" not in str(rule["annotations"])
    generated = [r for g in rules()["groups"] for r in g["rules"]]
    assert len(generated) == len(triggers) - len(NOT_TRANSLATED)
    assert len({r["alert"] for r in generated}) == len(generated)


def test_translations():
    """Each function, threshold unit and recovery as the module's docstring states them."""
    def expr(name):
        return translate(trigger(name))["expr"]

    assert expr("SEPA: error rate high") == f"sepa_error_count_1h > {threshold('{$SEPA.ERROR.RATE.MAX}'):g}"
    assert expr("SEPA queue {#QUEUE}: jobs wait without workers") == (    # `and`, as Zabbix binds it
        "min_over_time(sepa_queue_queued[3m]) > 0 and max_over_time(sepa_queue_workers[3m]) < "
        f"{threshold('{$SEPA.QUEUE.WORKERS.MIN}'):g}")
    assert expr("SEPA: batch success rate low") == \
        f"sepa_batch_success_rate_30d_ratio < {threshold('{$SEPA.BATCH.SUCCESS.MIN}') / 100:g}"
    assert expr("SEPA: collection slow") == \
        f"min_over_time(sepa_collector_duration_seconds[3m]) > {threshold('{$SEPA.COLLECTOR.DURATION.MAX}'):g}"
    assert expr("SEPA: overdue amount forecast to exceed its maximum within 7 days") == \
        f"predict_linear(sepa_invoice_overdue_amount_eur[3d], {7 * 86400}) > " \
        f"{threshold('{$SEPA.OVERDUE.AMOUNT.MAX}'):g}"
    assert expr("SEPA: no new invoices") == \
        f"sepa_invoice_last_age_seconds > {int(threshold('{$SEPA.INVOICE.SILENCE.MAX}'))}"
    assert translate(trigger("SEPA: error rate high"))["keep_firing_for"] == "2m"           # max(#3)<=M, minute
    assert translate(trigger("SEPA: mandates expiring within 30 days"))["keep_firing_for"] == "2h"   # hourly
    assert "keep_firing_for" not in translate(trigger("SEPA: collection slow"))             # no recovery
    assert all("for" not in r for g in rules()["groups"] for r in g["rules"])


def test_promtool_check_rules_accepts_the_file(tmp_path):
    path = tmp_path / "sepa_rules.yml"
    path.write_text(export(), encoding="utf-8")
    proc = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(all_triggers()) - len(NOT_TRANSLATED)} rules found" in proc.stdout


# -- promtool test rules: input series written by the exposition from documents --------------

def document(site, metrics=None, batches=None):
    return {"site": site, "metrics": metrics or {}, "discovery": {"batches": batches} if batches else {},
            "unsupported": {}}


def batch(name, status, waiting_age):
    return {"{#BATCH}": name, "{#STATUS}": status, "{#TYPE}": "CORE", "age": waiting_age,
            "waiting_age": waiting_age, "entries": 1, "amount": 10.0, "failed_entries": 0}


def input_series(steps):
    """promtool input_series from a list of steps, each the documents of that scrape: every
    sample line of the exposition, `_` where a step has none."""
    values = {}
    for i, docs in enumerate(steps):
        for line in exposition(docs).splitlines():
            if not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                values.setdefault(series, ["_"] * len(steps))[i] = value
    return [{"series": series, "values": " ".join(v)} for series, v in values.items()]


def alert(name, labels, lld=None):
    """The expected alert of trigger `name`: its labels, and its annotations as Zabbix would
    show them for that site and entry."""
    t = trigger(name)
    description = zabbix_text(t.description, lld)
    if t.expression.startswith("nodata("):
        description += " " + NODATA_NOTE.format(period=macro("{$SEPA.NODATA.TIME}").default,
                                                family=DOCUMENT_FAMILY, lookback=duration(NODATA_LOOKBACK))
    return {"exp_labels": {**labels, "severity": t.severity.lower()},
            "exp_annotations": {"summary": zabbix_text(t.event_name, lld), "description": description}}


def at(minutes, name, *alerts):
    return {"eval_time": f"{minutes}m", "alertname": alert_name(trigger(name)), "exp_alerts": list(alerts)}


def above_case():
    """last()>M with max(#3)<=M recovery: fires above M, never at M, and stays until three
    values in a row are at most M."""
    name, m = "SEPA: error rate high", threshold("{$SEPA.ERROR.RATE.MAX}")
    storm = [m + 1, m, m, m, m]
    steps = [[document("storm", {"sepa.error.count_1h": v}), document("calm", {"sepa.error.count_1h": m})]
             for v in storm]
    fired = alert(name, {"site": "storm"})
    return input_series(steps), [at(0, name, fired), at(1, name, fired), at(2, name, fired), at(3, name)]


def below_case():
    """last()<M on a percentage, exposed as a ratio."""
    name, m = "SEPA: batch success rate low", threshold("{$SEPA.BATCH.SUCCESS.MIN}")
    steps = [[document("low", {"sepa.batch.success_rate_30d": m - 0.5}),
              document("at-minimum", {"sepa.batch.success_rate_30d": m})]] * 2
    return input_series(steps), [at(1, name, alert(name, {"site": "low"}))]


def slow_case():
    """min(#3)>M: three minute collections above M; a dip within them keeps it quiet."""
    name, m = "SEPA: collection slow", threshold("{$SEPA.COLLECTOR.DURATION.MAX}")
    dip = [m + 1, m + 1, m + 1, m - 0.5, m + 1, m + 1]
    steps = [[document("slow", {"sepa.collector.duration": m + 1}), document("dip", {"sepa.collector.duration": v})]
             for v in dip]
    return input_series(steps), [at(5, name, alert(name, {"site": "slow"}))]


def pending_batches_case():
    """The LLD prototype: per batch, labelled; the threshold of its status (Draft's own context
    macro, Submitted the plain one); statuses outside its filter never fire."""
    name = "SEPA batch {#BATCH}: {#STATUS} for too long"
    draft = threshold('{$SEPA.BATCH.PENDING.AGE.MAX:"Draft"}')
    other = threshold("{$SEPA.BATCH.PENDING.AGE.MAX}")
    assert draft < other
    batches = [batch("DD-1", "Draft", draft + 60), batch("DD-2", "Draft", draft),
               batch("DD-3", "Submitted", draft + 60), batch("DD-4", "Submitted", other + 60),
               batch("DD-5", "Processed", other + 60)]
    steps = [[document("site-a", batches=batches)]] * 2
    fired = [alert(name, {"site": "site-a", "batch": b, "status": s, "type": "CORE"},
                   {"{#BATCH}": b, "{#STATUS}": s}) for b, s in (("DD-1", "Draft"), ("DD-4", "Submitted"))]
    return input_series(steps), [at(1, name, *fired)]


def nodata_case():
    """nodata(sepa.collect, P)=1: the site whose scrapes stopped, once P has passed since its last
    sample; not before, and not the site still scraped."""
    name = "SEPA: no data from the collector"
    period = int(threshold("{$SEPA.NODATA.TIME}")) // 60
    last = 2
    steps = [[document("alive")] + ([document("silent")] if i <= last else []) for i in range(last + period + 3)]
    return input_series(steps), [at(last + period - 1, name), at(last + period + 1, name, alert(name, {"site": "silent"}))]


def forecast_case():
    """forecast(x,3d,7d)>M: a linear rise over 3 days that will pass M within 7 days fires while
    still below M; a flat series below M does not."""
    name, m = "SEPA: overdue amount forecast to exceed its maximum within 7 days", \
        threshold("{$SEPA.OVERDUE.AMOUNT.MAX}")
    rise = [m / 2 + m / 300 * h for h in range(73)]
    assert rise[-1] < m < rise[-1] + m / 300 * 7 * 24
    steps = [[document("rising", {"sepa.invoice.overdue.amount": v}),
              document("flat", {"sepa.invoice.overdue.amount": 0.9 * m})] for v in rise]
    return input_series(steps), [at(72 * 60, name, alert(name, {"site": "rising"}))]


def promtool_test(tmp_path, interval, *cases):
    (tmp_path / "rules.yml").write_text(export(), encoding="utf-8")
    tests = []
    for series, checks in cases:
        tests.append({"interval": interval, "input_series": series, "alert_rule_test": checks})
    (tmp_path / "test.yml").write_text(yaml.safe_dump({"rule_files": ["rules.yml"], "evaluation_interval": interval,
                                                       "tests": tests}), encoding="utf-8")
    proc = subprocess.run([PROMTOOL, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_rule_tests_minute_cadence(tmp_path):
    promtool_test(tmp_path, "1m", above_case(), below_case(), slow_case(), pending_batches_case(), nodata_case())


def test_promtool_rule_tests_forecast(tmp_path):
    promtool_test(tmp_path, "1h", forecast_case())


def test_promtool_fails_a_rule_test_that_expects_the_wrong_alert(tmp_path):
    """The rule tests above can fail: the same harness, expecting the calm site to fire."""
    series, _ = above_case()
    name = "SEPA: error rate high"
    with pytest.raises(AssertionError, match="FAILED"):
        promtool_test(tmp_path, "1m", (series, [at(0, name, alert(name, {"site": "calm"}))]))


def test_no_data_of_any_site_is_one_alert_without_a_site_label(tmp_path):
    name = "SEPA: no data from the collector"
    promtool_test(tmp_path, "1m", ([{"series": "unrelated", "values": "1 1 1"}], [at(1, name, alert(name, {}))]))


# -- shapes the generator does not know ------------------------------------------------------

@pytest.mark.parametrize("expression, recovery, says", [
    ("avg(/T/sepa.batch.stuck,5m)>1", "", "avg(/T/sepa.batch.stuck, 5m) is not translated"),
    ("last(/T/sepa.batch.stuck)+1>9", "", "cannot read '+1"),
    ("(last(/T/sepa.batch.stuck)>1)", "", "cannot read '(last"),
    ("last(/T/sepa.batch.stuck)", "", "expected operator but found the end"),
    ("last(/T/sepa.no.such.key)>1", "", "no metric, discovered item or master item 'sepa.no.such.key'"),
    ("last(/T/sepa.batch.stuck)>{$SEPA.NO.SUCH.MAX}", "", "no macro '{$SEPA.NO.SUCH.MAX}'"),
    ("last(/T/sepa.batch.stuck)>{$SEPA.BATCH.PENDING.AGE.MAX}", "", "is a time, sepa.batch.stuck is not in seconds"),
    ("min(/T/sepa.batch.stuck,10m)>1", "", "min(/T/sepa.batch.stuck, 10m) is not translated"),
    ("last(/T/sepa.batch.stuck)>1", "last(/T/sepa.batch.stuck)<1", "is not the expression false for the last n"),
])
def test_unknown_shapes_are_refused_with_the_trigger_named(expression, recovery, says):
    t = Trigger("SEPA: made up", expression, "WARNING", "made up", recovery=recovery)
    with pytest.raises(ExpressionError) as error:
        translate(t)
    assert str(error.value).startswith("trigger 'SEPA: made up': ") and says in str(error.value)


# -- the command ---------------------------------------------------------------------------------

def test_command_writes_the_rules_and_says_why_it_cannot(tmp_path):
    out = tmp_path / "rules.yml"
    assert run_cli("prometheus", "rules", "--output", str(out)) == (0, "", "")
    assert out.read_text(encoding="utf-8") == export()
    rc, stdout, stderr = run_cli("prometheus", "rules")
    assert (rc, stdout) == (0, export())
    missing = tmp_path / "missing" / "rules.yml"
    assert run_cli("prometheus", "rules", "-o", str(missing)) == \
        (1, "", f"zabbix-sepa: cannot write {missing}: No such file or directory\n")
    rc, _, stderr = run_cli("prometheus")
    assert rc == 2 and "required: ACTION" in stderr and "Traceback" not in stderr
