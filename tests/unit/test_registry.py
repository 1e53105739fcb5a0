"""The registry matches the metric contract, and generated files match the registry."""
import os
import re

from zabbix_sepa import registry
from zabbix_sepa.docs import metric_reference

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# metrics.md, contract version 1: every key, spelled out.
CONTRACT_KEYS = """
sepa.batch.total sepa.batch.created_24h
sepa.batch.status[draft] sepa.batch.status[generated] sepa.batch.status[submitted]
sepa.batch.status[processed] sepa.batch.status[failed] sepa.batch.status[rolled_back]
sepa.batch.status[other] sepa.batch.pending.count sepa.batch.pending.amount
sepa.batch.pending.oldest_age sepa.batch.stuck sepa.batch.failed_24h sepa.batch.failed_7d
sepa.batch.success_rate_30d sepa.batch.collected_amount_30d sepa.batch.entry.failed_7d
sepa.batch.entry.failure_rate_7d sepa.mandate.total sepa.mandate.status[active]
sepa.mandate.status[draft] sepa.mandate.status[suspended] sepa.mandate.status[cancelled]
sepa.mandate.status[expired] sepa.mandate.status[other] sepa.mandate.expiring_30d
sepa.mandate.expired_active sepa.mandate.dormant sepa.mandate.iban_invalid sepa.mandate.created_30d
sepa.mandate.cancelled_30d sepa.member.sepa_without_mandate sepa.member.active sepa.member.new_30d
sepa.volunteer.active sepa.invoice.outstanding.amount sepa.invoice.overdue.count
sepa.invoice.overdue.amount sepa.invoice.created_24h sepa.invoice.last_age sepa.collection.rate_30d
sepa.retry.pending sepa.retry.escalated sepa.dues.active sepa.dues.stuck sepa.error.count_1h
sepa.error.count_24h sepa.error.category_24h[permission] sepa.error.category_24h[validation]
sepa.error.category_24h[database] sepa.error.category_24h[timeout]
sepa.error.category_24h[integration] sepa.error.category_24h[other] sepa.error.sepa_24h
sepa.scheduler.failed_24h sepa.scheduler.last_activity_age sepa.audit.events_7d
sepa.audit.exceptions_7d sepa.audit.compliance_rate_7d sepa.db.size sepa.db.threads_connected
sepa.collector.duration sepa.collector.queries sepa.collector.rss sepa.collector.status
sepa.collector.version
sepa.health.status
sepa.users.active_24h
sepa.queue.queued sepa.queue.oldest_age sepa.queue.failed sepa.queue.workers
""".split()       # the last lines: added by issue 16 (metrics.md's Additions) and issue 17 (interface.md's)


def test_registry_has_exactly_the_contract_keys_once():
    keys = [m.key for m in registry.metrics()]
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted(CONTRACT_KEYS)


def test_discovery_lists_of_the_contract():
    lists = {d.name: d for d in registry.discoveries()}
    assert set(lists) == {"batches", "banks", "jobs", "health", "queues"}       # health: issue 16, queues: 17
    assert lists["health"].macros == ("{#CHECK}",) and lists["health"].values == ("status", "value")
    assert lists["queues"].macros == ("{#QUEUE}",)
    assert lists["queues"].values == ("queued", "oldest_age", "failed", "workers")
    assert lists["batches"].macros == ("{#BATCH}", "{#STATUS}", "{#TYPE}")
    assert lists["banks"].values == ("mandates", "failed_entries_30d")
    assert lists["jobs"].values == ("last_success_age", "failed_24h")


def test_every_metric_is_described():
    for m in registry.metrics():
        assert m.name and m.description.endswith("."), m.key
        assert m.value_type in (registry.FLOAT, registry.INT, registry.STR), m.key


def test_group_modules_are_the_architecture_groups():
    names = [g.name for g in registry.groups()]
    assert names == ["batches", "mandates", "members", "finance", "dues", "errors", "scheduler", "queues",
                     "audit", "users", "system", "health", "collector"]


