"""The IBAN rules evaluated in SQL agree with zabbix_sepa.iban (the Python reference) on awkward input."""
import random
from collections import Counter

from tests.conftest import N
from zabbix_sepa import iban


def with_check_digits(country, bban):
    digits = (bban + country + "00").translate(iban._DIGITS)
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def awkward_ibans():
    rng = random.Random(13)
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    out = ["NL91ABNA0417164300", "nl91 abna 0417 1643 00", "DE89370400440532013000", "NL92ABNA0417164300",
           "NL91ABNA04", "", None, "NL91-ABNA-0417-1643-00", " NL91ABNA0417164300 ", "NL91ABNA0417164300\n",
           "NL91ABNA0417164300\t", "NL91\u00a0ABNA0417164300", "\uff2e\uff2c91ABNA0417164300",
           "NL91ABNA0417164300\u00df", "DE89370400440532013000\u017f", "\u017fE89370400440532013000",
           "n\u0308L91ABNA0417164300", "NL91ABN\u0130", "GB82WEST12345698765432", "gb82 west 1234 5698 7654 32"]
    for length in (11, 12, 20, 29, 30, 31):                 # BBAN lengths around the shape's limits
        for letters in (False, True):
            chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if letters else alnum
            bban = "".join(rng.choice(chars) for _ in range(length))
            good = with_check_digits("LC" if letters else "NL", bban)
            out += [good, good.lower(), good[:4] + " " + good[4:], good[:2] + "00" + good[4:]]
    for _ in range(300):
        bban = "".join(rng.choice(alnum) for _ in range(rng.randint(8, 32)))
        country = rng.choice(["NL", "DE", "BE", "FR", "GB", "ZZ"])
        good = with_check_digits(country, bban)
        out.append(good if rng.random() < 0.6 else good[:-1] + rng.choice(alnum))
    return out


def test_iban_rules_in_sql_match_python(site):
    ibans = awkward_ibans()
    for i, value in enumerate(ibans):
        site.insert("SEPA Mandate", status="Active", mandate_id=f"MD-{i}", iban=value)
    site.insert("SEPA Mandate", status="Active", mandate_id="MD-late", iban="NL92ABNA0417164300",
                creation=N.replace(year=N.year + 1))
    invalid, banks = 0, Counter()
    for value in ibans:
        n = iban.normalise(value)
        if iban.is_valid(n):
            banks[iban.bank_code(n)] += 1
        else:
            invalid += 1
    assert 50 < invalid < len(ibans) - 50
    doc = site.collect()
    assert doc["metrics"]["sepa.mandate.iban_invalid"] == invalid
    assert {b["{#BANK}"]: b["mandates"] for b in doc["discovery"]["banks"]} == dict(banks)
