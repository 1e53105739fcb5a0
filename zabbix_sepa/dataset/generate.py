"""Seeded, deterministic dataset of a Verenigingen site, generated in SQL.

`generate(conn, scale, now, seed)` creates the Frappe schema in the (empty)
current database of `conn` and fills it. Every bulk row comes from an
`INSERT ... SELECT` over MariaDB's sequence engine (`seq_1_to_N`); its
pseudo-random choices are pure functions of (seed, tag, key), so the same
seed, scale and `now` always give identical data, whatever plan the server
picks. Python only supplies small fixed lists: the scenario rows that put
every rule of docs metrics.md on its boundaries (at every scale, tiny
included), and the Scheduled Job Types.

Times are spread over about three years before N (= `now`), weighted towards
the windows the metrics look at (1 h, 24 h, 7 d, 30 d); about 1 % of the rows
of every table, child tables included, is created after N and must be ignored
by the collector.
"""
import dataclasses
import datetime as dt

from pymysql.converters import escape_string

from zabbix_sepa.dataset.schema import create_schema, table

# Bump when the data a seed produces changes (the benchmark keeps datasets by version).
GENERATOR_VERSION = 2       # 2: the Activity Log


@dataclasses.dataclass(frozen=True)
class Scale:
    members: int
    mandates: int
    usage_max: int          # usage rows per mandate: 0 for a quarter, else 1..usage_max
    invoices: int
    batches: int
    entries_per_batch: int  # average; 1..2x-1 per batch
    dues: int               # member schedules (templates come on top)
    volunteers: int
    errors: int
    job_logs: int
    retries: int
    audit: int
    activity: int           # Activity Log rows: logins, logouts, failed logins, feed
    users: int              # the accounts those rows are of (staff and members on the portal)


SCALES = {
    "tiny": Scale(members=80, mandates=72, usage_max=4, invoices=160, batches=40, entries_per_batch=3,
                  dues=80, volunteers=12, errors=90, job_logs=150, retries=16, audit=40,
                  activity=150, users=12),
    "prod": Scale(members=5_000, mandates=4_500, usage_max=36, invoices=25_000, batches=250,
                  entries_per_batch=100, dues=5_000, volunteers=300, errors=5_000, job_logs=20_000,
                  retries=500, audit=3_000, activity=30_000, users=400),
    "large": Scale(members=200_000, mandates=200_000, usage_max=36, invoices=2_000_000, batches=20_000,
                   entries_per_batch=100, dues=200_000, volunteers=12_000, errors=500_000,
                   job_logs=1_000_000, retries=20_000, audit=100_000, activity=1_500_000, users=20_000),
}

CHUNK = 250_000       # rows per INSERT ... SELECT; keeps single statements and undo logs moderate
DUES_TEMPLATES = 4

HOUR, DAY = 3600, 86400
# Creation-time profiles: (share, seconds before N from, to). The remaining
# ~1 % (key % 100 = 42) is created after N; see Rand.creation.
SPREAD = [(0.002, 0, HOUR), (0.008, HOUR, DAY), (0.03, DAY, 7 * DAY), (0.08, 7 * DAY, 30 * DAY),
          (0.30, 30 * DAY, 365 * DAY), (0.58, 365 * DAY, 3 * 365 * DAY)]
BATCH_SPREAD = [(0.004, 0, HOUR), (0.016, HOUR, DAY), (0.05, DAY, 7 * DAY), (0.10, 7 * DAY, 30 * DAY),
                (0.33, 30 * DAY, 365 * DAY), (0.50, 365 * DAY, 3 * 365 * DAY)]
LOG_SPREAD = [(0.012, 0, HOUR), (0.09, HOUR, DAY), (0.20, DAY, 7 * DAY), (0.30, 7 * DAY, 30 * DAY),
              (0.40, 30 * DAY, 180 * DAY)]
# Frappe deletes Activity Log rows after 90 days (Log Settings); ~3 % of them are of the last day.
ACTIVITY_SPREAD = [(0.004, 0, HOUR), (0.026, HOUR, DAY), (0.20, DAY, 7 * DAY), (0.77, 7 * DAY, 90 * DAY)]

FIRST_NAMES = ["Anna", "Bram", "Daan", "Emma", "Eva", "Femke", "Fleur", "Jan", "Joris", "Julia", "Lars",
               "Lieke", "Lotte", "Luuk", "Maarten", "Marloes", "Noah", "Noor", "Pieter", "Roos", "Sanne",
               "Sem", "Sophie", "Thijs", "Tim", "Willem", "Yara", "Zoë", "Hanneke", "Koen", "Ilse", "Gert"]
LAST_NAMES = ["de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
              "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer",
              "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "Kok", "Jacobs", "Vermeulen",
              "van Dijk", "Schouten", "Willems", "Hoekstra", "Koster", "Claes", "Müller"]

# Banks members bank with: (country, bank part of the BBAN, account digits, BIC, weight).
# The bank code of metrics.md is characters 5-8 of the IBAN, so Belgian IBANs
# (3-digit bank code + account) spread over many "banks", as on a real site.
BANKS = [("NL", "INGB", 10, "INGBNL2A", 30), ("NL", "RABO", 10, "RABONL2U", 25),
         ("NL", "ABNA", 10, "ABNANL2A", 18), ("NL", "SNSB", 10, "SNSBNL2A", 5),
         ("NL", "ASNB", 10, "ASNBNL21", 4), ("NL", "TRIO", 10, "TRIONL2U", 3),
         ("NL", "KNAB", 10, "KNABNL2H", 2), ("NL", "BUNQ", 10, "BUNQNL2A", 3),
         ("DE", "37040044", 10, "COBADEFFXXX", 3), ("DE", "10010010", 10, "PBNKDEFFXXX", 1),
         ("BE", "001", 9, "GEBABEBB", 3), ("BE", "539", 9, "ARSPBE22", 1),
         ("FR", "3000600001", 13, "AGRIFRPP", 1), ("NO", "8601", 7, "DNBANOKK", 1)]

AMOUNTS = ["5.00", "7.50", "10.00", "12.50", "15.00", "18.75", "25.00", "30.00", "50.00", "60.00", "120.00"]

ENTRY_FAILURES = [("AM04", "Insufficient funds"), ("MD01", "No valid mandate"), ("AC04", "Account closed"),
                  ("MS02", "Refused by debtor"), ("AC01", "Incorrect account number")]

ERROR_METHODS = [
    ("verenigingen.verenigingen.doctype.direct_debit_batch.direct_debit_batch.process_batch", 8),
    ("verenigingen.utils.sepa_mandate_lifecycle.check_expiring_mandates", 4),
    ("SEPA Direct Debit batch generation failed", 3), ("Direct Debit Batch Error", 2),
    ("MANDATE sync", 1), ("Insufficient Permission for SEPA Mandate", 1),
    ("verenigingen.utils.dues_schedule.generate_dues_invoices", 6),
    ("verenigingen.utils.payment_retry.process_payment_retries", 3),
    ("verenigingen.api.member_management.assign_member_to_chapter", 6),
    ("verenigingen.utils.mollie_integration.fetch_payments", 4),
    ("frappe.email.queue.flush", 10), ("frappe.core.doctype.communication.email.make", 4),
    ("erpnext.accounts.doctype.payment_entry.payment_entry.get_outstanding_reference_documents", 4),
    ("frappe.desk.form.save.savedocs", 8), ("frappe.integrations.utils.make_post_request", 3),
    ("Scheduled Job Failed", 3), ("Permission check failed", 1), ("", 1), (None, 1),
    ("Direct-Debit export failed", 1),   # no SEPA word, though LIKE '%direct_debit%' would match it
]
TRACEBACK = ('Traceback (most recent call last):\n  File "apps/frappe/frappe/app.py", line 114, in application\n'
             '    response = frappe.api.handle(request)\n  File "apps/verenigingen/verenigingen/hooks.py", '
             'line 57, in run\n')
