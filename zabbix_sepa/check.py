"""`zabbix-sepa check`: is this host ready? Config, each site's database, Zabbix, the spool.

Each line says what was checked and, when it failed, why and what to do.
Nothing here writes anything, and no line shows a password or a row of data.
"""
import os
import socket
import time

from zabbix_sepa import registry
from zabbix_sepa.db import Database, DatabaseError
from zabbix_sepa.transport import spool


def grants(database, user, host):
    """GRANT statements for exactly the tables the collector reads (the optional ones too)."""
    return [f"GRANT SELECT ON `{database}`.`{t}` TO '{user}'@'{host}';" for t in registry.tables()]


def run(cfg, timeout=5.0):
    """[(ok, line)] for everything `check` looks at."""
    out = [(True, f"config {cfg.path}: valid, {len(cfg.sites)} site(s)")]
    required = {t for g in registry.groups() for s in g.sections for t in s.tables}
    for site in cfg.sites:
        db = site.database
        where = db.socket or f"{db.host}:{db.port}"
        began = time.monotonic()
        try:
            conn = Database(db, began + timeout)
            try:
                present, _, _ = conn.inspect(registry.tables())
            finally:
                conn.close()
        except DatabaseError as exc:
            out.append((False, f"site {site.name}: database {db.name} at {where} as {db.user}: {exc}"))
            continue
        missing = sorted(required - present)
        ms = 1000 * (time.monotonic() - began)
        if missing:
            out.append((False, f"site {site.name}: database {db.name} at {where}: required table(s) missing: "
                               f"{', '.join(missing)} (is this a Verenigingen site? does {db.user} have "
                               f"SELECT on them? `zabbix-sepa db-grants` prints the statements)"))
        else:
            out.append((True, f"site {site.name}: database {db.name} at {where} as {db.user}: reachable, "
                              f"{len(present)} of {len(registry.tables())} tables ({ms:.0f} ms)"))
    z = cfg.zabbix
    try:
        socket.create_connection((z.server, z.port), timeout=timeout).close()
        out.append((True, f"zabbix server {z.server}:{z.port}: accepts connections (for `send`)"))
    except OSError as exc:
        out.append((False, f"zabbix server {z.server}:{z.port}: {exc.strerror or exc} (only `send` needs it; "
                           "the agent mode does not)"))
    if cfg.api:
        from zabbix_sepa.zabbix.api import Api, ApiError
        try:
            with Api(cfg.api) as api:
                tested = "" if api.version.tested else " (a version zabbix-sepa is not tested with)"
                out.append((True, f"zabbix api {cfg.api.url}: Zabbix {api.version}{tested}, credentials accepted"))
        except ApiError as exc:
            out.append((False, f"zabbix api {cfg.api.url}: {exc}"))
    out.append(_spool(cfg))
    return out


def _spool(cfg):
    root = cfg.spool_dir
    if not os.path.isdir(root):
        parent = os.path.dirname(root.rstrip("/")) or "/"
        ok = os.access(parent, os.W_OK)
        return ok, (f"spool {root}: not there yet; will be created" if ok else
                    f"spool {root}: missing and {parent} is not writable by this user")
    if not os.access(root, os.W_OK):
        return False, f"spool {root}: not writable by this user (send would lose values when Zabbix is down)"
    waiting = sum(len(spool.HostSpool(root, h).entries()) for h in spool.hosts(root))
    return True, f"spool {root}: writable, {waiting} value(s) waiting"
