"""Ground truth for the reports, in plain Python from the rows (tests/oracle.py's way).

Shares no code with zabbix_sepa.reports: each figure is recomputed from every row of
`oracle.load_rows`, with the contract's conventions (rows created after N do not exist,
cancelled batches do not exist, statuses compare as the collation does). The period of
`days` is N - days .. N on datetimes and D - days .. D on dates; the previous period is
as long and ends just before it.
"""
import datetime as dt
import re

from tests.oracle import FAILED, FINISHED, _Clock, _fold, _is, _live, _pct, active_users

DAY = dt.timedelta(days=1)


class Period:
    def __init__(self, now, days):
        self.now, self.today = now, now.date()
        span = dt.timedelta(days=days)
        self.since, self.first = now - span, self.today - span
        self.p_since, self.p_until = now - 2 * span, now - span
        self.p_first, self.p_last = self.today - 2 * span - DAY, self.first - DAY

    def current(self, t):
        return t is not None and self.since <= t <= self.now

    def previous(self, t):
        return t is not None and self.p_since <= t < self.p_until

    def current_date(self, d):
        return d is not None and self.first <= d <= self.today

    def previous_date(self, d):
        return d is not None and self.p_first <= d <= self.p_last


def _tables(rows, now):
    live = {doctype: _live(table_rows, now) for doctype, table_rows in rows.items()}
    batches = [b for b in live["Direct Debit Batch"] if b["docstatus"] != 2]
    by_name = {_fold(b["name"]): b for b in batches}
    entries_of = {}
    for e in live["Direct Debit Batch Invoice"]:
        b = by_name.get(_fold(e["parent"]))
        if b is not None:
            entries_of.setdefault(b["name"], []).append(e)
    return live, batches, entries_of


def operational(rows, now, days):
    p = Period(now, days)
    _, batches, entries_of = _tables(rows, now)
    out = []
    for b in batches:
        if p.current_date(b["batch_date"]):
            entries = entries_of.get(b["name"], [])
            out.append({"batch": b["name"], "batch_date": b["batch_date"].isoformat(), "status": b["status"],
                        "entries": len(entries), "failed_entries": sum(_is(e["status"], "Failed") for e in entries),
                        "amount": float(b["total_amount"] or 0),
                        "age_hours": round((now - b["creation"]).total_seconds() / 3600, 1)})
    out.sort(key=lambda r: (r["batch_date"], _fold(r["batch"])), reverse=True)
    return out


def executive(rows, now, days):
    """{kpi label: (current, previous)} for the period KPIs."""
    p = Period(now, days)
    live, batches, entries_of = _tables(rows, now)
    submitted = {_fold(i["name"]): i for i in live["Sales Invoice"] if i["docstatus"] == 1}
    out = {}
    for label, in_window in (("current", p.current_date), ("previous", p.previous_date)):
        mine = [b for b in batches if in_window(b["batch_date"])]
        processed = [b for b in mine if _is(b["status"], "Processed")]
        finished = [b for b in mine if _is(b["status"], *FINISHED)]
        entries = [e for b in mine for e in entries_of.get(b["name"], [])]
        invoices = {}
        for e in entries:
            inv = submitted.get(_fold(e["invoice"]))
            if inv is not None:
                invoices[inv["name"]] = inv
        gross = sum((i["grand_total"] for i in invoices.values()), start=0)
        paid = sum((i["grand_total"] - i["outstanding_amount"] for i in invoices.values()), start=0)
        out[label] = {
            "Collected by direct debit (EUR)": round(float(sum((b["total_amount"] for b in processed), start=0)), 2),
            "Batch success rate (%)": _pct(len(processed), len(finished)) if finished else 100.0,
            "Collection rate (%)": _pct(paid, gross) if gross else 100.0,
            "Batches": len(mine),
            "Failed batches": sum(_is(b["status"], *FAILED) for b in mine),
            "Batch entries": len(entries),
            "Failed batch entries": sum(_is(e["status"], "Failed") for e in entries),
        }
    in_time = {"current": p.current, "previous": p.previous}
    in_date = {"current": p.current_date, "previous": p.previous_date}
    for label in ("current", "previous"):
        out[label]["New members"] = sum(in_time[label](m["creation"]) for m in live["Member"])
        out[label]["New mandates"] = sum(in_time[label](m["creation"]) for m in live["SEPA Mandate"])
        out[label]["Cancelled mandates"] = sum(in_date[label](m["cancelled_date"]) for m in live["SEPA Mandate"])
    return {k: (out["current"][k], out["previous"][k]) for k in out["current"]}