ERROR_TEXTS = [  # exception lines; several match more than one category, on purpose
    ("frappe.exceptions.PermissionError: Not permitted", 4),
    ("frappe.exceptions.PermissionError: Insufficient Permission for Direct Debit Batch", 2),
    ("NOT PERMITTED to access Member", 1),
    ("frappe.exceptions.ValidationError: Not permitted to submit this batch", 1),
    ("frappe.exceptions.ValidationError: Invalid IBAN checksum", 5),
    ("frappe.exceptions.MandatoryError: [Sales Invoice]: due_date", 3),
    ("frappe.exceptions.LinkValidationError: Could not find Membership Type", 2),
    ("validationerror: mandate is not active", 1),
    ("pymysql.err.OperationalError: (1205, 'Lock wait timeout exceeded; try restarting transaction')", 3),
    ("pymysql.err.OperationalError: (1213, 'Deadlock found when trying to get lock; try restarting transaction')", 2),
    ("pymysql.err.ProgrammingError: (1146, \"Table 'tabSEPA Audit Log' doesn't exist\")", 1),
    ("pymysql.err.IntegrityError: (1062, \"Duplicate entry for key 'mandate_id'\")", 2),
    ("pymysql.err.InterfaceError: (0, '')", 1),
    ("frappe.exceptions.ValidationError: pymysql.err.OperationalError while saving", 1),
    ("rq.timeouts.JobTimeoutException: Task exceeded maximum timeout value (300 seconds)", 2),
    ("TimeoutError: [Errno 110] Connection timed out", 2),
    ("requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.bank.example', port=443): Read timed out.", 2),
    ("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.psp.example', port=443): "
     "Max retries exceeded ([Errno 111] Connection refused)", 3),
    ("requests.exceptions.HTTPError: 502 Server Error: Bad Gateway for url: https://api.bank.example/v1/debits", 2),
    ("smtplib.SMTPException: SMTP AUTH extension not supported by server.", 2),
    ("ConnectionRefusedError: [Errno 111] Connection refused", 1),
    ("KeyError: 'sequence_type'", 3), ("AttributeError: 'NoneType' object has no attribute 'iban'", 3),
    ("ZeroDivisionError: division by zero", 1),
    ("frappe.exceptions.DoesNotExistError: SEPA Mandate not found", 2),
    ("ValueError: could not separate amount and currency", 1),   # 'sepa' inside 'separate'
    ("frappe.exceptions.TimestampMismatchError: Document has been modified after you have opened it", 3),
    ("DEADLOCK detected in direct_debit reconciliation", 1),
]

# Scheduled Job Types: (name, method, frequency, stopped, log weight). Frappe
# names them after the last two parts of the method.
JOB_TYPES = [
    ("direct_debit_batch.process_pending_batches",
     "verenigingen.verenigingen.doctype.direct_debit_batch.direct_debit_batch.process_pending_batches",
     "Hourly", 0, 8),
    ("sepa_mandate_lifecycle.check_expiring_mandates",
     "verenigingen.utils.sepa_mandate_lifecycle.check_expiring_mandates", "Daily", 0, 2),
    ("dues_schedule.generate_dues_invoices", "verenigingen.utils.dues_schedule.generate_dues_invoices", "Daily", 0, 2),
    ("payment_retry.process_payment_retries", "verenigingen.utils.payment_retry.process_payment_retries",
     "Daily", 0, 2),
    ("sepa_reconciliation.reconcile_bank_transactions",
     "verenigingen.utils.sepa_reconciliation.reconcile_bank_transactions", "Hourly", 0, 6),
    # a SEPA job that never completed: only Failed and Scheduled log rows
    ("sepa_notifications.send_mandate_notifications",
     "verenigingen.utils.sepa_notifications.send_mandate_notifications", "Daily", 0, 2),
    ("SEPA_audit.rotate_audit_log", "verenigingen.utils.SEPA_audit.rotate_audit_log", "Weekly", 0, 1),
    ("mandates_report.send_monthly_report", "verenigingen.utils.mandates_report.send_monthly_report", "Monthly", 1, 1),
    # stopped SEPA job without any log row
    ("sepa_legacy.import_mandates", "verenigingen.utils.sepa_legacy.import_mandates", "Daily", 1, 0),
    # SEPA-looking name, unrelated method: not a SEPA job by the contract's rule
    ("SEPA Daily Summary", "verenigingen.utils.reports.daily_summary", "Daily", 0, 2),
    ("queue.flush", "frappe.email.queue.flush", "All", 0, 40),
    ("notifications.clear_notifications", "frappe.desk.notifications.clear_notifications", "Daily", 0, 2),
    ("log_settings.run_log_clean_up", "frappe.core.doctype.log_settings.log_settings.run_log_clean_up", "Daily", 0, 2),
    ("utils.auto_create_exchange_rate_revaluation_daily",
     "erpnext.accounts.utils.auto_create_exchange_rate_revaluation_daily", "Daily", 0, 2),
    ("member_status.update_member_statuses", "verenigingen.utils.member_status.update_member_statuses",
     "Hourly", 0, 8),
    ("Nightly cleanup (server script)", None, "Cron", 0, 1),
]
# Activity Log rows: (operation, status, subject after the user's full name, weight). What
# frappe.auth and activity_log/feed.py write (feed rows: no operation, status Linked), and
# spellings the site's collation takes for them.
ACTIVITY_KINDS = [("Login", "Success", " logged in", 50), ("Login", "Failed", ": Invalid login credentials", 8),
                  ("Logout", "Success", " logged out: User Manually Logged Out", 24),
                  (None, "Linked", " updated a Member", 12), ("Impersonate", "Success", " impersonated a user", 1),
                  ("login", "success", " logged in", 1), ("Login ", "SUCCESS", " logged in", 0.5)]
# Whose rows they are: a user of the pool (by e-mail, as Frappe names users), Administrator, Guest.
ACTIVITY_WHO = [("pool", 94), ("Administrator", 4.5), ("Guest", 1.5)]

NEVER_COMPLETES = "sepa_notifications.send_mandate_notifications"
DELETED_JOB = "sepa_old.sync_mandates"     # log rows whose job type no longer exists
JOB_CREATED_AFTER_N = ("direct_debit.late_sync", "verenigingen.utils.direct_debit.late_sync", "Hourly", 0, 0)


def q(value):
    """SQL literal of a Python value."""
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP'{value:%Y-%m-%d %H:%M:%S.%f}'"
    if isinstance(value, dt.date):
        return f"DATE'{value:%Y-%m-%d}'"
    return f"'{escape_string(str(value))}'"


def iban_digits(text):
    """ISO 13616 letters as numbers: A = 10 ... Z = 35."""
    return "".join(str(int(ch, 36)) for ch in text)


def iban_check(country, bban):
    """ISO 13616 check digits for a BBAN (generator side; the oracle has its own)."""
    return f"{98 - int(iban_digits(bban + country + '00')) % 97:02d}"


def valid_iban(country, bban):
    return country + iban_check(country, bban) + bban


