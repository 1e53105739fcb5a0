"""SEPA mandates: lifecycle, expiry, dormancy, IBAN validity and banks."""
from collections import Counter

from zabbix_sepa import iban
from zabbix_sepa.groups.base import (AVERAGE, HOUR, INT, WARNING, Discovery, Group, Macro, Metric, Section,
                                     Threshold, Trigger, above)

MANDATE = "tabSEPA Mandate"
USAGE = "tabSEPA Mandate Usage"
BATCH = "tabDirect Debit Batch"
ENTRY = "tabDirect Debit Batch Invoice"

STATUSES = {"active": "Active", "draft": "Draft", "suspended": "Suspended",
            "cancelled": "Cancelled", "expired": "Expired"}

# Last use: the newest non-cancelled usage row, else the sign date. Evaluated
# only for Active rows (AND short-circuits), through the child `parent` index.
SUMMARY_SQL = f"""
SELECT COUNT(*),
  {", ".join(f"COALESCE(SUM(m.status = %(st_{k})s), 0)" for k in STATUSES)},
  COALESCE(SUM(m.status = 'Active' AND m.expiry_date >= %(D)s AND m.expiry_date <= %(D_plus30)s), 0),
  COALESCE(SUM(m.status = 'Active' AND m.expiry_date < %(D)s), 0),
  COALESCE(SUM(m.status = 'Active' AND COALESCE(
    (SELECT MAX(u.usage_date) FROM `{USAGE}` u
      WHERE u.parent = m.name AND u.creation <= %(now)s AND COALESCE(u.status, '') <> 'Cancelled'),
    m.sign_date) < %(dormant_before)s), 0),
  COALESCE(SUM(m.creation >= %(d30)s), 0),
  COALESCE(SUM(m.cancelled_date >= %(D30)s AND m.cancelled_date <= %(D)s), 0)
FROM `{MANDATE}` m WHERE m.creation <= %(now)s
"""


def summary(ctx):
    row = ctx.db.one(SUMMARY_SQL, ctx.params(
        dormant_before=ctx.months_before_today(36), **{f"st_{k}": v for k, v in STATUSES.items()}))
    total, *rest = row
    per_status, (expiring, expired_active, dormant, created, cancelled) = rest[:5], rest[5:]
    out = {"sepa.mandate.total": int(total)}
    for k, n in zip(STATUSES, per_status):
        out[f"sepa.mandate.status[{k}]"] = int(n)
    out["sepa.mandate.status[other]"] = int(total) - sum(int(n) for n in per_status)
    out.update({"sepa.mandate.expiring_30d": int(expiring),
                "sepa.mandate.expired_active": int(expired_active),
                "sepa.mandate.dormant": int(dormant),
                "sepa.mandate.created_30d": int(created),
                "sepa.mandate.cancelled_30d": int(cancelled)})
    return out


# The IBAN rules in SQL, so that no IBAN leaves the server. `n` is the normalised
# IBAN as a binary string (spaces removed, upper-cased); binary, so that the
# shape test is case-sensitive and REPLACE works byte by byte. mod-97 (ISO 13616):
# the first four characters moved to the end, letters replaced by two digits
# (A=10 ... Z=35), the number taken mod 97 in two steps so that no step exceeds
# DECIMAL's 65 digits (an IBAN of 34 characters gives at most 66 digits).
# Only ASCII IBANs are checked here: Python's upper() maps a few non-ASCII
# letters to ASCII ones ('ß' -> 'SS'), MariaDB's does not; the rare non-ASCII
# IBAN is read back and checked by zabbix_sepa.iban, as before.
_NORMALISED = "CAST(UPPER(REPLACE(COALESCE(m.iban, ''), ' ', '')) AS BINARY)"
_ASCII = "LENGTH(CONVERT(COALESCE(m.iban, '') USING utf8mb4)) = CHAR_LENGTH(COALESCE(m.iban, ''))"


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# A=10 ... Z=35, as parameters (values never travel inside the SQL text).
LETTER_PARAMS = {**{f"l_{c}": c for c in LETTERS}, **{f"d_{c}": str(ord(c) - 55) for c in LETTERS}}


def _digits(expr):
    for c in LETTERS:
        expr = f"REPLACE({expr}, %(l_{c})s, %(d_{c})s)"
    return expr


_REARRANGED = _digits("CONCAT(SUBSTRING(v.n, 5), LEFT(v.n, 4))")
_MOD97 = ("MOD(CAST(CONCAT(MOD(CAST(LEFT(v.d, 30) AS DECIMAL(65, 0)), 97), SUBSTRING(v.d, 31))"
          " AS DECIMAL(65, 0)), 97)")

