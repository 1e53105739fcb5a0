"""Ground truth for the metric contract (docs: /work/shared/spec/metrics.md), in plain Python.

`load_rows(conn)` reads every row of every table back; `truth(rows, now)`
computes each metric and discovery list from those rows, following the text
of the contract rule by rule. It shares no code with the collector on
purpose: the two agreeing is the evidence that both read the contract alike.

Conventions taken from the contract:
- rows of any table created after N do not exist (`_live`);
- "within X" is N - X <= t <= N on datetimes and D - X <= d <= D on dates;
  "more than X before N" is strict;
- values compare the way utf8mb4_unicode_ci does: case-insensitively, with
  trailing spaces ignored (PAD SPACE); NULL equals nothing (`_fold`). Link
  fields (parent, member, invoice, scheduled_job_type) are matched the same
  way, since the site's joins compare them with that collation;
- batches with docstatus 2 do not exist for any metric or list, also when
  reached through their entries.
Where the contract can be read two ways the literal reading is taken and the
spot is marked "AMBIGUITY".
"""
import datetime as dt
import math
import re
from fractions import Fraction

import pymysql

from zabbix_sepa.dataset.schema import DOCTYPES, table

OPTIONAL = {"SEPA Payment Retry": ("sepa.retry.pending", "sepa.retry.escalated"),
            "SEPA Audit Log": ("sepa.audit.events_7d", "sepa.audit.exceptions_7d", "sepa.audit.compliance_rate_7d"),
            "Activity Log": ("sepa.users.active_24h",)}

PENDING = ("Draft", "Generated", "Submitted", "Partially Collected")
FAILED = ("Failed", "Partially Failed", "Rolled Back")
FINISHED = ("Processed", "Partially Processed") + FAILED
BATCH_STATUS_KEYS = {"draft": "Draft", "generated": "Generated", "submitted": "Submitted",
                     "processed": "Processed", "failed": "Failed", "rolled_back": "Rolled Back"}
MANDATE_STATUS_KEYS = {"active": "Active", "draft": "Draft", "suspended": "Suspended",
                       "cancelled": "Cancelled", "expired": "Expired"}
ERROR_CATEGORIES = [  # in the contract's order: the first that matches wins
    ("permission", ("PermissionError", "Not permitted", "Insufficient Permission")),
    ("validation", ("ValidationError", "MandatoryError", "LinkValidationError")),
    ("database", ("OperationalError", "ProgrammingError", "IntegrityError", "InterfaceError", "Deadlock",
                  "Lock wait timeout")),
    ("timeout", ("TimeoutError", "JobTimeoutException", "timed out")),
    ("integration", ("ConnectionError", "HTTPError", "requests.exceptions", "SMTPException", "Connection refused")),
]
SEPA_ERROR_WORDS = ("sepa", "direct debit", "direct_debit", "mandate")
SEPA_JOB_WORDS = ("sepa", "dues", "direct_debit", "payment_retry", "mandate")
IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


def load_rows(conn):
    """{doctype: [row dict, ...]} for every table of the schema present in the current
    database, ordered by name; datetime, date and Decimal values as Python objects."""
    with conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
        present = {name for (name,) in cur.fetchall()}
    rows = {}
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        for doctype in DOCTYPES:
            if table(doctype) in present:
                cur.execute(f"SELECT * FROM `{table(doctype)}` ORDER BY name")
                rows[doctype] = list(cur.fetchall())
    return rows


# -- comparison helpers ------------------------------------------------------

def _fold(value):
    """The collation key of a value: case-insensitive, trailing spaces ignored."""
    return None if value is None else str(value).rstrip(" ").casefold()


def _is(value, *names):
    return _fold(value) is not None and _fold(value) in {_fold(n) for n in names}


def _contains(text, words):
    text = (text or "").casefold()
    return any(w.casefold() in text for w in words)


