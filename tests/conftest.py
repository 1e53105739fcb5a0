"""Shared fixtures. Integration tests get a real MariaDB (see tests/mariadb.py)."""
import datetime as dt
import itertools
import json
import os
import subprocess
import sys

import pytest

from tests import mariadb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = dt.datetime(2026, 11, 22, 12, 0, 0)   # the collection time most tests use


def pytest_sessionstart(session):
    from tests import machine_guard
    session.config._zsepa_machine = machine_guard.fingerprint()


def pytest_sessionfinish(session, exitstatus):
    """The suite never touches this machine's own zabbix-sepa or demo: fail the run if it did."""
    from tests import machine_guard
    before = getattr(session.config, "_zsepa_machine", None)
    if before is None:
        return
    changed = machine_guard.differences(before, machine_guard.fingerprint())
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = "the tests changed this machine's own zabbix-sepa installation or demo:\n  " + "\n  ".join(changed)
        if reporter:
            reporter.write_line(text, red=True)
        else:
            print(text, file=sys.stderr)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def server():
    return mariadb.ensure_server()


class SiteDB:
    """A throw-away site database with the Frappe schema, and a way to fill it."""

    def __init__(self, server, name, skip=(), schema=True):
        from zabbix_sepa.dataset.schema import create_schema
        self.server, self.name = server, name
        self.admin = server.admin(database=None)
        with self.admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            cur.execute(f"USE `{name}`")
            if schema:
                create_schema(cur, skip=skip)
        self._seq = itertools.count(1)

    def insert(self, doctype, **fields):
        """Insert one row; standard columns get defaults (created an hour before N)."""
        row = {"name": f"{doctype[:6].upper().replace(' ', '')}-{next(self._seq):05d}",
               "creation": N - dt.timedelta(hours=1), "docstatus": 0}
        row.update(fields)
        row.setdefault("modified", row["creation"])
        cols = ", ".join(f"`{c}`" for c in row)
        marks = ", ".join(["%s"] * len(row))
        with self.admin.cursor() as cur:
            cur.execute(f"INSERT INTO `tab{doctype}` ({cols}) VALUES ({marks})", list(row.values()))
        self.admin.commit()
        return row["name"]

    def execute(self, sql, params=None):
        with self.admin.cursor() as cur:
            cur.execute(sql, params)
        self.admin.commit()

    def site(self, **overrides):
        from zabbix_sepa.config import DEFAULT_DISCOVERY, DEFAULT_THRESHOLDS, DatabaseConfig, Site
        values = dict(name="test-site", database=self.server.site_database(self.name),
                      thresholds=dict(DEFAULT_THRESHOLDS), discovery=dict(DEFAULT_DISCOVERY),
                      timezone="Europe/Amsterdam", collect_timeout=10.0)
        values.update(overrides)
        values.setdefault("hour_collect_timeout", values["collect_timeout"])   # one budget unless a test says
        assert isinstance(values["database"], DatabaseConfig)
        return Site(**values)

    def collect(self, now=N, **overrides):
        from zabbix_sepa.collect import collect
        return collect(self.site(**overrides), now)

    def drop(self):
        with self.admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
        self.admin.close()


class FakeDB:
    """Every table exists; counts statements like the real session."""

    def __init__(self, cfg, deadline):
        self.statements = 0

    def inspect(self, tables):
        return set(tables), 1024, 3

    def close(self):
        pass


@pytest.fixture
def fake_registry(monkeypatch):
    """Replace the groups by the sections a test gives (plus the collector's own), and the
    database by FakeDB: collections without a database."""
    from zabbix_sepa import collect as collect_mod
    from zabbix_sepa import registry
    from zabbix_sepa.groups import collector
    from zabbix_sepa.groups.base import Group

    def use(*sections):
        groups = [Group("t", "test", tuple(sections)), collector.GROUP]
        monkeypatch.setattr(registry, "sections", lambda cadence=None: [
            (g, s) for g in groups for s in g.sections
            if cadence is None or s.cadence in (cadence, registry.EVERY_RUN)])
        monkeypatch.setattr(registry, "tables", lambda: ["tabX"])
    monkeypatch.setattr(collect_mod, "Database", FakeDB)
    return use


@pytest.fixture
def redis_server():
    """A real redis-server of this test's own (tests/redis_server.py), without a password.
    `tests/run.sh` installs Debian's package; `--unit` alone skips these tests without it."""
    from tests.redis_server import RedisServer, installed
    if not installed():
        pytest.skip("redis-server is not installed (apt-get install redis-server; tests/run.sh does)")
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def make_site(server, request):
    made = []

    def make(skip=()):
        db = SiteDB(server, mariadb.unique_name(request.node.name), skip)
        made.append(db)
        return db

    yield make
    for db in made:
        db.drop()


@pytest.fixture
def site(make_site):
    return make_site()


def run_cli(*args, env=None, timeout=60):
    """Run `python -m zabbix_sepa ARGS` as a user would; returns (rc, stdout, stderr)."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "zabbix_sepa", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=full_env)
    return proc.returncode, proc.stdout, proc.stderr


def write_config(tmp_path, site_db=None, database=None, **top):
    """A config file for one site; `database` overrides the site's database mapping."""
    import yaml
    if database is None:
        database = site_db.server.site_database_mapping(site_db.name)
    doc = {"timezone": "Europe/Amsterdam", **top,
           "sites": [{"name": "test-site", "database": database}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    os.chmod(path, 0o600)
    return str(path)


def parse(stdout):
    return json.loads(stdout)
