"""`zabbix-sepa db-grants` output executed by the real MariaDB client as root, the way
install.sh --create-db-user does, with hostile database and user names (issue 14, defect 9).

It must create exactly one GRANT SELECT per collector table for exactly that user and
database, and nothing else; the old output (names pasted between quotes) ran the statements
hidden in the names. Every object made here carries a random tag, and only rows of the grant
tables that carry it (or PUBLIC) are compared, so other tests may use the server meanwhile.
"""
import shutil
import subprocess
import uuid

import pytest

from tests import mariadb
from zabbix_sepa import registry
from zabbix_sepa.check import sql_identifier as qi

pytestmark = pytest.mark.mariadb

CLIENT = shutil.which("mysql") or shutil.which("mariadb")


def old_grants(database, user, host):
    """db-grants before the fix."""
    return [f"GRANT SELECT ON `{database}`.`{t}` TO '{user}'@'{host}';" for t in registry.tables()]


def new_grants(database, user, host):
    from tests.unit.test_config import run_main
    rc, out, err = run_main("db-grants", "--database", database, "--user", user, "--host", host)
    assert rc == 0, err
    return out.splitlines()


class Scene:
    """Databases with the collector's tables, users, and the canaries a hostile name would make."""

    def __init__(self, server):
        self.tag = uuid.uuid4().hex[:4]
        p, t = mariadb.PREFIX, self.tag
        self.server = server
        # GRANT ... ON `<db>`.* TO PUBLIC; then a role: fits MariaDB's 64 characters
        self.hostile_db = f"{p}g{t}`.* TO PUBLIC;CREATE ROLE {p}r{t};#"
        self.plain_db = f"{p}b{t}"
        self.victim = f"{p}u{t}"                          # exists: the old output grants to it
        self.hostile_user = f"{p}u{t}'@'localhost';CREATE ROLE {p}s{t};#"
        self.canaries = (f"{p}r{t}", f"{p}s{t}")
        assert len(self.hostile_db) <= 64
        self.admin = server.admin()
        for db in (self.hostile_db, self.plain_db):
            self.sql(f"CREATE DATABASE {qi(db)}")
            for table in registry.tables():
                self.sql(f"CREATE TABLE {qi(db)}.{qi(table)} (name varchar(140))")
        for user in (self.victim, self.hostile_user):
            self.sql("CREATE USER %s@'localhost'", (user,))

    def sql(self, statement, params=None):
        with self.admin.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall()
        self.admin.commit()
        return rows

    def client(self, statements):
        """Run statements through the mysql client as root, as install.sh does."""
        return subprocess.run([CLIENT, "--protocol=socket", "-S", mariadb.SOCKET, "-uroot", "--batch"],
                              input="\n".join(statements) + "\n", capture_output=True, text=True, timeout=60)

    def grant_rows(self):
        """The rows of MariaDB's privilege tables that name this scene's objects, or PUBLIC."""
        rows = set()
        for kind, query in (
                ("db", "SELECT Host, Db, User FROM mysql.db"),
                ("table", "SELECT Host, Db, User, Table_name, Table_priv FROM mysql.tables_priv"),
                ("column", "SELECT Host, Db, User, Table_name, Column_name FROM mysql.columns_priv"),
                ("account", "SELECT Host, User, Priv FROM mysql.global_priv"),
                ("role", "SELECT Host, User, Role FROM mysql.roles_mapping")):
            for row in self.sql(query):
                if any(self.tag in str(v) or v == "PUBLIC" for v in row):
                    rows.add((kind,) + tuple(str(v) for v in row))
        return rows

    def close(self):
        for role in self.canaries:
            self.sql(f"DROP ROLE IF EXISTS {qi(role)}")
        for user in (self.victim, self.hostile_user):
            self.sql("DROP USER IF EXISTS %s@'localhost'", (user,))
        try:
            self.sql(f"REVOKE SELECT ON {qi(self.hostile_db.split('`')[0])}.* FROM PUBLIC")
        except Exception:
            pass
        for db in (self.hostile_db, self.plain_db):
            self.sql(f"DROP DATABASE IF EXISTS {qi(db)}")
        self.admin.close()


@pytest.fixture
def scene(server):
    assert CLIENT, "the MariaDB client (mysql) is needed"
    s = Scene(server)
    yield s
    s.close()


def expected(database, user):
    return {("table", "localhost", database, user, t, "Select") for t in registry.tables()}


@pytest.mark.parametrize("case", ["database", "user"])
def test_hostile_names_get_exactly_the_intended_grants(scene, case):
    database, user = (scene.hostile_db, scene.victim) if case == "database" else \
        (scene.plain_db, scene.hostile_user)
    before = scene.grant_rows()
    proc = scene.client(new_grants(database, user, "localhost"))
    assert proc.returncode == 0, proc.stderr
    after = scene.grant_rows()
    assert after - before == expected(database, user)
    assert before - after == set()


@pytest.mark.parametrize("case", ["database", "user"])
def test_the_old_output_ran_what_the_names_hid(scene, case):
    """The hostile names are hostile: pasted between quotes, they make a role (and, the
    database one, give every account SELECT on a database)."""
    database, user = (scene.hostile_db, scene.victim) if case == "database" else \
        (scene.plain_db, scene.hostile_user)
    before = scene.grant_rows()
    scene.client(old_grants(database, user, "localhost"))
    made = scene.grant_rows() - before
    canary = scene.canaries[0] if case == "database" else scene.canaries[1]
    assert any(row[0] == "account" and row[2] == canary for row in made), made
    assert made != expected(database, user)