def _months_before(day, months):
    """day - `months` months with the day clamped to the month's end, as MariaDB's
    DATE_SUB(day, INTERVAL months MONTH)."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = (dt.date(y + (m + 1) // 12, (m + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(y, m + 1, min(day.day, last))


def _pct(part, whole):
    """part / whole x 100 with two decimals, halves rounded away from zero (computed exactly)."""
    value = Fraction(part) * 100 / Fraction(whole)
    sign = -1 if value < 0 else 1
    return sign * math.floor(abs(value) * 100 + Fraction(1, 2)) / 100


def _amount(values):
    return float(sum((v for v in values if v is not None), start=0))


def normalise_iban(iban):
    return None if iban is None else iban.replace(" ", "").upper()


def iban_valid(iban):
    """The contract's test: normalised, shape `^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$`, ISO 13616 mod 97."""
    s = normalise_iban(iban)
    if s is None or not IBAN_SHAPE.fullmatch(s):
        return False
    return int("".join(str(int(ch, 36)) for ch in s[4:] + s[:4])) % 97 == 1


def bank_code(iban):
    s = normalise_iban(iban)
    return None if s is None else f"{s[:2]}:{s[4:8]}"


def error_category(method, error):
    for category, patterns in ERROR_CATEGORIES:
        # method and error are searched separately: a pattern spread over both does not count
        if _contains(method, patterns) or _contains(error, patterns):
            return category
    return "other"


# -- the truth ---------------------------------------------------------------

class _Clock:
    def __init__(self, now):
        self.now, self.today = now, now.date()

    def within(self, t, delta):
        return t is not None and self.now - delta <= t <= self.now

    def within_days(self, d, days):
        return d is not None and self.today - dt.timedelta(days=days) <= d <= self.today

    def before(self, t, delta):
        """strictly more than `delta` before N"""
        return t is not None and t < self.now - delta

    def age(self, t):
        return (self.now - t).total_seconds()


def _live(rows, now):
    # AMBIGUITY: a NULL creation is not "after N", so such a row is kept (it then
    # falls in no time window). Frappe always sets creation; the generator too.
    return [r for r in rows if r["creation"] is None or r["creation"] <= now]


def active_users(activity, clock):
    """The users (collation keys) with a successful login within 24h: operation Login and status
    Success as the collation compares them; Guest, and rows naming no user (NULL, blank), are
    nobody. Administrator is a user like any other."""
    logins = [a for a in activity if clock.within(a["creation"], dt.timedelta(hours=24))
              and _is(a["operation"], "Login") and _is(a["status"], "Success")]
    return {_fold(a["user"]) for a in logins} - {None, "", _fold("Guest")}


