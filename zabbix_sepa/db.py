"""Read-only access to a site's MariaDB within a time budget.

Every statement runs as `SET STATEMENT max_statement_time=<remaining> FOR ...`
so that no query outlives the collection's budget, and is counted. Errors are
turned into short reasons that never carry data from the database.
"""
import time

import pymysql
import pymysql.cursors

from zabbix_sepa.privacy import redact

# MariaDB error codes we explain in plain words.
_REASONS = {
    1045: "access denied for the configured user",
    1044: "access denied to the database",
    1049: "the configured database does not exist",
    1142: "the configured user lacks SELECT on a table",
    1146: "a table does not exist",
    1969: "statement exceeded the time limit (collect_timeout)",
    2003: "cannot connect to the server",
    2002: "cannot connect to the server socket",
    2013: "lost connection to the server (timed out)",
}


class DatabaseError(Exception):
    """A statement failed; str() is safe to show."""


class Unreachable(DatabaseError):
    """The server could not be reached or refused us."""


class OutOfTime(DatabaseError):
    pass


def describe(exc):
    """A privacy-safe reason for a pymysql or socket exception."""
    code = exc.args[0] if getattr(exc, "args", None) and isinstance(exc.args[0], int) else None
    if code in _REASONS:
        return f"MariaDB error {code}: {_REASONS[code]}"
    if code is not None:
        detail = exc.args[1] if len(exc.args) > 1 else ""
        return f"MariaDB error {code}: {redact(str(detail))[:200]}"
    return f"{type(exc).__name__}: {redact(str(exc))[:200]}"


class Database:
    """One read-only session; `statements` counts what was executed."""

    def __init__(self, cfg, deadline):
        self.deadline = deadline
        self.statements = 0
        budget = self.remaining()
        if budget <= 0:
            raise Unreachable("collect_timeout exceeded before connecting")
        kwargs = dict(user=cfg.user, password=cfg.password, database=cfg.name, charset="utf8mb4",
                      connect_timeout=max(budget, 0.1), read_timeout=max(budget, 0.1),
                      write_timeout=max(budget, 0.1), autocommit=False,
                      # PyMySQL 2 tries TLS by default, and building its context
                      # costs ~25 ms per run; Debian's MariaDB serves no TLS.
                      ssl_disabled=True)
        if cfg.socket:
            kwargs["unix_socket"] = cfg.socket
        else:
            kwargs.update(host=cfg.host, port=cfg.port)
        try:
            self.conn = pymysql.connect(**kwargs)
        except (pymysql.err.MySQLError, OSError) as exc:
            raise Unreachable(describe(exc)) from None
        # With autocommit off, the first SELECT opens one REPEATABLE READ
        # transaction: every later statement sees the same snapshot.
        self._execute(self.conn.cursor(), "SET SESSION TRANSACTION READ ONLY", None, limit=False)

    def remaining(self):
        return self.deadline - time.monotonic()

    def _execute(self, cursor, sql, params, limit=True):
        if limit:
            budget = self.remaining()
            if budget <= 0.001:
                raise OutOfTime("collect_timeout exceeded")
            sql = f"SET STATEMENT max_statement_time={budget:.3f} FOR {sql}"
        self.statements += 1
        try:
            cursor.execute(sql, params)
        except (pymysql.err.MySQLError, OSError) as exc:
            raise DatabaseError(describe(exc)) from None
        return cursor

    def one(self, sql, params=None):
        """The single row of an aggregate statement."""
        with self.conn.cursor() as cur:
            return self._execute(cur, sql, params).fetchone()

    def rows(self, sql, params=None):
        with self.conn.cursor() as cur:
            return self._execute(cur, sql, params).fetchall()

    def stream(self, sql, params=None):
        """Rows one at a time from a server-side (unbuffered) cursor."""
        cur = self.conn.cursor(pymysql.cursors.SSCursor)
        try:
            self._execute(cur, sql, params)
            while True:
                try:
                    row = cur.fetchone()
                except (pymysql.err.MySQLError, OSError) as exc:
                    raise DatabaseError(describe(exc)) from None
                if row is None:
                    return
                yield row
        finally:
            try:
                cur.close()
            except (pymysql.err.MySQLError, OSError):
                pass

    def inspect(self, tables):
        """(present tables among `tables`, schema bytes, Threads_connected) in one statement."""
        marks = ", ".join(["%s"] * len(tables))
        row = self.one(
            "SELECT COALESCE(SUM(data_length + index_length), 0),"
            f" GROUP_CONCAT(CASE WHEN table_name IN ({marks}) THEN table_name END SEPARATOR '\\n'),"
            " (SELECT variable_value FROM information_schema.global_status"
            "   WHERE variable_name = 'THREADS_CONNECTED')"
            " FROM information_schema.tables WHERE table_schema = DATABASE()",
            list(tables))
        present = set(row[1].split("\n")) if row[1] else set()
        return present, int(row[0]), int(row[2] or 0)

    def close(self):
        try:
            self.conn.close()
        except Exception:  # closing a broken connection must not hide the document
            pass
