"""Pure rules: IBANs, calendar arithmetic, clocks, redaction."""
import datetime as dt

import pytest

from zabbix_sepa import iban
from zabbix_sepa.collect import months_before, unix_clock
from zabbix_sepa.privacy import redact


@pytest.mark.parametrize("raw, valid", [
    ("NL91ABNA0417164300", True),
    ("nl91 abna 0417 1643 00", True),
    ("GB82WEST12345698765432", True),
    ("DE89370400440532013000", True),
    ("NL92ABNA0417164300", False),            # check digits off by one
    ("NL91ABNA041716430", False),             # digit dropped
    ("NL91ABNA04171643", False),              # 16 characters: too short for the pattern
    ("NL91ABNA0417164300\n", False),          # no line-end leniency
    ("NL91\tABNA0417164300", False),          # only spaces are removed
    ("", False), (None, False),
    ("9L91ABNA0417164300", False),
])
def test_iban_validity(raw, valid):
    assert iban.is_valid(iban.normalise(raw)) is valid


def test_bank_code():
    assert iban.bank_code(iban.normalise("nl91 abna 0417 1643 00")) == "NL:ABNA"


@pytest.mark.parametrize("day, months, expected", [
    (dt.date(2026, 11, 22), 36, dt.date(2023, 11, 22)),
    (dt.date(2028, 2, 29), 36, dt.date(2025, 2, 28)),
    (dt.date(2026, 3, 31), 1, dt.date(2026, 2, 28)),
    (dt.date(2026, 1, 15), 13, dt.date(2024, 12, 15)),
])
def test_months_before_clamps_like_mariadb(day, months, expected):
    assert months_before(day, months) == expected


def test_clock_reads_n_in_site_zone():
    n = dt.datetime(2026, 7, 1, 12, 0, 0)
    assert unix_clock(n, "Europe/Amsterdam") == 1782900000   # CEST, UTC+2
    assert unix_clock(n, "UTC") == 1782907200


def test_redact():
    text = "bad value NL91ABNA0417164300 / nl91 abna 0417 1643 00 from jan@example.org"
    assert redact(text) == "bad value <iban> / <iban> from <e-mail>"