def truth(rows, now, *, batch_stuck_hours=2, batch_unprocessed_hours=72, max_batches=100):
    """{"metrics": {key: value}, "discovery": {"batches", "banks", "jobs"}, "unsupported": {keys}}.

    The collector's own keys (sepa.db.*, sepa.collector.*) are not derivable from
    rows and are left out."""
    c = _Clock(now)
    live = {doctype: _live(table_rows, now) for doctype, table_rows in rows.items()}
    metrics, discovery = {}, {}
    unsupported = {key for doctype, keys in OPTIONAL.items() if doctype not in rows for key in keys}
    hours, days = (lambda n: dt.timedelta(hours=n)), (lambda n: dt.timedelta(days=n))

    # -- batches and their entries
    batches = [b for b in live["Direct Debit Batch"] if b["docstatus"] != 2]
    by_name = {_fold(b["name"]): b for b in batches}
    entries_of = {}
    for e in live["Direct Debit Batch Invoice"]:
        batch = by_name.get(_fold(e["parent"]))
        if batch is not None:           # entries of cancelled, later or missing batches do not count
            entries_of.setdefault(batch["name"], []).append(e)
    pending = [b for b in batches if _is(b["status"], *PENDING)]
    failed = [b for b in batches if _is(b["status"], *FAILED)]
    in30 = [b for b in batches if c.within_days(b["batch_date"], 30)]
    in7 = [b for b in batches if c.within_days(b["batch_date"], 7)]
    finished30 = [b for b in in30 if _is(b["status"], *FINISHED)]
    processed30 = [b for b in in30 if _is(b["status"], "Processed")]
    entries7 = [e for b in in7 for e in entries_of.get(b["name"], [])]
    failed7 = [e for e in entries7 if _is(e["status"], "Failed")]

    metrics["sepa.batch.total"] = len(batches)
    metrics["sepa.batch.created_24h"] = sum(c.within(b["creation"], hours(24)) for b in batches)
    for key, status in BATCH_STATUS_KEYS.items():
        metrics[f"sepa.batch.status[{key}]"] = sum(_is(b["status"], status) for b in batches)
    # AMBIGUITY: a NULL status is "every other status" here, so that the seven keys add up to the total.
    metrics["sepa.batch.status[other]"] = sum(not _is(b["status"], *BATCH_STATUS_KEYS.values()) for b in batches)
    metrics["sepa.batch.pending.count"] = len(pending)
    metrics["sepa.batch.pending.amount"] = _amount(b["total_amount"] for b in pending)
    metrics["sepa.batch.pending.oldest_age"] = (c.age(min(b["creation"] for b in pending))
                                                if pending else 0)
    metrics["sepa.batch.stuck"] = sum(
        (_is(b["status"], "Draft", "Generated") and c.before(b["creation"], hours(batch_stuck_hours)))
        or (_is(b["status"], "Submitted") and c.before(b["creation"], hours(batch_unprocessed_hours)))
        for b in batches)
    metrics["sepa.batch.failed_24h"] = sum(c.within(b["modified"], hours(24)) for b in failed)
    metrics["sepa.batch.failed_7d"] = sum(c.within(b["modified"], days(7)) for b in failed)
    metrics["sepa.batch.success_rate_30d"] = _pct(len(processed30), len(finished30)) if finished30 else 100.0
    metrics["sepa.batch.collected_amount_30d"] = _amount(b["total_amount"] for b in processed30)
    metrics["sepa.batch.entry.failed_7d"] = len(failed7)
    metrics["sepa.batch.entry.failure_rate_7d"] = _pct(len(failed7), len(entries7)) if entries7 else 0.0

    # -- mandates
    mandates = live["SEPA Mandate"]
    active = [m for m in mandates if _is(m["status"], "Active")]
    uses = {}
    for u in live["SEPA Mandate Usage"]:
        # AMBIGUITY: "status not Cancelled" taken literally, so a NULL status is a use.
        if not _is(u["status"], "Cancelled") and u["usage_date"] is not None:
            key = _fold(u["parent"])
            uses[key] = max(uses.get(key, u["usage_date"]), u["usage_date"])
    horizon = _months_before(c.today, 36)

    def dormant(m):
        # AMBIGUITY: "or sign_date when it has none" read as: none of those (non-Cancelled)
        # usage rows, so a mandate with only Cancelled uses falls back to sign_date.
        # Without usage and sign_date there is no last use, and it is not dormant.
        last = uses.get(_fold(m["name"]), m["sign_date"])
        return last is not None and last < horizon

    metrics["sepa.mandate.total"] = len(mandates)
    for key, status in MANDATE_STATUS_KEYS.items():
        metrics[f"sepa.mandate.status[{key}]"] = sum(_is(m["status"], status) for m in mandates)
    metrics["sepa.mandate.status[other]"] = sum(not _is(m["status"], *MANDATE_STATUS_KEYS.values()) for m in mandates)
    metrics["sepa.mandate.expiring_30d"] = sum(
        m["expiry_date"] is not None and c.today <= m["expiry_date"] <= c.today + days(30) for m in active)
    metrics["sepa.mandate.expired_active"] = sum(
        m["expiry_date"] is not None and m["expiry_date"] < c.today for m in active)
    metrics["sepa.mandate.dormant"] = sum(dormant(m) for m in active)
    # AMBIGUITY: a NULL iban "does not match" the pattern, so it counts as invalid.
    metrics["sepa.mandate.iban_invalid"] = sum(not iban_valid(m["iban"]) for m in active)
    metrics["sepa.mandate.created_30d"] = sum(c.within(m["creation"], days(30)) for m in mandates)
    metrics["sepa.mandate.cancelled_30d"] = sum(c.within_days(m["cancelled_date"], 30) for m in mandates)

    # -- members and volunteers
    members = live["Member"]
    with_mandate = {_fold(m["member"]) for m in active if m["member"] is not None}
    metrics["sepa.member.sepa_without_mandate"] = sum(
        _is(p["status"], "Active") and _is(p["payment_method"], "SEPA Direct Debit")
        and _fold(p["name"]) not in with_mandate for p in members)
    metrics["sepa.member.active"] = sum(_is(p["status"], "Active") for p in members)
    metrics["sepa.member.new_30d"] = sum(c.within(p["creation"], days(30)) for p in members)
    metrics["sepa.volunteer.active"] = sum(_is(v["status"], "Active") for v in live["Volunteer"])

    # -- invoices
    submitted = [i for i in live["Sales Invoice"] if i["docstatus"] == 1]
    owing = [i for i in submitted if i["outstanding_amount"] > 0]
    overdue = [i for i in owing if i["due_date"] is not None and i["due_date"] < c.today]
    metrics["sepa.invoice.outstanding.amount"] = _amount(i["outstanding_amount"] for i in owing)
    metrics["sepa.invoice.overdue.count"] = len(overdue)
    metrics["sepa.invoice.overdue.amount"] = _amount(i["outstanding_amount"] for i in overdue)
    metrics["sepa.invoice.created_24h"] = sum(c.within(i["creation"], hours(24)) for i in submitted)
    metrics["sepa.invoice.last_age"] = c.age(max(i["creation"] for i in submitted)) if submitted else -1
    submitted_by_name = {_fold(i["name"]): i for i in submitted}
    collected = {}
    for b in in30:
        for e in entries_of.get(b["name"], []):
            invoice = submitted_by_name.get(_fold(e["invoice"]))
            if invoice is not None:
                collected[invoice["name"]] = invoice        # distinct invoices
    gross = sum((i["grand_total"] for i in collected.values()), start=0)
    paid = sum((i["grand_total"] - i["outstanding_amount"] for i in collected.values()), start=0)
    metrics["sepa.collection.rate_30d"] = _pct(paid, gross) if collected and gross != 0 else 100.0

    # -- optional tables
    if "SEPA Payment Retry" in rows:
        retries = live["SEPA Payment Retry"]
        metrics["sepa.retry.pending"] = sum(_is(r["status"], "Pending", "Scheduled") for r in retries)
        metrics["sepa.retry.escalated"] = sum(_is(r["status"], "Escalated") for r in retries)
    if "SEPA Audit Log" in rows:
        events = [a for a in live["SEPA Audit Log"] if c.within(a["creation"], days(7))]
        # "non-empty" as the collation sees it: NULL, '' and blanks-only are empty
        rated = [a for a in events if _fold(a["compliance_status"]) not in (None, "")]
        metrics["sepa.audit.events_7d"] = len(events)
        metrics["sepa.audit.exceptions_7d"] = sum(_is(a["compliance_status"], "EXCEPTION", "FAILED", "ERROR")
                                                  for a in events)
        metrics["sepa.audit.compliance_rate_7d"] = (
            _pct(sum(_is(a["compliance_status"], "Compliant") for a in rated), len(rated)) if rated else 100.0)

    if "Activity Log" in rows:
        metrics["sepa.users.active_24h"] = len(active_users(live["Activity Log"], c))

    # -- dues
    schedules = [d for d in live["Membership Dues Schedule"] if d["is_template"] == 0 and _is(d["status"], "Active")]
    metrics["sepa.dues.active"] = len(schedules)
    metrics["sepa.dues.stuck"] = sum(d["auto_generate"] == 1 and d["next_invoice_date"] is not None
                                     and d["next_invoice_date"] < c.today for d in schedules)

    # -- errors
    errors = live["Error Log"]
    errors24 = [e for e in errors if c.within(e["creation"], hours(24))]
    metrics["sepa.error.count_1h"] = sum(c.within(e["creation"], hours(1)) for e in errors)
    metrics["sepa.error.count_24h"] = len(errors24)
    categories = [error_category(e["method"], e["error"]) for e in errors24]
    for category in [name for name, _ in ERROR_CATEGORIES] + ["other"]:
        metrics[f"sepa.error.category_24h[{category}]"] = categories.count(category)
    metrics["sepa.error.sepa_24h"] = sum(
        _contains(e["method"], SEPA_ERROR_WORDS) or _contains(e["error"], SEPA_ERROR_WORDS) for e in errors24)

    # -- scheduler
    logs = live["Scheduled Job Log"]
    metrics["sepa.scheduler.failed_24h"] = sum(_is(g["status"], "Failed") and c.within(g["creation"], hours(24))
                                               for g in logs)
    metrics["sepa.scheduler.last_activity_age"] = c.age(max(g["creation"] for g in logs)) if logs else -1

    # -- discovery: batches
    listed = [b for b in batches if _is(b["status"], *PENDING) or c.within_days(b["batch_date"], 7)]
    listed.sort(key=lambda b: b["name"], reverse=True)          # ties on creation: name descending
    listed.sort(key=lambda b: b["creation"], reverse=True)      # stable: newest first
    discovery["batches"] = [{
        "{#BATCH}": b["name"], "{#STATUS}": b["status"] or "", "{#TYPE}": b["batch_type"] or "",
        "age": c.age(b["creation"]),
        "waiting_age": c.age(b["creation"]) if _is(b["status"], "Draft", "Generated", "Submitted") else 0.0,
        "entries": len(entries_of.get(b["name"], [])),
        "amount": float(b["total_amount"]),
        "failed_entries": sum(_is(e["status"], "Failed") for e in entries_of.get(b["name"], [])),
    } for b in listed[:max_batches]]

    # -- discovery: banks
    banks = {}
    for m in active:
        if iban_valid(m["iban"]):
            code = bank_code(m["iban"])
            banks[code] = banks.get(code, 0) + 1
    failed_by_bank = {}
    for b in in30:
        for e in entries_of.get(b["name"], []):
            # AMBIGUITY: entries are only "normalised the same way" and mapped to a bank;
            # an entry IBAN failing the validity test still counts for its bank code.
            if _is(e["status"], "Failed") and e["iban"] is not None:
                code = bank_code(e["iban"])
                failed_by_bank[code] = failed_by_bank.get(code, 0) + 1
    discovery["banks"] = [{"{#BANK}": code, "mandates": n, "failed_entries_30d": failed_by_bank.get(code, 0)}
                          for code, n in sorted(banks.items())]

    # -- discovery: jobs
    logs_of = {}
    for g in logs:
        logs_of.setdefault(_fold(g["scheduled_job_type"]), []).append(g)
    jobs = [j for j in live["Scheduled Job Type"] if _contains(j["method"], SEPA_JOB_WORDS)]
    discovery["jobs"] = []
    for j in sorted(jobs, key=lambda j: j["name"]):
        own = logs_of.get(_fold(j["name"]), [])
        complete = [g["creation"] for g in own if _is(g["status"], "Complete")]
        discovery["jobs"].append({
            "{#JOB}": j["name"], "last_success_age": c.age(max(complete)) if complete else -1,
            "failed_24h": sum(_is(g["status"], "Failed") and c.within(g["creation"], hours(24)) for g in own)})

    return {"metrics": metrics, "discovery": discovery, "unsupported": unsupported}