def test_sql_is_parameterized():
    """Values travel as parameters: no quoted literal in SQL other than our fixed vocabulary."""
    import importlib
    for g in registry.groups():
        module = importlib.import_module(f"zabbix_sepa.groups.{g.name}")
        for name, value in vars(module).items():
            if name.endswith("_SQL") or name == "SQL":
                literals = set(re.findall(r"'([^']*)'", value))
                allowed = {"Draft", "Generated", "Submitted", "Processed", "Failed", "Active",
                           "Cancelled", "Complete", "Compliant", "Escalated", "Pending", "Scheduled",
                           "SEPA Direct Debit", "EXCEPTION", "FAILED", "ERROR", "", " ", "other", ":",
                           "permission", "validation", "database", "timeout", "integration",
                           "Login", "Success", "Guest"}
                assert literals <= allowed, (g.name, name, literals - allowed)


def test_metric_reference_is_up_to_date():
    with open(os.path.join(ROOT, "docs", "metrics.md"), encoding="utf-8") as fh:
        committed = fh.read()
    assert committed == metric_reference(), "run: zabbix-sepa docs > docs/metrics.md"


# The one style of a threshold macro: {$SEPA.<AREA>.<NAME>.MAX|MIN[.WARN|.CRIT]}, upper-case words
# separated by dots (no underscores; NAME one word or more), then a context (:"Draft") if any.
_WORD = r"(?!(?:MAX|MIN|WARN|CRIT)\b)[A-Z][A-Z0-9]*"
THRESHOLD_MACRO = re.compile(rf'\{{\$SEPA\.{_WORD}(?:\.{_WORD})+\.(?:MAX|MIN)(?:\.(?:WARN|CRIT))?(?::"[^"]*")?\}}')
# Not a limit a value is compared with but the period nodata() looks back over (base.Macro).
NOT_A_LIMIT = {"{$SEPA.NODATA.TIME}", '{$SEPA.NODATA.TIME:"hour"}'}


def test_every_threshold_macro_has_the_one_style():
    for name in ("{$SEPA.BATCH.PENDING.AGE.MAX}", '{$SEPA.BATCH.PENDING.AGE.MAX:"Draft"}',
                 "{$SEPA.DISK.USED.MAX.WARN}", "{$SEPA.COLLECTION.RATE.MIN.CRIT}"):
        assert THRESHOLD_MACRO.fullmatch(name), name
    for name in ("{$SEPA.MEMBER.NO_MANDATE.MAX}", "{$SEPA.ERROR.MAX}", "{$SEPA.ERROR.RATE.WARN}",
                 "{$SEPA.ERROR.RATE.WARN.MAX}", "{$SEPA.ERROR.MAX.RATE.MAX}", "{$SEPA.error.rate.MAX}",
                 "{$SEPA.ERROR.RATE.MAX.CRIT.WARN}"):
        assert not THRESHOLD_MACRO.fullmatch(name), name
    names = [m.name for m in registry.macros()]
    assert set(names) >= NOT_A_LIMIT
    assert [n for n in names if n not in NOT_A_LIMIT and not THRESHOLD_MACRO.fullmatch(n)] == []


def test_former_macro_names_are_gone_and_lead_to_a_current_one():
    renamed = registry.renamed_macros()
    assert renamed == {
        "{$SEPA.MANDATE.EXPIRED_ACTIVE.MAX}": "{$SEPA.MANDATE.EXPIRED.ACTIVE.MAX}",
        "{$SEPA.MANDATE.IBAN_INVALID.MAX}": "{$SEPA.MANDATE.IBAN.INVALID.MAX}",
        "{$SEPA.MEMBER.NO_MANDATE.MAX}": "{$SEPA.MEMBER.WITHOUT.MANDATE.MAX}"}
    current = {m.name for m in registry.macros()}
    assert not set(renamed) & current and set(renamed.values()) <= current
    used = " ".join(t.expression + t.recovery + t.event_name + t.description for t in registry.triggers())
    used += " ".join(t.expression + t.event_name for d in registry.discoveries() for t in d.triggers)
    assert not [old for old in renamed if old[:-1] in used]
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    for old, new in renamed.items():                    # the upgrade notes list each rename
        assert f"| `{old}` | `{new}` |" in readme, old


def test_orders_are_between_registered_thresholds():
    thresholds = registry.thresholds()
    for order in registry.orders():
        assert thresholds[order.lower.key] is order.lower and thresholds[order.higher.key] is order.higher
        assert order.lower != order.higher and order.why