# One row per bank code of a valid ASCII IBAN, one ('', n) for the invalid ASCII
# ones and one (NULL, n) for the non-ASCII ones.
BANKS_SQL = f"""
SELECT CASE WHEN NOT v.ascii THEN NULL
            WHEN v.shape AND {_MOD97} = 1
              THEN CONVERT(CONCAT(LEFT(v.n, 2), ':', SUBSTRING(v.n, 5, 4)) USING utf8mb4)
            ELSE '' END AS bank, COUNT(*)
FROM (
  SELECT u.n, u.ascii, u.shape, IF(u.ascii AND u.shape, {_REARRANGED.replace("v.n", "u.n")}, '') AS d
  FROM (
    SELECT {_NORMALISED} AS n, {_ASCII} AS ascii,
      {_NORMALISED} REGEXP %(iban_shape)s AS shape
    FROM `{MANDATE}` m WHERE m.status = 'Active' AND m.creation <= %(now)s
  ) u
) v
GROUP BY bank
"""
IBAN_SHAPE = r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}\z"

# The non-ASCII IBANs of active mandates (normally none), streamed, never held, never returned.
NON_ASCII_IBANS_SQL = (f"SELECT m.iban FROM `{MANDATE}` m WHERE m.status = 'Active' AND m.creation <= %(now)s"
                       f" AND NOT ({_ASCII})")
# Failed entries per bank code, aggregated in SQL; only bank codes leave the server.
FAILED_BY_BANK_SQL = f"""
SELECT CONCAT(UPPER(LEFT(n.iban, 2)), ':', UPPER(SUBSTRING(n.iban, 5, 4))) AS bank, COUNT(*)
FROM (
  SELECT REPLACE(COALESCE(e.iban, ''), ' ', '') AS iban
  FROM `{BATCH}` b JOIN `{ENTRY}` e ON e.parent = b.name
  WHERE b.docstatus <> 2 AND b.creation <= %(now)s
    AND b.batch_date >= %(D30)s AND b.batch_date <= %(D)s
    AND e.creation <= %(now)s AND e.status = 'Failed'
) n
GROUP BY bank
"""


def ibans_and_banks(ctx):
    invalid, banks, non_ascii = 0, Counter(), 0
    for bank, n in ctx.db.rows(BANKS_SQL, ctx.params(iban_shape=IBAN_SHAPE, **LETTER_PARAMS)):
        if bank is None:
            non_ascii = int(n)
        elif bank == "":
            invalid += int(n)
        else:
            banks[bank] += int(n)
    if non_ascii:
        for (raw,) in ctx.db.stream(NON_ASCII_IBANS_SQL, ctx.params()):
            normalised = iban.normalise(raw)
            if iban.is_valid(normalised):
                banks[iban.bank_code(normalised)] += 1
            else:
                invalid += 1
    failed = dict(ctx.db.rows(FAILED_BY_BANK_SQL, ctx.params())) if banks else {}
    return {
        "sepa.mandate.iban_invalid": invalid,
        "banks": [{"{#BANK}": code, "mandates": n, "failed_entries_30d": int(failed.get(code, 0))}
                  for code, n in sorted(banks.items())],
    }


def _status_metrics():
    out = [Metric(f"sepa.mandate.status[{k}]", f"Mandates in status {v}", INT,
                  description=f"SEPA mandates whose status is {v}.",
                  prometheus="sepa_mandate_status", label="status",
                  overview="Active mandates" if k == "active" else "") for k, v in STATUSES.items()]
    out.append(Metric("sepa.mandate.status[other]", "Mandates in other statuses", INT,
                      description="SEPA mandates whose status is none of the five named ones.",
                      prometheus="sepa_mandate_status", label="status"))
    return out


