"""The database layer: read-only session, statement limit, counting."""
import time

import pytest

from zabbix_sepa.config import DatabaseConfig
from zabbix_sepa.db import Database, DatabaseError, OutOfTime
from tests import mariadb


def root_session(site, budget=10.0):
    cfg = DatabaseConfig(socket=mariadb.SOCKET, user="root", name=site.name)
    return Database(cfg, time.monotonic() + budget)


def test_session_is_read_only_even_for_a_privileged_user(site):
    db = root_session(site)
    try:
        assert db.one("SELECT @@session.tx_read_only") == (1,)
        with pytest.raises(DatabaseError, match="MariaDB error 1792"):
            db.one("INSERT INTO `tabMember` (name, creation) VALUES ('x', NOW())")
    finally:
        db.close()
    assert site.admin.cursor().execute("SELECT 1 FROM `tabMember`") == 0


def test_statements_are_counted_and_limited(site):
    db = root_session(site, budget=0.5)
    try:
        assert db.statements == 1                       # SET SESSION TRANSACTION READ ONLY
        assert db.rows("SELECT 1 UNION SELECT 2") == ((1,), (2,))
        assert list(db.stream("SELECT 3")) == [(3,)]
        assert db.statements == 3
        with pytest.raises(DatabaseError, match="1969"):
            db.one("SELECT SLEEP(2)")                   # killed at the remaining budget
        time.sleep(0.5)
        with pytest.raises(OutOfTime):
            db.one("SELECT 1")
    finally:
        db.close()
