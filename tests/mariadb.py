"""A real MariaDB for the tests: started by stack/mariadb.sh when none answers.

Tests connect as root over the socket to create and drop their databases,
and the collector connects as a restricted user over TCP, the way a
production host does.
"""
import os
import subprocess
import time
import uuid

import pymysql

from tests.tcp import LocalServer
from zabbix_sepa.config import DatabaseConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOCKET = os.environ.get("MARIADB_SOCKET", "/run/mysqld/mysqld.sock")
HOST, PORT = "127.0.0.1", int(os.environ.get("MARIADB_PORT", "3306"))
PREFIX = "zsepa_test_"
USER, PASSWORD = "zsepa_test", "zsepa-test-pw"


def unique_name(hint=""):
    clean = "".join(ch for ch in hint.lower() if ch.isalnum())[:20]
    return f"{PREFIX}{clean}_{uuid.uuid4().hex[:8]}"


class Server:
    def admin(self, database=None):
        return pymysql.connect(unix_socket=SOCKET, user="root", database=database, charset="utf8mb4",
                               autocommit=False)

    def site_database_mapping(self, name):
        return {"host": HOST, "port": PORT, "name": name, "user": USER, "password": PASSWORD}

    def site_database(self, name):
        return DatabaseConfig(**self.site_database_mapping(name))


def _answers():
    try:
        pymysql.connect(unix_socket=SOCKET, user="root", connect_timeout=2).close()
        return True
    except pymysql.err.MySQLError:
        return False


def ensure_server():
    """Idempotent: fast when a server is up; otherwise installs/starts one."""
    if not _answers():
        subprocess.run([os.path.join(ROOT, "stack", "mariadb.sh"), "up"], check=True)
        deadline = time.monotonic() + 30
        while not _answers():
            if time.monotonic() > deadline:
                raise RuntimeError("MariaDB did not come up; see /var/tmp/zabbix-sepa-stack/mariadb.log")
            time.sleep(0.5)
    server = Server()
    conn = server.admin()
    with conn.cursor() as cur:
        for host in ("127.0.0.1", "localhost"):
            cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (USER, host, PASSWORD))
            # Read-only, and only on the tests' own databases.
            pattern = PREFIX.replace("_", "\\_") + "%%"   # %% survives pymysql's formatting
            cur.execute(f"GRANT SELECT ON `{pattern}`.* TO %s@%s", (USER, host))
    conn.close()
    return server


class SilentDatabase(LocalServer):
    """Accepts TCP connections and never says a word (a hung MariaDB)."""

    def handle(self, conn):
        self.held.append(conn)