GROUP = Group(
    name="mandates",
    title="SEPA mandates",
    sections=(
        Section("summary", summary, cadence=HOUR, tables=(MANDATE, USAGE), metrics=(
            Metric("sepa.mandate.total", "Mandates", INT, description="SEPA mandates.",
                   prometheus="sepa_mandates"),
            *_status_metrics(),
            Metric("sepa.mandate.expiring_30d", "Mandates expiring in 30d", INT,
                   description="Active mandates whose expiry_date is within the next 30 days.",
                   prometheus="sepa_mandate_expiring_30d",
                   overview="Expiring 30d", graph=("SEPA: mandate health", "left")),
            Metric("sepa.mandate.expired_active", "Expired mandates still active", INT,
                   description="Active mandates whose expiry_date has passed.",
                   prometheus="sepa_mandate_expired_active",
                   overview="Expired, active", graph=("SEPA: mandate health", "left")),
            Metric("sepa.mandate.dormant", "Dormant mandates", INT,
                   description="Active mandates not used (or signed, if never used) for 36 months.",
                   prometheus="sepa_mandate_dormant", overview="Dormant", graph=("SEPA: mandate health", "left")),
            Metric("sepa.mandate.created_30d", "Mandates created in 30d", INT,
                   description="Mandates created within the last 30 days.", prometheus="sepa_mandate_created_30d"),
            Metric("sepa.mandate.cancelled_30d", "Mandates cancelled in 30d", INT,
                   description="Mandates with cancelled_date within the last 30 days.",
                   prometheus="sepa_mandate_cancelled_30d"),
        )),
        Section("iban", ibans_and_banks, cadence=HOUR, max_statements=3, tables=(MANDATE, BATCH, ENTRY),
                metrics=(
            Metric("sepa.mandate.iban_invalid", "Active mandates with an invalid IBAN", INT,
                   description="Active mandates whose IBAN fails the format or ISO 13616 mod-97 check.",
                   prometheus="sepa_mandate_iban_invalid",
                   overview="Invalid IBAN", graph=("SEPA: mandate health", "left")),
        ), discovery=(
            Discovery("banks", ("{#BANK}",), ("mandates", "failed_entries_30d"),
                      "Active mandates per bank (country:bank code of a valid IBAN).",
                      item_prefix="sepa.bank", label="Bank {#BANK}", lifetime="30d", fields=(
                          Metric("mandates", "active mandates", INT,
                                 description="Active mandates whose IBAN belongs to this bank."),
                          Metric("failed_entries_30d", "failed entries 30d", INT,
                                 description="Failed batch entries at this bank, batches dated within 30 days."),
                      ), triggers=(
                          Trigger("SEPA bank {#BANK}: failed entries",
                                  'last(/T/sepa.bank.failed_entries_30d[{#BANK}])>{$SEPA.BANK.FAILED.MAX:"{#BANK}"}',
                                  WARNING, "Debits at this bank fail more than usual (30 days). Check the "
                                  "return reasons: a bank-side change, a closed account wave, or a format issue.",
                                  event_name='SEPA bank {#BANK}: failed entries in 30d above '
                                             '{$SEPA.BANK.FAILED.MAX:"{#BANK}"}',
                                  opdata="Failed entries in 30d: {ITEM.LASTVALUE1}",
                                  recovery='max(/T/sepa.bank.failed_entries_30d[{#BANK}],#3)<='
                                           '{$SEPA.BANK.FAILED.MAX:"{#BANK}"}'),
                      )),
        )),
    ),
    macros=(
        Macro("{$SEPA.MANDATE.EXPIRING.MAX}", Threshold("mandate_expiring_max", 10, 0, 1e6),
              "Active mandates expiring within 30 days above which a problem is raised."),
        Macro("{$SEPA.MANDATE.EXPIRED.ACTIVE.MAX}", Threshold("mandate_expired_active_max", 0, 0, 1e6),
              "Active mandates past their expiry date above which a problem is raised.",
              formerly=("{$SEPA.MANDATE.EXPIRED_ACTIVE.MAX}",)),
        Macro("{$SEPA.MANDATE.DORMANT.MAX}", Threshold("mandate_dormant_max", 0, 0, 1e6),
              "Active mandates unused for 36 months above which a problem is raised."),
        Macro("{$SEPA.MANDATE.IBAN.INVALID.MAX}", Threshold("mandate_iban_invalid_max", 0, 0, 1e6),
              "Active mandates with an invalid IBAN above which a problem is raised.",
              formerly=("{$SEPA.MANDATE.IBAN_INVALID.MAX}",)),
        Macro("{$SEPA.BANK.FAILED.MAX}", Threshold("bank_failed_entries_max", 5, 0, 1e6),
              "Failed entries at one bank in 30 days above which a problem is raised; "
              'per bank with context, e.g. {$SEPA.BANK.FAILED.MAX:"NL:INGB"}.'),
    ),
    triggers=(
        above("SEPA: mandates expiring within 30 days", "sepa.mandate.expiring_30d",
              "{$SEPA.MANDATE.EXPIRING.MAX}", WARNING,
              "Many active mandates reach their expiry date within 30 days. Ask the members to sign "
              "new mandates before the next collection.",
              event_name="SEPA: more than {$SEPA.MANDATE.EXPIRING.MAX} mandates expire within 30 days",
              opdata="Expiring: {ITEM.LASTVALUE1}",
              scope="notice"),
        above("SEPA: expired mandates still active", "sepa.mandate.expired_active",
              "{$SEPA.MANDATE.EXPIRED.ACTIVE.MAX}", AVERAGE,
              "Mandates past their expiry date are still Active and may be used for collection, "
              "which the bank will reject. Set them to Expired and ask for new mandates.",
              event_name="SEPA: expired mandates still active (more than {$SEPA.MANDATE.EXPIRED.ACTIVE.MAX})",
              opdata="Expired, active: {ITEM.LASTVALUE1}"),
        above("SEPA: dormant mandates", "sepa.mandate.dormant", "{$SEPA.MANDATE.DORMANT.MAX}", WARNING,
              "Active mandates have not been used for 36 months; under the SEPA rulebook they have "
              "lapsed. Set them to Expired and obtain new mandates before collecting.",
              event_name="SEPA: mandates unused for 36 months (more than {$SEPA.MANDATE.DORMANT.MAX})",
              opdata="Dormant: {ITEM.LASTVALUE1}",
              scope="notice"),
        above("SEPA: active mandates with an invalid IBAN", "sepa.mandate.iban_invalid",
              "{$SEPA.MANDATE.IBAN.INVALID.MAX}", AVERAGE,
              "Active mandates carry an IBAN that fails the format or mod-97 check; their debits "
              "will be rejected. Correct the IBANs with the members.",
              event_name="SEPA: active mandates with an invalid IBAN (more than {$SEPA.MANDATE.IBAN.INVALID.MAX})",
              opdata="Invalid IBANs: {ITEM.LASTVALUE1}"),
    ),
)
