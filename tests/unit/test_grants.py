"""`zabbix-sepa db-grants` (issue 14, defect 9): names quoted, never pasted into the SQL.

Executed against a real MariaDB with hostile names: tests/integration/test_db_grants.py.
"""
import pytest

from zabbix_sepa import registry
from zabbix_sepa.check import grants, sql_identifier, sql_string
from tests.unit.test_config import run_main


def test_identifiers_and_strings_are_quoted():
    assert sql_identifier("a`b") == "`a``b`"
    assert sql_identifier("x`; DROP DATABASE y; -- ") == "`x``; DROP DATABASE y; -- `"
    assert sql_string("o'brien") == "'o''brien'"
    assert sql_string("a\\'b") == "'a\\\\''b'"
    assert grants("a\\b", "u", "h")[0].startswith("GRANT SELECT ON `a\\b`.")     # literal in backquotes
    lines = grants("_1bd3e0294da19198", "zbx_sepa", "localhost")
    assert lines[0] == "GRANT SELECT ON `_1bd3e0294da19198`.`tabDirect Debit Batch` TO 'zbx_sepa'@'localhost';"
    assert grants("db`x", "u'; DROP USER root; #", "h'") == [
        f"GRANT SELECT ON `db``x`.`{t}` TO 'u''; DROP USER root; #'@'h''';" for t in registry.tables()]


def test_cli_prints_one_quoted_statement_per_table():
    rc, out, err = run_main("db-grants", "--database", "a`b", "--user", "u'1", "--host", "%")
    assert (rc, err) == (0, "")
    assert out.splitlines() == [f"GRANT SELECT ON `a``b`.`{t}` TO 'u''1'@'%';" for t in registry.tables()]


@pytest.mark.parametrize("option, value, problem", [
    ("--database", "a\nb", "holds a control character"),
    ("--database", "x" * 65, "is longer than 64 characters"),
    ("--database", "site ", "ends in a space"),
    ("--database", "db\U0001F600", "outside the Basic Multilingual Plane"),
    ("--user", "u\\'; DROP USER root; #", "holds a backslash"),
    ("--host", "local\\host", "holds a backslash"),
    ("--user", "u\x00", "holds a control character"),
    ("--user", "u" * 129, "is longer than 128 characters"),
    ("--user", "zbx ", "ends in a space"),
    ("--host", "localhost\r", "holds a control character"),
    ("--host", "local\x85host", "holds a control character"),
])
def test_names_that_cannot_be_valid_are_refused(option, value, problem):
    args = {"--database": "site_db", "--user": "zbx", "--host": "localhost", option: value}
    rc, out, err = run_main("db-grants", *[x for kv in args.items() for x in kv])
    assert (rc, out) == (2, "")
    kind = option[2:]
    assert err.startswith(f"zabbix-sepa: db-grants: {kind} name ") and problem in err