def financial(rows, now, days):
    """(invoiced per posting date, paid per posting date, collected per batch date, ageing, retries)."""
    p = Period(now, days)
    live, batches, _ = _tables(rows, now)
    invoiced, paid, collected = {}, {}, {}
    submitted = [i for i in live["Sales Invoice"] if i["docstatus"] == 1]
    for i in submitted:
        if p.current_date(i["posting_date"]):
            invoiced[i["posting_date"]] = invoiced.get(i["posting_date"], 0) + i["grand_total"]
            paid[i["posting_date"]] = paid.get(i["posting_date"], 0) + i["grand_total"] - i["outstanding_amount"]
    for b in batches:
        if _is(b["status"], "Processed") and p.current_date(b["batch_date"]):
            collected[b["batch_date"]] = collected.get(b["batch_date"], 0) + b["total_amount"]
    ageing = {name: [0, 0] for name in ("not overdue", "1-30 days", "31-60 days", "61-90 days", "over 90 days")}
    for i in submitted:
        if i["outstanding_amount"] > 0:
            late = None if i["due_date"] is None else (p.today - i["due_date"]).days
            name = ("not overdue" if late is None or late <= 0 else "1-30 days" if late <= 30 else
                    "31-60 days" if late <= 60 else "61-90 days" if late <= 90 else "over 90 days")
            ageing[name][0] += 1
            ageing[name][1] += i["outstanding_amount"]
    retries = None
    if "SEPA Payment Retry" in live:
        retries = {}
        for r in live["SEPA Payment Retry"]:
            key = _fold(r["status"])
            n, attempts = retries.get(key, (0, 0))
            retries[key] = (n + 1, attempts + (r["retry_count"] or 0))
    return invoiced, paid, collected, ageing, retries


def mandates(rows, now, days):
    p = Period(now, days)
    live = {doctype: _live(table_rows, now) for doctype, table_rows in rows.items()}
    ms = live["SEPA Mandate"]

    def signed(m):                       # past Draft; a NULL status is past nothing
        return m["status"] is not None and not _is(m["status"], "Draft")

    lifecycle = {
        "created": (sum(p.current(m["creation"]) for m in ms), sum(p.previous(m["creation"]) for m in ms)),
        "activated (signed, past Draft)": (sum(signed(m) and p.current_date(m["sign_date"]) for m in ms),
                                           sum(signed(m) and p.previous_date(m["sign_date"]) for m in ms)),
        "cancelled": (sum(p.current_date(m["cancelled_date"]) for m in ms),
                      sum(p.previous_date(m["cancelled_date"]) for m in ms)),
        "expired": (sum(p.current_date(m["expiry_date"]) and m["expiry_date"] < p.today for m in ms),
                    sum(p.previous_date(m["expiry_date"]) for m in ms)),
    }
    statuses = {}
    for m in ms:
        statuses[_fold(m["status"])] = statuses.get(_fold(m["status"]), 0) + 1
    active = [m for m in ms if _is(m["status"], "Active") and m["expiry_date"] is not None]
    expiring = {n: sum(p.today <= m["expiry_date"] <= p.today + n * DAY for m in active) for n in (30, 60, 90)}
    return lifecycle, statuses, expiring


CODE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def daily(rows, now):
    """(errors per shown method, batches per status, failures per job, active users: None
    without an Activity Log)."""
    live = {doctype: _live(table_rows, now) for doctype, table_rows in rows.items()}
    h24, d7 = now - dt.timedelta(hours=24), now - dt.timedelta(days=7)
    methods = {}
    for e in live["Error Log"]:
        if h24 <= e["creation"] <= now:
            m = e["method"]
            shown = ("(no method)" if not (m or "").rstrip(" ") else m if CODE_PATH.fullmatch(m)
                     else "(free-text title, not shown)")
            methods[shown] = methods.get(shown, 0) + 1
    batches = {}
    for b in live["Direct Debit Batch"]:
        if b["docstatus"] != 2 and b["modified"] is not None and d7 <= b["modified"] <= now:
            batches[_fold(b["status"])] = batches.get(_fold(b["status"]), 0) + 1
    failures = {}
    for g in live["Scheduled Job Log"]:
        if _is(g["status"], "Failed") and h24 <= g["creation"] <= now:
            failures[_fold(g["scheduled_job_type"])] = failures.get(_fold(g["scheduled_job_type"]), 0) + 1
    users = len(active_users(live["Activity Log"], _Clock(now))) if "Activity Log" in live else None
    return methods, batches, failures, users