def months_before(day, months):
    """day minus `months` months, the day clamped to the month's end (MariaDB DATE_SUB)."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    m += 1
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    return dt.date(y, m, min(day.day, (nxt - dt.timedelta(days=1)).day))


class Rand:
    """SQL expressions of deterministic pseudo-random values."""

    def __init__(self, seed, now):
        self.seed, self.now = int(seed), now
        self.N, self.D = q(now), q(now.date())

    def u(self, tag, key="seq"):
        # CRC32 of same-length inputs is affine, so two tags of one key would be
        # correlated; a multiplicative mix taken by its top bits breaks that.
        return (f"((CRC32(CONCAT({self.seed}, ':{tag}:', {key})) * 2654435761 % 4294967296)"
                f" * 2.3283064365386963e-10)")

    def pick(self, tag, n, key="seq"):
        """An integer 0..n-1."""
        return f"FLOOR({self.u(tag, key)} * {n})"

    def choose(self, tag, weighted, key="seq"):
        """One of [(sql expression, weight)], by weight; the chosen one only is evaluated."""
        total = sum(w for _, w in weighted)
        bounds, acc = [], 0
        for _, w in weighted[:-1]:
            acc += w
            bounds.append(repr(acc / total))
        values = ", ".join(v for v, _ in weighted)
        if not bounds:
            return values
        return f"ELT(INTERVAL({self.u(tag, key)}, {', '.join(bounds)}) + 1, {values})"

    def choose_lit(self, tag, weighted, key="seq"):
        return self.choose(tag, [(q(v), w) for v, w in weighted], key)

    def creation(self, tag, spread, key="seq"):
        """A creation datetime(6) before N by `spread`; key % 100 = 42 after N, and a few
        keys exactly on the window boundaries (N - 1h, 24h, 7d, 30d; N + 1 us). Exactly N
        is left to scenario rows, or every "last ... age" would be 0."""
        v = self.u(tag + ".v", key)
        micro = self.choose(tag + ".b", [(f"{lo * 1e6!r} + {v} * {(hi - lo) * 1e6!r}", share)
                                         for share, lo, hi in spread], key)
        return (f"CASE WHEN {key} % 100 = 42 THEN {self.N} + INTERVAL (1 + FLOOR({v} * 259200e6)) MICROSECOND"
                f" WHEN {key} % 400 = 3 THEN {self.N} - INTERVAL 1 HOUR"
                f" WHEN {key} % 400 = 4 THEN {self.N} - INTERVAL 1 DAY"
                f" WHEN {key} % 400 = 5 THEN {self.N} - INTERVAL 7 DAY"
                f" WHEN {key} % 400 = 6 THEN {self.N} - INTERVAL 30 DAY"
                f" WHEN {key} % 400 = 9 THEN {self.N} + INTERVAL 1 MICROSECOND"
                f" ELSE {self.N} - INTERVAL FLOOR({micro}) MICROSECOND END")

    def amount(self, tag, key="seq"):
        return self.choose(tag, [(a, 1) for a in AMOUNTS], key)


def _pad(prefix, expr, width):
    return f"CONCAT('{prefix}', LPAD({expr}, {width}, '0'))"


def member_name(expr):
    return _pad("MEM-", expr, 7)


def customer_name(expr):
    return _pad("CUST-", expr, 7)


def mandate_name(expr):
    return _pad("SEPA-MAN-", expr, 7)


def mandate_id(expr):
    return _pad("MDT-", expr, 8)


def invoice_name(expr):
    return _pad("ACC-SINV-", expr, 8)


class Generator:
    def __init__(self, conn, scale, now, seed, progress):
        self.conn, self.s, self.now, self.seed = conn, scale, now, seed
        self.r = Rand(seed, now)
        self.D = now.date()
        self.progress = progress or (lambda doctype, rows: None)
        self.counts = {}

    # -- plumbing ---------------------------------------------------------

    def execute(self, sql, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount

    def bulk(self, doctype, columns, select, first, last, chunk=CHUNK):
        """INSERT the rows of `select` (a SELECT ... FROM seq_{a}_to_{b} s ...) for keys first..last.

        `columns` maps column -> SQL expression; `select` is a format string with
        {cols} and {seq} (the sequence table of one chunk)."""
        rows = 0
        names = ", ".join(f"`{c}`" for c in columns)
        exprs = ",\n  ".join(f"{e} AS `{c}`" for c, e in columns.items())
        for a in range(first, last + 1, chunk):
            b = min(last, a + chunk - 1)
            rows += self.execute(f"INSERT INTO `{table(doctype)}` ({names})\n"
                                 + select.format(cols=exprs, seq=f"seq_{a}_to_{b}"))
        return rows

    def insert_rows(self, doctype, rows):
        """Insert a small fixed list of scenario rows (dicts); standard columns defaulted."""
        if not rows:
            return 0
        full = []
        for row in rows:
            row = dict(row)
            row.setdefault("modified", row["creation"])
            row.setdefault("owner", "Administrator")
            row.setdefault("modified_by", "Administrator")
            row.setdefault("docstatus", 0)
            full.append(row)
        cols = sorted({c for row in full for c in row})
        with self.conn.cursor() as cur:
            cur.executemany(f"INSERT INTO `{table(doctype)}` ({', '.join(f'`{c}`' for c in cols)}) "
                            f"VALUES ({', '.join(['%s'] * len(cols))})", [[row.get(c) for c in cols] for row in full])
        return len(full)

    def done(self, doctype, rows):
        self.conn.commit()
        self.counts[doctype] = self.counts.get(doctype, 0) + rows
        self.progress(doctype, self.counts[doctype])

    def standard(self, creation, modified=None, docstatus="0"):
        return {"creation": creation, "modified": modified or creation, "modified_by": "'Administrator'",
                "owner": "'Administrator'", "docstatus": docstatus}

    # -- tables -----------------------------------------------------------

    def members(self):
        r, s = self.r, self.s
        first = r.choose_lit("fn", [(n, 1) for n in FIRST_NAMES])
        last = r.choose_lit("ln", [(n, 1) for n in LAST_NAMES])
        bank = r.choose("bank", [(str(i + 1), b[4]) for i, b in enumerate(BANKS)])
        acct_len = f"ELT({bank}, {', '.join(str(b[2]) for b in BANKS)})"
        acct = f"LPAD(FLOOR({r.u('acct')} * POW(10, {acct_len})), {acct_len}, '0')"
        bban = f"CONCAT(ELT({bank}, {', '.join(q(b[1]) for b in BANKS)}), {acct})"
        # check digits computed in SQL: the numeric form of BBAN + country + '00', mod 97 (exact DECIMAL)
        bank_digits = ", ".join(q(iban_digits(b[1])) for b in BANKS)
        country_digits = ", ".join(q(iban_digits(b[0])) for b in BANKS)
        check = (f"LPAD(98 - MOD(CAST(CONCAT(ELT({bank}, {bank_digits}), {acct}, ELT({bank}, {country_digits}), '00')"
                 f" AS DECIMAL(60,0)), 97), 2, '0')")
        # The first 40 members are Active SEPA payers: the mandate scenarios hang off them.
        status = ("IF(seq <= 40, 'Active', " + r.choose_lit("st", [
            ("Active", 74), ("Pending", 8), ("Suspended", 4), ("Terminated", 7), ("Expired", 3),
            ("Deceased", 1), ("active", 1), ("ACTIVE ", 1), (None, 1)]) + ")")
        payment = ("IF(seq <= 40, 'SEPA Direct Debit', " + r.choose_lit("pm", [
            ("SEPA Direct Debit", 70), ("Bank Transfer", 24), ("sepa direct debit", 2), ("Cash", 1),
            (None, 3)]) + ")")
        creation = r.creation("c", SPREAD)
        cols = {"name": member_name("seq"), **self.standard(creation), "member_id": "seq",
                "first_name": first, "last_name": last, "full_name": f"CONCAT({first}, ' ', {last})",
                "email": (f"LOWER(CONCAT(REPLACE({first}, 'ë', 'e'), '.', REPLACE(REPLACE({last}, ' ', ''), 'ü', 'u'),"
                          f" seq, '@', ELT(1 + {r.pick('mail', 3)}, 'example.org', 'example.net', 'example.com')))"),
                "status": status, "payment_method": payment, "customer": customer_name("seq"),
                "iban": f"CONCAT(ELT({bank}, {', '.join(q(b[0]) for b in BANKS)}), {check}, {bban})",
                "bic": f"ELT({bank}, {', '.join(q(b[3]) for b in BANKS)})",
                "birth_date": f"DATE'1950-01-01' + INTERVAL {r.pick('bd', 55 * 365)} DAY",
                "member_since": f"DATE({creation}) - INTERVAL {r.pick('since', 30)} DAY"}
        rows = self.bulk("Member", cols, "SELECT {cols} FROM {seq}", 1, s.members)
        # Members type their IBAN as they like: vary the formatting of some, break a few.
        h = r.u("ibanfmt", "name")
        grouped = "CONCAT_WS(' ', " + ", ".join(f"NULLIF(SUBSTR(iban, {i}, 4), '')" for i in range(1, 36, 4)) + ")"
        # 100 - c is a wrong check for every valid c (02..98) but 50
        bad_check = ("CONCAT(LEFT(iban, 2), "
                     "LPAD(IF(SUBSTR(iban, 3, 2) = '50', 49, 100 - SUBSTR(iban, 3, 2)), 2, '0'), SUBSTR(iban, 5))")
        self.execute(f"""UPDATE `tabMember` SET iban = CASE
            WHEN {h} < 0.03 THEN LOWER(iban) WHEN {h} < 0.055 THEN {grouped}
            WHEN {h} < 0.06 THEN LOWER({grouped}) WHEN {h} < 0.072 THEN {bad_check}
            WHEN {h} < 0.078 THEN LEFT(iban, 12) WHEN {h} < 0.082 THEN ''
            WHEN {h} < 0.086 THEN NULL WHEN {h} < 0.088 THEN CONCAT(LEFT(iban, 10), 'O', SUBSTR(iban, 12))
            ELSE iban END WHERE {h} < 0.088 AND member_id > 40""")
        self.done("Member", rows)

    def invoices(self):
        r, s, N, D = self.r, self.s, self.r.N, self.r.D
        creation = r.creation("c", SPREAD)
        # kind: p(aid), u(npaid), h(alf paid), r(eturn), f(ree); older invoices are mostly paid
        kind = (f"IF({creation} < {N} - INTERVAL 90 DAY, "
                + r.choose_lit("k", [("p", 92), ("u", 5), ("h", 2), ("r", 0.5), ("f", 0.5)]) + ", "
                + r.choose_lit("k", [("p", 60), ("u", 30), ("h", 6), ("r", 2), ("f", 2)]) + ")")
        inner = (f"SELECT seq, {creation} AS creation, {kind} AS kind, "
                 f"{r.choose_lit('ds', [(1, 86), (0, 9), (2, 5)])} AS ds, {r.amount('gt')} AS gt, "
                 f"{r.u('part')} AS part, {r.choose_lit('due', [(14, 3), (30, 2), (0, 1)])} AS due_days FROM {{seq}}")
        grand = "CASE t.kind WHEN 'r' THEN -t.gt WHEN 'f' THEN 0 ELSE t.gt END"
        outstanding = ("CASE WHEN t.ds = 0 THEN t.gt WHEN t.kind IN ('p', 'f') THEN 0 "
                       "WHEN t.kind = 'h' THEN ROUND(t.gt * (0.1 + 0.8 * t.part), 2) WHEN t.kind = 'r' THEN -t.gt "
                       "ELSE t.gt END")
        due = "DATE(t.creation) + INTERVAL t.due_days DAY"
        cols = {"name": invoice_name("t.seq"), **self.standard("t.creation", docstatus="t.ds"),
                "title": "'Membership dues'", "customer": customer_name(f"((t.seq - 1) % {s.members} + 1)"),
                "customer_name": "'Member'", "posting_date": "DATE(t.creation)", "due_date": due,
                "currency": "'EUR'", "grand_total": grand, "rounded_total": grand, "outstanding_amount": outstanding,
                "status": ("CASE WHEN t.ds = 0 THEN 'Draft' WHEN t.ds = 2 THEN 'Cancelled' "
                           "WHEN t.kind = 'r' THEN 'Return' WHEN t.kind IN ('p', 'f') THEN 'Paid' "
                           "WHEN t.kind = 'h' THEN 'Partly Paid' "
                           f"WHEN {due} < {D} THEN 'Overdue' ELSE 'Unpaid' END"),
                "is_return": "t.kind = 'r'", "remarks": "NULL"}
        scen = self.invoice_scenarios()
        rows = self.bulk("Sales Invoice", cols, "SELECT {cols} FROM (" + inner + ") t", len(scen) + 1, s.invoices)
        rows += self.insert_rows("Sales Invoice", scen)
        self.done("Sales Invoice", rows)

    def invoice_scenarios(self):
        D, N = self.D, self.now
        specs = [  # docstatus, grand total, outstanding, due in days from D, created before N
            (1, 50, 50, -1, dt.timedelta(days=20)),   # overdue
            (1, 25, 0, -10, dt.timedelta(days=20)),   # paid; sits in two batches
            (1, 30, 10, 0, dt.timedelta(days=10)),    # due today: not overdue
            (1, 40, 40, 14, -dt.timedelta(hours=1)),  # created after N
            (0, 20, 20, -40, dt.timedelta(days=50)),  # draft
            (2, 60, 60, -40, dt.timedelta(days=50)),  # cancelled
            (1, 0, 0, -5, dt.timedelta(days=6)),      # free
            (1, -15, -15, -5, dt.timedelta(days=6)),  # return
            (1, 12.5, 12.5, 1, dt.timedelta(days=1)),  # exactly 24 h old
        ]
        return [{"name": f"ACC-SINV-{i:08d}", "creation": N - ago, "docstatus": ds, "title": "Membership dues",
                 "customer": f"CUST-{i:07d}", "posting_date": (N - ago).date(), "due_date": D + dt.timedelta(days=due),
                 "currency": "EUR", "grand_total": gt, "rounded_total": gt, "outstanding_amount": out,
                 "status": "Scenario", "is_return": int(gt < 0)}
                for i, (ds, gt, out, due, ago) in enumerate(specs, 1)]

    def mandates(self):
        r, s, D = self.r, self.s, self.r.D
        firsts = min(s.members, round(0.85 * s.mandates))   # mandate j <= firsts belongs to member j
        status = r.choose_lit("st", [("Active", 72), ("Draft", 3), ("Suspended", 4), ("Cancelled", 12),
                                     ("Expired", 6), ("Pending", 1), ("active", 0.5), ("ACTIVE ", 0.3),
                                     ("cancelled", 0.5), (None, 0.2), ("", 0.2)])
        k = "t.seq"
        # 15 % were imported from an older system: signed up to 8 years before their creation
        sign = (f"IF({r.u('imp', k)} < 0.15, DATE(t.creation) - INTERVAL {r.pick('sgo', 8 * 365, k)} DAY, "
                f"DATE(t.creation) - INTERVAL {r.pick('sg', 21, k)} DAY)")
        expiry = (f"CASE WHEN {r.u('ex', k)} < 0.12 THEN {D} + INTERVAL ({r.pick('exd', 150, k)} - 60) DAY "
                  f"WHEN {r.u('ex', k)} < 0.15 THEN {D} + INTERVAL {r.pick('exf', 2000, k)} DAY END")
        cancelled = (f"CASE WHEN t.status IN ('Cancelled', 'Expired') AND {r.u('cx', k)} < 0.8 THEN "
                     f"GREATEST(DATE(t.creation), IF({r.u('cr', k)} < 0.3, {D} - INTERVAL {r.pick('cd1', 45, k)} DAY, "
                     f"{D} - INTERVAL {r.pick('cd2', 1000, k)} DAY)) END")
        inner = (f"SELECT seq, {r.creation('c', SPREAD)} AS creation, {status} AS status, "
                 f"IF(seq <= {firsts}, seq, 1 + {r.pick('mm', s.members)}) AS member FROM {{seq}}")
        cols = {"name": mandate_name(k), **self.standard("t.creation"), "mandate_id": mandate_id(k),
                "member": "m.name", "member_name": "m.full_name", "account_holder_name": "m.full_name",
                "status": "t.status", "mandate_type": r.choose_lit("ty", [("RCUR", 9), ("OOFF", 1)], k),
                "scheme": "'SEPA'", "iban": "m.iban", "bic": "m.bic", "sign_date": sign,
                "first_collection_date": f"({sign}) + INTERVAL 3 + {r.pick('fc', 28, k)} DAY",
                "expiry_date": expiry, "cancelled_date": cancelled, "cancelled_reason": "NULL",
                "is_active": f"IF({r.u('ia', k)} < 0.01, 1, 0) XOR COALESCE(t.status = 'Active', 0)",
                "used_for_memberships": "1", "used_for_donations": f"{r.u('don', k)} < 0.1"}
        scen = self.mandate_scenarios()
        rows = self.bulk("SEPA Mandate", cols, "SELECT {cols} FROM (" + inner + ") t STRAIGHT_JOIN `tabMember` m "
                         f"ON m.name = {member_name('t.member')}", len(scen) + 1, s.mandates)
        rows += self.insert_rows("SEPA Mandate", scen)
        self.done("SEPA Mandate", rows)

    def mandate_scenarios(self):
        """Mandates on the boundaries of the mandate rules (members 1..n are Active SEPA payers)."""
        D, N = self.D, self.now
        old = D - dt.timedelta(days=5 * 365)
        d36 = months_before(D, 36)
        day = dt.timedelta(days=1)
        nl = lambda i, bank="INGB": valid_iban("NL", f"{bank}{i:010d}")
        specs = [  # status, changes to the defaults
            ("Active", {}),
            ("Active", {"expiry_date": D}),                          # expiring, lower bound
            ("Active", {"expiry_date": D + 30 * day}),               # expiring, upper bound
            ("Active", {"expiry_date": D + 31 * day}),
            ("Active", {"expiry_date": D - day}),                    # expired but Active
            ("Cancelled", {"cancelled_date": D - 30 * day}),         # cancelled_30d, lower bound
            ("Cancelled", {"cancelled_date": D - 31 * day}),
            ("Cancelled", {"cancelled_date": D + 2 * day}),          # cancellation scheduled after D
            ("active", {}), ("Active ", {}), ("Pending", {}),
            ("Active", {"creation": N + dt.timedelta(hours=1)}),     # created after N
            ("Active", {"sign_date": d36}),                          # last use exactly D - 36 months: not dormant
            ("Active", {"sign_date": d36 - day}),                    # dormant
            ("Active", {"sign_date": old}),                          # old use + newer Cancelled use: dormant
            ("Active", {"sign_date": old}),                          # only Cancelled uses: dormant via sign_date
            ("Active", {"sign_date": old}),                          # recent use created after N: dormant
            ("Active", {"sign_date": None}),                         # no last use at all: not dormant
            ("Active", {"sign_date": old}),                          # recent use with NULL status
            ("Active", {"iban": nl(20, "RABO").lower()[:8] + " " + nl(20, "RABO").lower()[8:]}),  # valid
            ("Active", {"iban": "NL00INGB0000000021"}),              # check digits 00 are never valid
            ("Active", {"iban": "NL91ABNA04171"}),                   # too short
            ("Active", {"iban": ""}),
            ("Active", {"iban": None}),
            ("Active", {"iban": "NL91 ABNA 0417 1643 00"}),          # the textbook example, grouped
            ("Suspended", {}), ("Expired", {}), ("Draft", {"sign_date": None}), (None, {}),
            ("CANCELLED", {"cancelled_date": D}),
            ("Active", {"iban": "NO9386011117947"}),                 # 15 characters: shortest valid
            ("Active", {"iban": "NL91ABNA0417164300123456789012345"}),  # too long
            ("Active", {"iban": nl(33).replace("NL", "NL-", 1)}),    # only spaces are removed
        ]
        rows = []
        for i, (status, extra) in enumerate(specs, 1):
            row = {"name": f"SEPA-MAN-{i:07d}", "creation": N - dt.timedelta(days=300 + i),
                   "mandate_id": f"MDT-{i:08d}", "member": f"MEM-{i:07d}", "member_name": "Scenario Member",
                   "status": status, "mandate_type": "RCUR", "scheme": "SEPA",
                   "iban": nl(i, ("INGB", "RABO", "ABNA")[i % 3]),
                   "bic": "INGBNL2A", "sign_date": D - dt.timedelta(days=200), "is_active": int(status == "Active"),
                   "used_for_memberships": 1}
            row.update(extra)
            if row["sign_date"]:
                row["first_collection_date"] = row["sign_date"] + dt.timedelta(days=5)
            rows.append(row)
        return rows

    def mandate_usage_scenarios(self):
        D, N = self.D, self.now
        old = D - dt.timedelta(days=5 * 365)

        def use(mandate, idx, date, status, creation=None):
            return {"name": f"SEPA-MAN-{mandate:07d}-U{idx:03d}",
                    "creation": creation or dt.datetime.combine(date, dt.time(9)),
                    "parent": f"SEPA-MAN-{mandate:07d}", "parentfield": "usage_history", "parenttype": "SEPA Mandate",
                    "idx": idx, "usage_date": date, "sequence_type": "RCUR", "amount": 10, "status": status}
        day = dt.timedelta(days=1)
        return [use(15, 1, old + 30 * day, "Collected"), use(15, 2, D - 20 * day, "Cancelled"),
                use(16, 1, D - 50 * day, "Cancelled"), use(16, 2, D - 20 * day, "cancelled "),
                use(17, 1, D - day, "Collected", N + dt.timedelta(minutes=5)),
                use(19, 1, D - 10 * day, None)]

    def mandate_usage(self):
        r, s, D = self.r, self.s, self.r.D
        scen = len(self.mandate_scenarios())
        n = f"IF({r.u('n', 's.seq')} < 0.25, 0, 1 + {r.pick('n2', s.usage_max, 's.seq')})"
        step = r.choose_lit("step", [(30, 6), (91, 2), (365, 2)], "s.seq")
        key = "CONCAT(s.seq, '/', k.seq)"
        date = f"m.first_collection_date + INTERVAL (k.seq - 1) * {step} DAY"
        status = (f"IF(k.seq = {n} AND {r.u('lc', 's.seq')} < 0.2, 'Cancelled', " + r.choose_lit("st", [
            ("Collected", 74), ("Failed", 6), ("Returned", 4), ("Pending", 3), ("Processing", 2), ("Cancelled", 8),
            ("cancelled ", 1), ("COLLECTED", 1), (None, 0.3)], key) + ")")
        cols = {"name": "CONCAT(m.name, '-U', LPAD(k.seq, 3, '0'))",
                **self.standard(f"GREATEST(m.creation, TIMESTAMP({date}) - INTERVAL 5 DAY + INTERVAL "
                                f"{r.pick('cs', DAY, key)} SECOND)"),
                "idx": "k.seq", "parent": "m.name", "parentfield": "'usage_history'", "parenttype": "'SEPA Mandate'",
                "usage_date": date, "sequence_type": "IF(k.seq = 1, 'FRST', 'RCUR')",
                "batch_reference": (f"CONCAT('BATCH-', DATE_FORMAT({date}, '%y-%m-'), "
                                    f"LPAD({r.pick('br', 9999, key)}, 5, '0'))"),
                "amount": r.amount("am", "s.seq"), "status": status, "reference_doctype": "'Sales Invoice'",
                "reference_name": "NULL"}
        # usage rows are only written up to a few days ahead of D
        rows = self.bulk("SEPA Mandate Usage", cols,
                         f"SELECT {{cols}} FROM {{seq}} s STRAIGHT_JOIN `tabSEPA Mandate` m "
                         f"ON m.name = {mandate_name('s.seq')} STRAIGHT_JOIN seq_1_to_{s.usage_max} k ON k.seq <= {n} "
                         f"WHERE {date} <= {D} + INTERVAL 10 DAY",
                         scen + 1, s.mandates, chunk=CHUNK // s.usage_max)
        rows += self.insert_rows("SEPA Mandate Usage", self.mandate_usage_scenarios())
        self.done("SEPA Mandate Usage", rows)

    def batch_scenarios(self):
        """Batches on the boundaries of the batch rules; each gets bulk entries too."""
        N, D = self.now, self.D
        h, d = dt.timedelta(hours=1), dt.timedelta(days=1)
        specs = [  # status, docstatus, created before N, batch_date - D (days; None: NULL), modified - creation
            ("Draft", 0, h / 2, 3, None),
            ("Draft", 0, 2 * h, 2, None),                     # exactly 2 h: not stuck
            ("Draft", 0, 2 * h + dt.timedelta(seconds=1), 2, None),
            ("Generated", 0, 5 * d, -3, None),
            ("Submitted", 1, 72 * h, -1, None),               # exactly 72 h: not stuck
            ("Submitted", 1, 80 * h, -1, None),
            ("Submitted", 1, 10 * h, 1, None),                # batch_date after D
            ("Partially Collected", 1, 20 * d, -19, 3 * d),
            ("Processed", 1, 3 * d, -2, d),
            ("Processed", 1, 40 * d, -30, 2 * d),             # batch_date D - 30: inside
            ("Processed", 1, 41 * d, -31, 2 * d),             # batch_date D - 31: outside
            ("Partially Processed", 1, 8 * d, -7, 2 * d),     # batch_date D - 7: inside 7d
            ("Failed", 1, 2 * d, -1, 2 * d - 23 * h),         # modified 23 h before N
            ("Partially Failed", 1, 6 * d, -5, 5 * d),        # modified exactly 24 h before N
            ("Rolled Back", 1, 10 * d, -8, 3 * d),            # modified exactly 7 d before N
            ("FAILED", 1, d, -1, 23 * h),                     # modified 1 h before N
            ("Cancelled", 2, 4 * d, -3, d),
            ("Cancelled", 1, 3 * d, -2, d),                   # odd status, not cancelled by docstatus
            ("Failed", 2, d, -1, h),                          # cancelled document: ignored
            ("Draft", 0, -h, 1, None),                        # created after N
            ("processed ", 1, 5 * d, -4, d),
            (None, 0, 12 * d, -11, None),
            ("Draft", 0, d, None, None),                      # no batch_date yet
            ("Submitted", 1, 30 * h, 0, None),                # same creation as the next: tie on creation
            ("Generated", 0, 30 * h, 0, None),
        ]
        rows = []
        for i, (status, ds, ago, bd, mod) in enumerate(specs, 1):
            created = N - ago
            rows.append({"name": f"BATCH-{created:%y-%m}-{i:05d}", "creation": created,
                         "modified": created + (mod or dt.timedelta(0)), "docstatus": ds,
                         "batch_date": None if bd is None else D + bd * d, "batch_description": "Scenario batch",
                         "batch_type": ("CORE", "RCUR", "FRST", None)[i % 4], "currency": "EUR", "status": status,
                         "sequence_type": "RCUR"})
        return rows

    def batches(self):
        r, s, N = self.r, self.s, self.r.N
        scen = self.batch_scenarios()
        recent = r.choose_lit("sr", [("Draft", 15), ("Generated", 10), ("Submitted", 20), ("Partially Collected", 5),
                                     ("Processed", 30), ("Partially Processed", 5), ("Failed", 5),
                                     ("Partially Failed", 3), ("Rolled Back", 2), ("Cancelled", 2), ("FAILED", 1),
                                     ("draft ", 1), (None, 1)])
        older = r.choose_lit("so", [("Processed", 70), ("Partially Processed", 5), ("Failed", 6),
                                    ("Partially Failed", 3), ("Rolled Back", 3), ("Cancelled", 4), ("FAILED", 1),
                                    ("Draft", 2), ("Generated", 1), ("Submitted", 2), ("Partially Collected", 1),
                                    ("processed", 1), (None, 0.5)])
        creation = r.creation("c", BATCH_SPREAD)
        inner = (f"SELECT seq, {creation} AS creation, "
                 f"IF({creation} > {N} - INTERVAL 3 DAY, {recent}, {older}) AS status FROM {{seq}}")
        docstatus = (f"CASE WHEN t.status = 'Draft' OR t.status IS NULL THEN 0 "
                     f"WHEN t.status = 'Cancelled' AND {r.u('dc', 't.seq')} < 0.8 THEN 2 "
                     f"WHEN {r.u('d2', 't.seq')} < 0.02 THEN 2 ELSE 1 END")
        finished = "t.status NOT IN ('Draft', 'Generated', 'Submitted')"
        # finished batches were last modified up to 3 days after creation, possibly after N
        modified = f"IF({finished}, t.creation + INTERVAL {r.pick('md', 3 * DAY, 't.seq')} SECOND, t.creation)"
        cols = {"name": "CONCAT('BATCH-', DATE_FORMAT(t.creation, '%y-%m-'), LPAD(t.seq, 5, '0'))",
                **self.standard("t.creation", modified, docstatus),
                "batch_date": (f"IF(t.status = 'Draft' AND {r.u('nb', 't.seq')} < 0.1, NULL, "
                               f"DATE(t.creation) + INTERVAL {r.pick('bd', 5, 't.seq')} DAY)"),
                "batch_description": "CONCAT('Membership dues ', DATE_FORMAT(t.creation, '%M %Y'))",
                "batch_type": r.choose_lit("ty", [("CORE", 60), ("B2B", 3), ("COR1", 10), ("FRST", 10), ("RCUR", 15),
                                                  (None, 2)], "t.seq"),
                "currency": "'EUR'", "status": "t.status",
                "sequence_type": f"IF(t.creation > {N} - INTERVAL 400 DAY, 'RCUR', NULL)",
                "sepa_file_generated": f"COALESCE({finished} OR t.status = 'Generated', 0)", "amended_from": "NULL"}
        rows = self.bulk("Direct Debit Batch", cols, "SELECT {cols} FROM (" + inner + ") t", len(scen) + 1, s.batches)
        rows += self.insert_rows("Direct Debit Batch", scen)
        self.done("Direct Debit Batch", rows)

    def entries(self):
        r, s = self.r, self.s
        key = "CONCAT(b.name, '/', k.seq)"
        maxk = 2 * s.entries_per_batch - 1
        n = f"IF(b.status = 'Draft' AND {r.u('e0', 'b.name')} < 0.05, 0, 1 + {r.pick('n', maxk, 'b.name')})"
        inv = f"(1 + {r.pick('inv', s.invoices, key)})"
        member = f"(({inv} - 1) % {s.members} + 1)"
        status = (
            "CASE WHEN b.status IN ('Draft', 'Generated', 'Submitted') OR b.status IS NULL THEN "
            + r.choose_lit("sp", [("Pending", 94), ("Failed", 3), ("pending", 1), (None, 2)], key)
            + " WHEN b.status = 'Partially Collected' THEN "
            + r.choose_lit("sc", [("Successful", 50), ("Pending", 40), ("Failed", 10)], key)
            + " WHEN b.status IN ('Processed', 'Partially Processed') THEN "
            + r.choose_lit("sd", [("Successful", 60), ("Processed", 30), ("Failed", 7), ("FAILED", 1), ("failed ", 1),
                                  ("Pending", 1)], key)
            + " WHEN b.status IN ('Failed', 'Partially Failed', 'Rolled Back') THEN "
            + r.choose_lit("sf", [("Failed", 60), ("Successful", 20), ("Processed", 10), ("Pending", 10)], key)
            + " ELSE " + r.choose_lit("so", [("Pending", 50), ("Failed", 20), ("Processed", 30)], key) + " END")
        # most entries are written with their batch; a few are appended up to two days later
        creation = (f"b.creation + INTERVAL IF({r.u('late', key)} < 0.02, 3600 + {r.pick('lh', 48 * HOUR, key)}, "
                    f"k.seq * 2) SECOND")
        inner = (f"SELECT b.name AS batch, b.docstatus, k.seq AS k, {creation} AS creation, {status} AS status, "
                 f"{r.pick('rc', len(ENTRY_FAILURES), key)} + 1 AS failure, {member} AS member_seq, "
                 f"i.name AS invoice, i.grand_total AS amount, m.name AS member, m.full_name, m.iban, m.bic "
                 f"FROM `tabDirect Debit Batch` b STRAIGHT_JOIN seq_1_to_{maxk} k ON k.seq <= {n} "
                 f"STRAIGHT_JOIN `tabSales Invoice` i ON i.name = {invoice_name(inv)} "
                 f"STRAIGHT_JOIN `tabMember` m ON m.name = {member_name(member)} WHERE {{where}}")
        failed = "x.status = 'Failed'"
        cols = {"name": "CONCAT(x.batch, '-', LPAD(x.k, 4, '0'))",
                **self.standard("x.creation", docstatus="x.docstatus"),
                "idx": "x.k", "parent": "x.batch", "parentfield": "'invoices'", "parenttype": "'Direct Debit Batch'",
                "invoice": "x.invoice", "membership": _pad("MS-", "x.member_seq", 7), "member": "x.member",
                "member_name": "x.full_name", "amount": "x.amount", "currency": "'EUR'", "iban": "x.iban",
                "bic": "x.bic",
                "mandate_reference": f"IF(x.member_seq <= {s.mandates}, {mandate_id('x.member_seq')}, NULL)",
                "status": "x.status",
                "result_code": f"IF({failed}, ELT(x.failure, {', '.join(q(c) for c, _ in ENTRY_FAILURES)}), NULL)",
                "result_message": f"IF({failed}, ELT(x.failure, {', '.join(q(m) for _, m in ENTRY_FAILURES)}), NULL)"}
        names = ", ".join(f"`{c}`" for c in cols)
        exprs = ", ".join(f"{e} AS `{c}`" for c, e in cols.items())
        rows = 0
        # chunked by ranges of batch names, so that large inserts stay moderate
        for lo, hi in self.batch_chunks(max(1, CHUNK // s.entries_per_batch)):
            where = f"b.name >= {q(lo)}" + ("" if hi is None else f" AND b.name < {q(hi)}")
            rows += self.execute(f"INSERT INTO `tabDirect Debit Batch Invoice` ({names}) "
                                 f"SELECT {exprs} FROM ({inner.format(where=where)}) x")
        rows += self.insert_rows("Direct Debit Batch Invoice", self.entry_scenarios())
        self.done("Direct Debit Batch Invoice", rows)
        # The batch header keeps the totals of its entries as last saved (after-N entries included).
        self.execute("""UPDATE `tabDirect Debit Batch` b JOIN (SELECT parent, COUNT(*) AS n, SUM(amount) AS total
            FROM `tabDirect Debit Batch Invoice` GROUP BY parent) e ON e.parent = b.name
            SET b.entry_count = e.n, b.total_amount = e.total""")
        self.conn.commit()

    def batch_chunks(self, per_chunk):
        with self.conn.cursor() as cur:
            cur.execute("SELECT name FROM `tabDirect Debit Batch` ORDER BY name")
            names = [row[0] for row in cur.fetchall()]
        starts = names[::per_chunk] or [""]
        return list(zip(starts, starts[1:] + [None]))

    def entry_scenarios(self):
        """Failed entries with awkward IBANs, late entries and invoice references in recent batches."""
        batches = self.batch_scenarios()
        processed, failed = batches[8], batches[12]     # batch_date D - 2 and D - 1
        assert processed["status"] == "Processed" and failed["status"] == "Failed"
        rows = []

        def entry(batch, idx, status, iban, invoice=None, creation=None):
            rows.append({"name": f"{batch['name']}-S{idx:03d}", "creation": creation or batch["creation"],
                         "docstatus": batch["docstatus"], "parent": batch["name"], "parentfield": "invoices",
                         "parenttype": "Direct Debit Batch", "idx": 900 + idx, "invoice": invoice, "amount": 10,
                         "currency": "EUR", "iban": iban, "status": status})
        entry(failed, 1, "Failed", "NL00INGB0000000021")                # invalid check digits, code NL:INGB
        entry(failed, 2, "Failed", "nl91 abna 0417 1643 00")
        entry(failed, 3, "Failed", None)
        entry(failed, 4, "failed ", "NL91ABNA04171")                     # too short, still NL:ABNA
        entry(failed, 5, "Failed", valid_iban("NL", "RABO0000000007"), creation=self.now + dt.timedelta(minutes=1))
        for idx, inv in enumerate((1, 2, 3, 4, 5, 6, 7, 8), 6):
            entry(processed, idx, "Successful", valid_iban("NL", f"ABNA{idx:010d}"), f"ACC-SINV-{inv:08d}")
        entry(failed, 20, "Failed", valid_iban("NL", "INGB0000000002"), "ACC-SINV-00000002")  # invoice in two batches
        entry(failed, 21, "Processed", valid_iban("NL", "INGB0000000009"), "ACC-SINV-00000009")
        return rows

    def dues(self):
        r, s, D = self.r, self.s, self.r.D
        T = DUES_TEMPLATES
        member = f"(seq - {T})"
        status = r.choose_lit("st", [("Active", 78), ("Paused", 4), ("Cancelled", 9), ("Test", 2), ("Suspended", 2),
                                     ("Grace Period", 2), ("active", 1), ("ACTIVE ", 0.5), (None, 0.5)])
        # templates get past dates (never stuck: not schedules); D itself is not stuck, D - 1 is
        nxt = (f"CASE WHEN seq <= {T} THEN {D} - INTERVAL seq DAY "
               f"WHEN seq % 400 = 20 THEN {D} WHEN seq % 400 = 21 THEN {D} - INTERVAL 1 DAY "
               f"WHEN {r.u('nx')} < 0.06 THEN {D} - INTERVAL (1 + {r.pick('nd', 90)}) DAY "
               f"WHEN {r.u('nx')} < 0.08 THEN NULL ELSE {D} + INTERVAL {r.pick('nf', 366)} DAY END")
        cols = {"name": f"IF(seq <= {T}, CONCAT('Template-', seq), CONCAT('Dues-', {member_name(member)}))",
                **self.standard(r.creation("c", SPREAD)),
                "schedule_name": (f"IF(seq <= {T}, CONCAT('Membership template ', seq), "
                                  f"CONCAT('Dues ', {member_name(member)}))"),
                "is_template": f"seq <= {T}", "member": f"IF(seq <= {T}, NULL, {member_name(member)})",
                "member_name": "NULL",
                "membership_type": r.choose_lit("mt", [("Regular", 6), ("Student", 2), ("Senior", 2)]),
                "status": f"IF(seq <= {T}, 'Active', {status})",
                "auto_generate": f"{r.u('ag')} < 0.9",
                "billing_frequency": r.choose_lit("bf", [("Monthly", 4), ("Quarterly", 2), ("Annual", 3),
                                                         ("Semi-Annual", 1), ("Custom", 0.2)]),
                "dues_rate": r.amount("rate"), "next_invoice_date": nxt,
                "last_invoice_date": f"({nxt}) - INTERVAL 1 MONTH"}
        rows = self.bulk("Membership Dues Schedule", cols, "SELECT {cols} FROM {seq}", 1, s.dues + T)
        self.done("Membership Dues Schedule", rows)

    def volunteers(self):
        r, s = self.r, self.s
        member = f"(FLOOR((seq - 1) * {s.members} / {s.volunteers}) + 1)"
        cols = {"name": _pad("VOL-", "seq", 6), **self.standard(r.creation("c", SPREAD)),
                "volunteer_name": "m.full_name", "member": "m.name", "email": "m.email",
                "status": r.choose_lit("st", [("New", 10), ("Onboarding", 8), ("Active", 60), ("Inactive", 12),
                                              ("Retired", 8), ("active", 1), ("ACTIVE ", 1)]),
                "start_date": f"m.member_since + INTERVAL {r.pick('sd', 400)} DAY"}
        rows = self.bulk("Volunteer", cols, "SELECT {cols} FROM {seq} STRAIGHT_JOIN `tabMember` m "
                         f"ON m.name = {member_name(member)}", 1, s.volunteers)
        self.done("Volunteer", rows)

    def errors(self):
        r, s = self.r, self.s
        N = self.now
        scen = [  # texts the categories must handle, and rows exactly at N - 1h, N - 24h and N
            {"method": "Job failed: Lock wait", "error": "timeout exceeded; try restarting transaction",
             "creation": N - dt.timedelta(minutes=10)},  # pattern only across the method/error boundary
            {"method": None, "error": None, "creation": N - dt.timedelta(minutes=20)},
            {"method": "Insufficient Permission for Member", "error": "TimeoutError",
             "creation": N - dt.timedelta(hours=1)},
            {"method": "frappe.integrations.oauth2", "error": "JOBTIMEOUTEXCEPTION and SMTPException",
             "creation": N - dt.timedelta(hours=24)},
            {"method": "sepa", "error": "", "creation": N + dt.timedelta(seconds=1)},
            {"method": "frappe.desk.form.save.savedocs", "error": "KeyError: 'amount'", "creation": N},
        ]
        for i, row in enumerate(scen, 1):
            row.update(name=f"ERR-{i:08d}", seen=0)
        cols = {"name": _pad("ERR-", "seq", 8), **self.standard(r.creation("c", LOG_SPREAD)),
                "seen": f"{r.u('seen')} < 0.3", "method": r.choose_lit("m", ERROR_METHODS),
                "error": (f"CONCAT(IF({r.u('tb')} < 0.8, {q(TRACEBACK)}, ''), "
                          + r.choose_lit("e", ERROR_TEXTS) + ")"),
                "reference_doctype": "NULL", "reference_name": "NULL",
                "trace_id": f"LEFT(SHA1(CONCAT({self.seed}, seq)), 16)"}
        rows = self.bulk("Error Log", cols, "SELECT {cols} FROM {seq}", len(scen) + 1, s.errors)
        rows += self.insert_rows("Error Log", scen)
        self.done("Error Log", rows)

    def job_types(self):
        N = self.now
        types = [{"name": name, "creation": N - dt.timedelta(days=400), "method": method, "frequency": freq,
                  "stopped": stopped, "create_log": 1} for name, method, freq, stopped, _ in JOB_TYPES]
        name, method, freq, stopped, _ = JOB_CREATED_AFTER_N
        types.append({"name": name, "creation": N + dt.timedelta(hours=2), "method": method, "frequency": freq,
                      "stopped": stopped, "create_log": 1})
        self.done("Scheduled Job Type", self.insert_rows("Scheduled Job Type", types))

    def job_logs(self):
        r, s = self.r, self.s
        job = r.choose_lit("j", [(n, w) for n, _, _, _, w in JOB_TYPES if w] + [(DELETED_JOB, 1)])
        normal = r.choose_lit("st", [("Complete", 92), ("Failed", 5), ("Scheduled", 2), ("failed", 0.5),
                                     ("COMPLETE ", 0.5)], "t.seq")
        never = r.choose_lit("nc", [("Failed", 8), ("Scheduled", 2)], "t.seq")
        cols = {"name": _pad("SJL-", "t.seq", 9), **self.standard("t.creation"), "scheduled_job_type": "t.job",
                "status": f"IF(t.job = {q(NEVER_COMPLETES)}, {never}, {normal})",
                "details": "NULL", "debug_log": "NULL"}
        rows = self.bulk("Scheduled Job Log", cols, f"SELECT {{cols}} FROM (SELECT seq, {job} AS job, "
                         f"{r.creation('c', LOG_SPREAD)} AS creation FROM {{seq}}) t", 1, s.job_logs)
        self.done("Scheduled Job Log", rows)

    def retries(self):
        r, s, D = self.r, self.s, self.r.D
        inv = f"(1 + {r.pick('inv', s.invoices)})"
        cols = {"name": _pad("RETRY-", "seq", 7), **self.standard(r.creation("c", SPREAD)),
                "invoice": invoice_name(inv), "member": member_name(f"(({inv} - 1) % {s.members} + 1)"),
                "status": r.choose_lit("st", [("Pending", 20), ("Scheduled", 15), ("Retried", 15), ("Failed", 10),
                                              ("Escalated", 8), ("Resolved", 25), ("Error", 3), ("pending", 1),
                                              ("ESCALATED ", 1), (None, 1)]),
                "retry_count": r.pick("rc", 4), "next_retry_date": f"{D} + INTERVAL ({r.pick('nr', 30)} - 10) DAY",
                "last_retry_date": f"{D} - INTERVAL {r.pick('lr', 60)} DAY", "original_amount": r.amount("am"),
                "failure_reason": r.choose_lit("fr", [(m, 1) for _, m in ENTRY_FAILURES])}
        rows = self.bulk("SEPA Payment Retry", cols, "SELECT {cols} FROM {seq}", 1, s.retries)
        self.done("SEPA Payment Retry", rows)

    def audit(self):
        r, s = self.r, self.s
        creation = r.creation("c", LOG_SPREAD)
        cols = {"name": _pad("SAL-", "seq", 8), **self.standard(creation), "event_id": _pad("EVT-", "seq", 8),
                "timestamp": creation,
                "process_type": r.choose_lit("pt", [("Mandate Creation", 3), ("Batch Generation", 2),
                                                    ("Batch Submission", 2), ("Payment Processing", 4),
                                                    ("Bank Return", 1), ("Mandate Cancellation", 1)]),
                "action": r.choose_lit("ac", [("create", 2), ("validate", 3), ("submit", 1), ("process", 2)]),
                "compliance_status": r.choose_lit("cs", [
                    ("Compliant", 75), ("Exception", 5), ("Failed", 4), ("Pending Review", 5), ("FAILED", 2),
                    ("ERROR", 2), ("high", 1), ("", 3), (None, 2), ("compliant", 1), ("Exception ", 0.5), (" ", 0.3)]),
                "reference_doctype": r.choose_lit("rd", [("SEPA Mandate", 1), ("Direct Debit Batch", 1)]),
                "reference_name": "NULL", "user": "'Administrator'", "details": "'{}'"}
        self.done("SEPA Audit Log", self.bulk("SEPA Audit Log", cols, "SELECT {cols} FROM {seq}", 1, s.audit))

    def activity(self):
        """Activity Log: what a pool of users (and Administrator, and Guest) did, mostly logins and
        logouts; the scenario rows put the active-users rule on its boundaries."""
        r, s = self.r, self.s
        kinds = ACTIVITY_KINDS
        kind = r.choose("k", [(str(i), w) for i, (*_, w) in enumerate(kinds, 1)])
        who = r.choose("w", [(str(i), w) for i, (_, w) in enumerate(ACTIVITY_WHO, 1)])
        inner = (f"SELECT seq, {kind} AS kind, {who} AS who, 1 + {r.pick('u', s.users)} AS uid, "
                 f"{r.creation('c', ACTIVITY_SPREAD)} AS creation FROM {{seq}}")
        # a pool user's name and e-mail are functions of uid alone: one account, one name
        first = r.choose_lit("fn", [(n, 1) for n in FIRST_NAMES], "t.uid")
        last = r.choose_lit("ln", [(n, 1) for n in LAST_NAMES], "t.uid")
        pool_user = f"LOWER(CONCAT(REPLACE({first}, 'ë', 'e'), '.', t.uid, '@example.org'))"
        full_name = f"ELT(t.who, CONCAT({first}, ' ', {last}), 'Administrator', 'Guest')"
        feed = next(i for i, k in enumerate(kinds, 1) if k[0] is None)
        cols = {"name": f"LEFT(SHA1(CONCAT({self.seed}, ':act:', t.seq)), 16)",     # Frappe: hash names
                **self.standard("t.creation"),
                "subject": f"CONCAT({full_name}, ELT(t.kind, {', '.join(q(k[2]) for k in kinds)}))",
                "communication_date": "t.creation",
                "ip_address": f"CONCAT('192.0.2.', 1 + {r.pick('ip', 254, 't.seq')})",
                "operation": f"ELT(t.kind, {', '.join(q(k[0]) for k in kinds)})",
                "status": f"ELT(t.kind, {', '.join(q(k[1]) for k in kinds)})",
                "reference_doctype": f"IF(t.kind = {feed}, 'Member', NULL)",
                "reference_name": f"IF(t.kind = {feed}, {member_name('t.uid')}, NULL)",
                "user": f"ELT(t.who, {pool_user}, 'Administrator', 'Guest')", "full_name": full_name}
        rows = self.bulk("Activity Log", cols, "SELECT {cols} FROM (" + inner + ") t", 1, s.activity)
        rows += self.insert_rows("Activity Log", self.activity_scenarios())
        self.done("Activity Log", rows)

    def activity_scenarios(self):
        """Rows on the boundaries of sepa.users.active_24h; their users are not in the pool."""
        N, hour = self.now, dt.timedelta(hours=1)
        specs = [  # operation, status, user, creation
            ("Login", "Success", "scenario.window.start@example.org", N - 24 * hour),    # N - 24h: within
            ("Login", "Success", "scenario.before.window@example.org", N - 24 * hour - dt.timedelta(microseconds=1)),
            ("Login", "Success", "scenario.after.n@example.org", N + dt.timedelta(seconds=1)),   # after N
            ("Login", "Success", "scenario.at.n@example.org", N),
            *[("Login", "Success", "scenario.repeat@example.org", N - k * hour) for k in range(1, 6)],
            ("Login", "Success", "SCENARIO.Repeat@example.org ", N - hour / 2),     # the same user to the collation
            ("Login", "Failed", "scenario.failed.only@example.org", N - 2 * hour),
            ("Login", "Failed", "Unknown User", N - 2 * hour),                      # frappe.auth: no user typed
            ("Logout", "Success", "scenario.logout.only@example.org", N - 3 * hour),
            ("Login", "Success", "Guest", N - 4 * hour),
            ("login", "success", "guest ", N - 4 * hour),
            ("Login", "Success", "Administrator", N - 5 * hour),                    # a real login: counts
            ("Impersonate", "Success", "scenario.impersonated@example.org", N - 6 * hour),
            (None, "Linked", "scenario.feed.only@example.org", N - 7 * hour),
            ("Login", "Success", None, N - 8 * hour),
            ("Login", "Success", "", N - 8 * hour),
        ]
        return [{"name": f"ACT-SCENARIO-{i:03d}", "creation": at, "communication_date": at, "operation": op,
                 "status": status, "user": user, "full_name": "Scenario User", "ip_address": "192.0.2.1",
                 "subject": f"Scenario User: {op or 'feed'} {status}"}
                for i, (op, status, user, at) in enumerate(specs, 1)]


def generate(conn, scale, now, seed=1, progress=None, skip=()):
    """Create the schema in the current, empty database of `conn` and fill it.

    `now` is N, the time the data describes; `skip` names doctypes whose tables are left
    out (meant for the optional ones: Member, Sales Invoice, SEPA Mandate and Direct Debit
    Batch feed other tables). `progress(doctype, rows)` is called after each table.
    Returns {doctype: rows written, rows created after N included}."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; one of {', '.join(SCALES)}")
    gen = Generator(conn, SCALES[scale], now.replace(tzinfo=None), seed, progress)
    was_autocommit = conn.get_autocommit()
    conn.autocommit(False)
    with conn.cursor() as cur:
        create_schema(cur, skip=skip)
        cur.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
    steps = [("Member", gen.members), ("Sales Invoice", gen.invoices), ("SEPA Mandate", gen.mandates),
             ("SEPA Mandate Usage", gen.mandate_usage), ("Direct Debit Batch", gen.batches),
             ("Direct Debit Batch Invoice", gen.entries), ("Membership Dues Schedule", gen.dues),
             ("Volunteer", gen.volunteers), ("Error Log", gen.errors), ("Scheduled Job Type", gen.job_types),
             ("Scheduled Job Log", gen.job_logs), ("SEPA Payment Retry", gen.retries),
             ("SEPA Audit Log", gen.audit), ("Activity Log", gen.activity)]
    try:
        for doctype, step in steps:
            if doctype not in skip:
                step()     # commits its table
    finally:
        with conn.cursor() as cur:
            cur.execute("SET SESSION unique_checks = 1, foreign_key_checks = 1")
        conn.autocommit(was_autocommit)
    return gen.counts
