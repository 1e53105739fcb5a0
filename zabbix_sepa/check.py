"""`zabbix-sepa check`: is this host ready? Config, each site's database (and its bench's Redis,
when configured), Zabbix, the spool.

Each line says what was checked and, when it failed, why and what to do.
Nothing here writes anything, and no line shows a password or a row of data.
"""
import os
import socket
import time
import unicodedata

from zabbix_sepa import registry, resp
from zabbix_sepa.db import Database, DatabaseError
from zabbix_sepa.transport import spool


# the longest name MariaDB keeps: a database (identifier), mysql.global_priv's User and Host
NAME_LIMITS = {"database": 64, "user": 128, "host": 255}


class BadName(ValueError):
    """A database, user or host name that no GRANT statement should be written for."""


def sql_identifier(name):
    """A MariaDB identifier in backquotes, each backquote in it doubled."""
    return "`" + name.replace("`", "``") + "`"


def sql_string(value):
    """A MariaDB string literal: backslashes and quotes escaped (one literal whether or not
    the server runs with NO_BACKSLASH_ESCAPES)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def check_name(kind, value):
    """`value` if it can be a MariaDB `kind` name (database, user, host), else BadName.

    Quoting keeps any name inside its statement; these are refused besides: what MariaDB
    cannot store as written (too long, outside the Basic Multilingual Plane, a trailing space),
    control characters (the output is one statement per line), and a backslash in a user or
    host name: quoted, it stays inside its literal either way, but NO_BACKSLASH_ESCAPES would
    make it name another account."""
    limit = NAME_LIMITS[kind]
    if not isinstance(value, str) or not value:
        problem = "is empty"
    elif len(value) > limit:
        problem = f"is longer than {limit} characters"
    elif any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        problem = "holds a control character"
    elif "\\" in value and kind != "database":
        problem = "holds a backslash (which a string literal means one way or another by the server's sql_mode)"
    elif any(ord(ch) > 0xFFFF for ch in value):
        problem = "holds a character MariaDB names cannot (outside the Basic Multilingual Plane)"
    elif value.endswith(" "):
        problem = "ends in a space, which MariaDB drops (or refuses, for a database)"
    else:
        return value
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    raise BadName(f"{kind} name {shown} {problem}")


def grants(database, user, host):
    """GRANT statements for exactly the tables the collector reads (the optional ones too),
    one per line, every name quoted; BadName for a name that cannot be (see check_name)."""
    on = sql_identifier(check_name("database", database))
    to = f"{sql_string(check_name('user', user))}@{sql_string(check_name('host', host))}"
    return [f"GRANT SELECT ON {on}.{sql_identifier(t)} TO {to};" for t in registry.tables()]


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
    out += [_redis(site, timeout) for site in cfg.sites if site.redis]
    z = cfg.zabbix
    try:
        socket.create_connection((z.server, z.port), timeout=timeout).close()
        out.append((True, f"zabbix server {z.server}:{z.port}: accepts connections (for `send`)"))
    except OSError as exc:
        out.append((False, f"zabbix server {z.server}:{z.port}: {exc.strerror or exc} (only `send` needs it; "
                           "the agent mode does not)"))
    for proxy in z.proxies:
        sites = ", ".join(s.name for s in cfg.sites if s.proxy == proxy.name or
                          (proxy.proxy_group and s.proxy_group == proxy.proxy_group)) or "no site"
        if proxy.proxy_group:
            sites = f"proxy group {proxy.proxy_group}: {sites}"
        try:
            socket.create_connection((proxy.address, proxy.port), timeout=timeout).close()
            out.append((True, f"zabbix proxy {proxy.name} {proxy.address}:{proxy.port}: accepts connections "
                              f"(`send` for {sites})"))
        except OSError as exc:
            out.append((False, f"zabbix proxy {proxy.name} {proxy.address}:{proxy.port}: {exc.strerror or exc} "
                               f"(`send` delivers {sites} there)"))
    if cfg.api:
        from zabbix_sepa.zabbix.api import Api, ApiError
        try:
            with Api(cfg.api) as api:
                tested = "" if api.version.tested else " (a version zabbix-sepa is not tested with)"
                out.append((True, f"zabbix api {cfg.api.url}: Zabbix {api.version}{tested}, credentials accepted"))
        except ApiError as exc:
            out.append((False, f"zabbix api {cfg.api.url}: {exc}"))
    out.append(_spool(cfg))
    if cfg.cache_seconds:
        out.append(_cache(cfg))
    return out


def _redis(site, timeout):
    """A site's Redis as the queue metrics read it: reachable, the login accepted, and the
    queues of its bench found by the collector's own rules."""
    from zabbix_sepa.groups import queues
    r = site.redis
    try:
        with resp.connect(r, time.monotonic() + timeout) as redis:
            found, _ = queues.bench_of_site(redis, r.bench_id, time.time())
    except (resp.RedisError, registry.SourceError) as exc:
        return False, f"site {site.name}: redis: {exc}"
    who = f" as {r.username}" if r.username else (" with the password" if r.password else "")
    if not found:
        return False, (f"site {site.name}: redis {resp.address(r.host, r.port)}{who}: answers, but holds no queue "
                       f"{'of bench ' + repr(r.bench_id) if r.bench_id else 'of any bench'} and no worker listens "
                       f"to one: is it the bench's redis_queue (port 11000 by default), is redis.bench_id right? "
                       f"(`redis-cli SMEMBERS rq:queues` lists the queues)")
    return True, (f"site {site.name}: redis {resp.address(r.host, r.port)}{who}: answers, {len(found)} queue(s) of "
                  f"the bench: {', '.join(found)}")


def _spool(cfg):
    root = cfg.spool_dir
    if not os.path.isdir(root):
        parent = os.path.dirname(root.rstrip("/")) or "/"
        ok = os.access(parent, os.W_OK)
        return ok, (f"spool {root}: not there yet; will be created" if ok else
                    f"spool {root}: missing and {parent} is not writable by this user")
    try:
        denied = spool.not_writable(root)
        if denied:
            return False, (f"spool {root}: {denied} is not writable by user {spool.user()}, so send "
                           f"cannot keep values while Zabbix is down; {spool.ownership_fix(root)}")
        held = [spool.HostSpool(root, h) for h in spool.hosts(root)]
        waiting = sum(len(h.peek()) for h in held)
        bad = sum(h.bad_files() for h in held)
    except spool.SpoolError as exc:
        return False, f"spool {root}: {exc}"
    line = f"spool {root}: writable, {waiting} value(s) waiting"
    if bad:
        line += f", {bad} unreadable file(s) set aside as *.bad (see the send log)"
    return True, line


def _cache(cfg):
    """The agent's shared cache: usable by this user, its lock files by the whole group."""
    path = cfg.cache_dir
    if not os.path.isdir(path):
        return True, f"cache {path}: not there yet; will be created"
    if not os.access(path, os.W_OK | os.X_OK):
        return False, (f"cache {path}: not writable by user {spool.user()}: its collections are not "
                       f"shared (cache_seconds); fix: chmod 2770 {path} with the group of every "
                       "account that collects (install.sh does)")
    closed = sorted(name for name in os.listdir(path) if name.endswith(".lock")
                    and os.stat(os.path.join(path, name)).st_mode & 0o060 != 0o060)
    if closed:
        return False, (f"cache {path}: lock file(s) {', '.join(closed)} not writable by the group: "
                       f"another account collects without the cache; fix: chmod 0660 {path}/*.lock")
    return True, f"cache {path}: writable, lock files shared by the group"
