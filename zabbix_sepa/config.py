"""Configuration: load the YAML of interface.md, apply defaults, validate.

Every problem raises ConfigError naming the file, the key and what is wrong;
the CLI prints it and exits 2.
"""
import os
import re
import reprlib
import stat
import sys
from dataclasses import dataclass, field
from typing import List, Optional, Tuple
from urllib.parse import urlsplit

import yaml

from zabbix_sepa import redact, registry

DEFAULT_PATH = "/etc/zabbix-sepa/config.yaml"
ENV_VAR = "ZABBIX_SEPA_CONFIG"

# Zabbix host names: alphanumerics, space, dot, dash, underscore.
HOST_NAME = re.compile(r"[0-9A-Za-z_. -]{1,128}")

# thresholds: key -> Threshold(default, minimum, maximum), declared by the metric groups
# (batch_stuck_hours and batch_unprocessed_hours steer the collector, metrics.md; the others
# are the alert thresholds that the template's macros default to and `zabbix setup` writes
# into host macros). The groups also declare the Orders that each site's thresholds keep.
THRESHOLDS = registry.thresholds()
DEFAULT_THRESHOLDS = {k: t.default for k, t in THRESHOLDS.items()}
DEFAULT_DISCOVERY = {"max_batches": 100}
DEFAULT_COLLECT_TIMEOUT = 2.5            # the minute collection's budget (and a whole one's floor)
DEFAULT_HOUR_COLLECT_TIMEOUT = 25.0      # the hourly one's: under a 6.0 agent's longest Timeout (30 s)
QUIET = False       # set by `collect --quiet`: no warnings on stderr (the agent mixes stderr into values)
DEFAULT_SPOOL_DIR = "/var/spool/zabbix-sepa"
DEFAULT_SPOOL_MAX_AGE_HOURS = 168          # a week: past the default 7d history, a value is of little use
DEFAULT_SPOOL_MAX_BYTES = 100 * 2**20
DEFAULT_CACHE_DIR = "/var/cache/zabbix-sepa"
DEFAULT_SEND_TIMEOUT = 10
DEFAULT_DAILY_REPORT_AT = "07:15"
DEFAULT_REDIS_PORT = 6379
MAIL_ADDRESS = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+")


class ConfigError(Exception):
    def __init__(self, path, key, problem):
        self.path, self.key, self.problem = path, key, problem
        super().__init__(f"config error in {path}: {key}: {problem}" if key
                         else f"config error in {path}: {problem}")


@dataclass(frozen=True)
class DatabaseConfig:
    name: str
    user: str
    password: str = ""
    host: str = "127.0.0.1"
    port: int = 3306
    socket: Optional[str] = None


@dataclass(frozen=True)
class RedisConfig:
    """The bench's `redis_queue` (Frappe's common_site_config.json), where RQ keeps the
    background jobs: the queue metrics read it (never write), with a login when it wants one
    (`password` alone for requirepass; with `username` an ACL user) and the bench whose queues
    to read (`bench_id`; None: the only bench whose queues it holds)."""
    host: str
    port: int = DEFAULT_REDIS_PORT
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    bench_id: Optional[str] = None


@dataclass(frozen=True)
class HealthConfig:
    """What `zabbix-sepa health` looks at besides the database (seed 003's checks)."""
    disk_paths: Tuple[str, ...] = ("/",)
    disk_warn_percent: float = 80
    disk_critical_percent: float = 90
    db_latency_warn_ms: float = 500
    redis_host: Optional[str] = None
    redis_port: int = DEFAULT_REDIS_PORT


FRAPPE_HOST_TEMPLATES = ("linux", "mysql", "redis")   # roles of Zabbix's own templates (zabbix/provision.py)


@dataclass(frozen=True)
class FrappeHost:
    """The server a site's Frappe runs on, watched by Zabbix's own templates through its agent."""
    name: str
    address: str
    port: int = 10050
    templates: Tuple[str, ...] = FRAPPE_HOST_TEMPLATES


@dataclass(frozen=True)
class Site:
    name: str
    database: DatabaseConfig
    thresholds: dict
    discovery: dict
    timezone: Optional[str]
    collect_timeout: float                       # the minute collection's budget, seconds
    daily_report_to: Tuple[str, ...] = ()        # reports.daily.mail_to (the site's own, else the global one)
    intervals: dict = field(default_factory=lambda: dict(registry.INTERVALS))   # cadence -> seconds
    hour_collect_timeout: float = DEFAULT_HOUR_COLLECT_TIMEOUT
    health: HealthConfig = HealthConfig()        # the `health:` settings (global), judged in each collection
    proxy: Optional[str] = None                  # the name of the zabbix.proxies entry that monitors it
    proxy_group: Optional[str] = None            # or (7.0) the proxy group whose proxies share it
    frappe_host: Optional[FrappeHost] = None     # `zabbix setup` makes it a host with Zabbix's own templates
    redis: Optional[RedisConfig] = None          # its bench's redis_queue (sites[].redis over redis), or none

    def budget(self, cadence):
        """Seconds a collection of `cadence` (minute, hour or all) may take."""
        return {registry.MINUTE: self.collect_timeout, registry.HOUR: self.hour_collect_timeout}.get(
            cadence, max(self.collect_timeout, self.hour_collect_timeout))


@dataclass(frozen=True)
class ProxyConfig:
    """A Zabbix proxy that sites may be monitored by: its name in Zabbix, and where `send`
    delivers the values of its sites."""
    name: str
    address: str
    port: int = 10051
    proxy_group: Optional[str] = None       # 7.0: the proxy group it belongs to


@dataclass(frozen=True)
class ZabbixConfig:
    server: str = "127.0.0.1"
    port: int = 10051
    tls_psk_identity: Optional[str] = None
    tls_psk_file: Optional[str] = None
    timeout: float = DEFAULT_SEND_TIMEOUT
    proxies: Tuple[ProxyConfig, ...] = ()

    def destination(self, proxy=None):
        """(address, port) that takes the values of a site monitored by `proxy` (None: the server)."""
        if proxy is None:
            return self.server, self.port
        p = next(p for p in self.proxies if p.name == proxy)
        return p.address, p.port

    def group_members(self, group):
        """The proxies of proxy group `group`, in the order configured."""
        return [p for p in self.proxies if p.proxy_group == group]


@dataclass(frozen=True)
class ApiConfig:
    """How `zabbix setup` reaches the frontend API: a token, or a user and password."""
    url: str
    token: Optional[str] = None
    user: Optional[str] = None
    password: Optional[str] = None
    timeout: float = 30


@dataclass(frozen=True)
class AlertsConfig:
    """What `zabbix setup` creates for notifications (all optional)."""
    admins: Tuple[str, ...] = ()                 # existing Zabbix users put into "SEPA admins"
    escalate_after_minutes: int = 30
    smtp_server: str = "localhost"
    smtp_port: int = 25
    smtp_helo: str = "localhost"
    smtp_email: str = "zabbix@localhost"
    smtp_security: str = "none"                  # none, starttls or ssl (SMTPS)
    smtp_verify: bool = True                     # check the server's certificate and name (starttls, ssl)
    smtp_user: Optional[str] = None              # log in when set (password from smtp_password_file)
    smtp_password: Optional[str] = None
    webhook_url: Optional[str] = None            # a chat tool's incoming webhook (Mattermost, Rocket.Chat...)
    webhook_token: Optional[str] = None          # sent as "Authorization: Bearer ..." when set
    webhook_channel: str = "#sepa"               # in the post's "channel" (Slack's own webhooks ignore it)
    slack_token: Optional[str] = None            # a Slack bot token: Zabbix's stock Slack media type
    slack_channel: Optional[str] = None
    # Zabbix severities (SEVERITIES): problems from notify_min_severity up are sent to the admins
    # (below: the dashboard only); from escalate_min_severity up they escalate when unacknowledged.
    notify_min_severity: int = 2                 # warning
    escalate_min_severity: int = 4               # high


@dataclass(frozen=True)
class Config:
    path: str
    zabbix: ZabbixConfig
    spool_dir: str
    sites: List[Site]
    spool_max_age_hours: float = DEFAULT_SPOOL_MAX_AGE_HOURS
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    cache_seconds: float = 0
    send_concurrency: int = 4                    # sites `send` collects side by side
    cache_dir: str = DEFAULT_CACHE_DIR
    api: Optional[ApiConfig] = None
    alerts: AlertsConfig = AlertsConfig()
    health: HealthConfig = HealthConfig()
    daily_report_at: str = DEFAULT_DAILY_REPORT_AT   # reports.daily.at: when install.sh schedules it (HH:MM)

    @property
    def daily_report_scheduled(self):
        """install.sh schedules `report daily --all --mail` when any site has recipients."""
        return any(s.daily_report_to for s in self.sites)

    def site(self, name=None):
        """The named site, or the only one when name is None."""
        if name is None:
            if len(self.sites) == 1:
                return self.sites[0]
            raise ConfigError(self.path, "sites",
                              f"{len(self.sites)} sites configured; choose one with --site "
                              f"({', '.join(s.name for s in self.sites)})")
        for s in self.sites:
            if s.name == name:
                return s
        raise ConfigError(self.path, "sites",
                          f"no site named {name!r} (configured: {', '.join(s.name for s in self.sites)})")


def resolve_path(cli_path=None):
    return cli_path or os.environ.get(ENV_VAR) or DEFAULT_PATH


# Keys whose values are secrets, wherever they appear: read as the text the user wrote.
SECRET_KEYS = frozenset({"password", "token"})
_TEXT = "tag:yaml.org,2002:str"
MAX_DEPTH = 50
_RETYPED = {f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "timestamp")}


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader, but a plain scalar under a secret key stays the text written
    (`password: 0123` is "0123", not YAML 1.1's octal 83; `token: yes` is "yes", not True),
    a value Python cannot make (`2024-13-45`, an integer of 5000 digits, `!!int ''`) is a YAML
    error at its line, not a ValueError, and nesting deeper than MAX_DEPTH is refused."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            for key_node, value_node in node.value:
                if (isinstance(key_node, yaml.ScalarNode) and key_node.value in SECRET_KEYS
                        and isinstance(value_node, yaml.ScalarNode) and value_node.tag in _RETYPED):
                    value_node.tag = _TEXT
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent, index):
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:     # before Python's recursion limit, and before PyYAML's
                raise yaml.composer.ComposerError(      # scanner goes quadratic in the depth
                    None, None, f"nested too deeply (more than {MAX_DEPTH} levels)", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, RecursionError):
            raise
        except Exception as exc:        # PyYAML's own constructors: `!!int ''` is an IndexError
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value ({_short_text(str(exc))})", node.start_mark) from None


def load(cli_path=None):
    path = resolve_path(cli_path)
    return parse(_read(path), path)


def daily_report_schedule(cli_path=None):
    """reports.daily.at ("HH:MM") when a site has recipients, else None: what install.sh
    schedules. Reads only the `reports` keys, so it works before the rest of the file is
    filled in (a password_file that does not exist yet)."""
    path = resolve_path(cli_path)
    raw = _read(path)
    c = _Checker(path)
    top = raw if isinstance(raw, dict) else {}
    to, at = _daily_report(c, top.get("reports"), "reports", (), site_level=False)
    sites = top.get("sites") if isinstance(top.get("sites"), list) else []
    scheduled = [_daily_report(c, rs.get("reports") if isinstance(rs, dict) else None, f"sites[{i}].reports", to,
                               site_level=True)[0] for i, rs in enumerate(sites)]
    return at if any(scheduled) else None


def _read(path):
    """The file's YAML, or a ConfigError saying why it cannot be read."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except (OSError, ValueError) as exc:
        raise ConfigError(path, None, f"cannot read the file ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise ConfigError(path, None, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at line {line}, byte "
                                      f"{column}); save it as UTF-8") from None
    try:
        raw = yaml.load(text, Loader=_Loader)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise ConfigError(path, None, f"not valid YAML at line {line}: it may not hold the character "
                                      f"U+{char:04X}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        raise ConfigError(path, None, f"not valid YAML{where}" +
                          (f": {_short_text(problem)}" if problem else "")) from None
    except RecursionError:
        raise ConfigError(path, None, "not a configuration: nested too deeply") from None
    return raw


class _Repr(reprlib.Repr):
    """Values in messages, bounded: a long string or a deep list is shortened, and an integer
    too long for Python to print in decimal is shown in hex."""

    def __init__(self):
        super().__init__()
        self.maxstring = self.maxother = 60
        self.maxlevel, self.maxlist, self.maxdict = 3, 4, 4

    def repr_int(self, x, level):
        if x.bit_length() > 128:
            text = hex(x)
            return text[:20] + "..." if len(text) > 20 else text
        return repr(x)


_show = _Repr().repr


def _short_text(text, limit=200):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _name(key, limit=60):
    """A key (or a path) as it appears in a message."""
    text = key if isinstance(key, str) else _show(key)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Checker:
    """Type and range checks that name the offending key."""

    def __init__(self, path):
        self.path = path

    def fail(self, key, problem):
        raise ConfigError(self.path, key, problem)

    def mapping(self, value, key, allowed):
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, f"must be a mapping, got {type(value).__name__}")
        for k in value:
            if k not in allowed:
                self.fail(f"{key}.{_name(k)}" if key else _name(k),
                          f"unknown key (expected one of: {', '.join(sorted(allowed))})")
        return value

    def string(self, value, key, required=False):
        if value is None:
            if required:
                self.fail(key, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "must be a non-empty string")
        return value

    def number(self, value, key, minimum, maximum, integer=False):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                integer and not isinstance(value, int)):
            self.fail(key, f"must be {'an integer' if integer else 'a number'}, got {_show(value)}")
        if not minimum <= value <= maximum:
            self.fail(key, f"must be between {minimum} and {maximum}, got {_show(value)}")
        return value

    def timezone(self, value, key):
        if value is None:
            return None
        self.string(value, key)
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.fail(key, f"unknown time zone {_show(value)} (use an IANA name like Europe/Amsterdam)")
        return value

    def secret(self, value, key, allow_empty=False):
        """A password or token given in the file: text (the loader keeps unquoted ones as written)."""
        if value is None:
            return None
        if not isinstance(value, str):
            what = {list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)
            self.fail(key, f"must be text, got {what}; quote it: {key.rpartition('.')[2]}: '...'")
        if not allow_empty and not value.strip():
            self.fail(key, "must not be empty")
        return value

    def absolute_path(self, value, key):
        self.string(value, key)
        if not os.path.isabs(value):
            self.fail(key, f"must be an absolute path, got {_show(value)}")
        return value


def _thresholds(c, raw, key, base):
    raw = c.mapping(raw, key, DEFAULT_THRESHOLDS.keys())
    out = dict(base)
    for k, v in raw.items():
        out[k] = c.number(v, f"{key}.{k}", THRESHOLDS[k].minimum, THRESHOLDS[k].maximum)
    return out


def _check_threshold_orders(c, key, site, thresholds, origin):
    """Every Order the groups declare, on a site's merged thresholds: an error naming the site,
    both keys, their values and where each value comes from (`origin(threshold key)`)."""
    for order in registry.orders():
        if not order.holds(thresholds):
            low, high = order.lower.key, order.higher.key
            c.fail(key, f"site {site!r}: {low} ({_show(thresholds[low])}, {origin(low)}) must be {order.relation} "
                        f"{high} ({_show(thresholds[high])}, {origin(high)}): {order.why}")


def _threshold_origin(site_raw, site_key, top_raw):
    """Where a site's threshold comes from: its own key, the top-level one, or the default."""
    def origin(k):
        if isinstance(site_raw, dict) and k in site_raw:
            return f"{site_key}.{k}"
        if isinstance(top_raw, dict) and k in top_raw:
            return f"thresholds.{k}"
        return "default"
    return origin


def _discovery(c, raw, key, base):
    raw = c.mapping(raw, key, DEFAULT_DISCOVERY.keys())
    out = dict(base)
    for k, v in raw.items():
        out[k] = c.number(v, f"{key}.{k}", 1, 10000, integer=True)
    return out


def _cadences(c, raw, key, base):
    """cadences.minute.interval, cadences.hour.interval (seconds) and cadences.hour.collect_timeout
    under `key`, over `base` (intervals, hour timeout); the minute budget is collect_timeout."""
    raw = c.mapping(raw, key, set(registry.CADENCES))
    minute = c.mapping(raw.get(registry.MINUTE), f"{key}.minute", {"interval"})
    hour = c.mapping(raw.get(registry.HOUR), f"{key}.hour", {"interval", "collect_timeout"})
    intervals, timeout = dict(base[0]), base[1]
    if "interval" in minute:
        intervals[registry.MINUTE] = c.number(minute["interval"], f"{key}.minute.interval", 10, 3600, integer=True)
    if "interval" in hour:
        intervals[registry.HOUR] = c.number(hour["interval"], f"{key}.hour.interval", 60, 86400, integer=True)
    if "collect_timeout" in hour:
        timeout = c.number(hour["collect_timeout"], f"{key}.hour.collect_timeout", 0.1, 3600)
    if intervals[registry.HOUR] <= intervals[registry.MINUTE]:
        c.fail(key, f"hour.interval ({intervals[registry.HOUR]} s) must be longer than minute.interval "
                    f"({intervals[registry.MINUTE]} s)")
    return intervals, timeout


def _check_cadence_thresholds(c, key, thresholds, intervals):
    """Warn when a cadence would be "silent" before its next value is due (a warning, not an
    error: such a config loaded before the cadences existed)."""
    for cadence, nodata in ((registry.MINUTE, "nodata_minutes"), (registry.HOUR, "nodata_hour_minutes")):
        if thresholds[nodata] * 60 < intervals[cadence] and not QUIET:
            print(f"zabbix-sepa: warning: {c.path}: {key}thresholds.{nodata} ({thresholds[nodata]:g} minutes) is "
                  f"shorter than cadences.{cadence}.interval ({intervals[cadence]} s): \"no data\" would be "
                  f"raised between two values", file=sys.stderr)


def _password(c, db, key):
    if db.get("password") is not None and db.get("password_file") is not None:
        c.fail(key, "give either password or password_file, not both")
    if db.get("password_file") is not None:
        pf = c.string(db["password_file"], f"{key}.password_file")
        secret = _read_secret(c, pf, f"{key}.password_file").rstrip("\r\n")
        _warn_if_world_readable(pf, f"{key}.password_file")
        return _registered(secret)
    if db.get("password") is not None:
        secret = c.secret(db["password"], f"{key}.password", allow_empty=True)
        _warn_if_world_readable(c.path, f"{key}.password")
        return _registered(secret)
    return ""


def _registered(secret):
    """A secret, from now on replaced in every log line (zabbix_sepa.redact)."""
    redact.register(secret)
    return secret


SECRET_FILE_MAX = 64 * 1024


def _read_secret(c, path, key):
    try:
        with open(path, "rb") as fh:
            data = fh.read(SECRET_FILE_MAX + 1)
    except (OSError, ValueError) as exc:
        c.fail(key, f"cannot read {_name(path, 200)} ({getattr(exc, 'strerror', None) or exc})")
    if len(data) > SECRET_FILE_MAX:
        c.fail(key, f"{_name(path, 200)} is larger than {SECRET_FILE_MAX // 1024} KiB: not a file of one secret")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        c.fail(key, f"{_name(path, 200)} is not valid UTF-8 text")


def _warn_if_world_readable(path, key):
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return
    if mode & stat.S_IROTH and not QUIET:
        print(f"zabbix-sepa: warning: {path} holds a {'password' if 'password' in key else 'secret'} "
              f"({key}) and is readable by every user; run: chmod o-rwx {path}", file=sys.stderr)


def _secret_file(c, path, key):
    secret = _read_secret(c, path, key).strip()
    if not secret:
        c.fail(key, f"{path} is empty")
    _warn_if_world_readable(path, key)
    return _registered(secret)


def _api(c, raw, key):
    if raw is None:
        return None
    api = c.mapping(raw, key, {"url", "token", "token_file", "user", "password", "password_file", "timeout"})
    url = c.string(api.get("url"), f"{key}.url", required=True)
    if not url.startswith(("http://", "https://")):
        c.fail(f"{key}.url", f"must be an http(s) URL of the frontend, got {_show(url)}")
    try:
        _registered(urlsplit(url).password)         # http://user:password@host/...
    except ValueError:
        c.fail(f"{key}.url", f"is not a valid URL: {_show(url)}")
    token = c.secret(api.get("token"), f"{key}.token")
    if api.get("token_file") is not None:
        token = _secret_file(c, c.string(api["token_file"], f"{key}.token_file"), f"{key}.token_file")
    elif token is not None:
        _warn_if_world_readable(c.path, f"{key}.token")
        _registered(token)
    user = c.string(api.get("user"), f"{key}.user")
    password = c.secret(api.get("password"), f"{key}.password")
    if api.get("password_file") is not None:
        password = _secret_file(c, c.string(api["password_file"], f"{key}.password_file"),
                                f"{key}.password_file")
    elif password is not None:
        _warn_if_world_readable(c.path, f"{key}.password")
        _registered(password)
    if token is None and (user is None or password is None):
        c.fail(key, "needs token (or token_file), or user with password (or password_file)")
    if token is not None and user is not None:
        c.fail(key, "give either a token or a user, not both")
    return ApiConfig(url=url, token=token, user=user, password=password,
                     timeout=c.number(api.get("timeout", 30), f"{key}.timeout", 1, 600))


SEVERITIES = {"information": 1, "warning": 2, "average": 3, "high": 4, "disaster": 5}


def _severity(c, value, key):
    if isinstance(value, str) and value.strip().lower() in SEVERITIES:
        return SEVERITIES[value.strip().lower()]
    c.fail(key, f"must be one of {', '.join(SEVERITIES)}, got {_show(value)}")


def severity_name(number):
    return next(name for name, n in SEVERITIES.items() if n == number)


def _alerts(c, raw, key):
    a = c.mapping(raw, key, {"admins", "escalate_after_minutes", "email", "webhook", "slack",
                             "notify_min_severity", "escalate_min_severity"})
    admins = a.get("admins", [])
    if not isinstance(admins, list) or not all(isinstance(x, str) and x.strip() for x in admins):
        c.fail(f"{key}.admins", "must be a list of Zabbix user names")
    hook = c.mapping(a.get("webhook"), f"{key}.webhook", {"url", "token", "token_file", "channel"})
    hook_url = c.string(hook.get("url"), f"{key}.webhook.url")
    if hook_url is not None and not hook_url.startswith(("http://", "https://")):
        c.fail(f"{key}.webhook.url", f"must be an http(s) URL, got {_show(hook_url)}")
    hook_token = c.secret(hook.get("token"), f"{key}.webhook.token")
    if hook_token is not None and hook.get("token_file") is None:
        _warn_if_world_readable(c.path, f"{key}.webhook.token")
        _registered(hook_token)
    if hook.get("token_file") is not None:
        hook_token = _secret_file(c, c.string(hook["token_file"], f"{key}.webhook.token_file"),
                                  f"{key}.webhook.token_file")
    defaults = AlertsConfig()
    notify = _severity(c, a.get("notify_min_severity", severity_name(defaults.notify_min_severity)),
                       f"{key}.notify_min_severity")
    escalate = _severity(c, a.get("escalate_min_severity", severity_name(defaults.escalate_min_severity)),
                         f"{key}.escalate_min_severity")
    if escalate < notify:
        c.fail(f"{key}.escalate_min_severity",
               f"{severity_name(escalate)} is below {key}.notify_min_severity ({severity_name(notify)}): "
               "a problem must be sent before it can escalate")
    return AlertsConfig(
        admins=tuple(admins), notify_min_severity=notify, escalate_min_severity=escalate,
        escalate_after_minutes=c.number(a.get("escalate_after_minutes", defaults.escalate_after_minutes),
                                        f"{key}.escalate_after_minutes", 1, 10080, integer=True),
        **_email(c, a.get("email"), f"{key}.email", defaults),
        **_slack(c, a.get("slack"), f"{key}.slack"),
        webhook_url=hook_url, webhook_token=hook_token,
        webhook_channel=c.string(hook.get("channel", defaults.webhook_channel), f"{key}.webhook.channel"),
    )


SMTP_SECURITY = ("none", "starttls", "ssl")


def _proxies(c, raw, key):
    """zabbix.proxies: a list of {name, address, port, proxy_group}, names and addresses unique."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.fail(key, f"must be a list of proxies (name, address, port), got {type(raw).__name__}")
    out, names, addresses = [], set(), {}
    for i, rp in enumerate(raw):
        k = f"{key}[{i}]"
        rp = c.mapping(rp, k, {"name", "address", "port", "proxy_group"})
        name = c.string(rp.get("name"), f"{k}.name", required=True)
        if name in names:
            c.fail(f"{k}.name", f"duplicate proxy name {name!r}")
        names.add(name)
        proxy = ProxyConfig(name=name, address=c.string(rp.get("address"), f"{k}.address", required=True),
                            port=c.number(rp.get("port", 10051), f"{k}.port", 1, 65535, integer=True),
                            proxy_group=c.string(rp.get("proxy_group"), f"{k}.proxy_group"))
        where = (proxy.address, proxy.port)
        if proxy.proxy_group and where in addresses:
            # a proxy group's redirect names a proxy by its address: two at one cannot be told apart
            c.fail(f"{k}.address", f"proxy {name!r} has the address {proxy.address}:{proxy.port} of proxy "
                                   f"{addresses[where]!r}; the proxies of a proxy group need one each")
        addresses.setdefault(where, name)
        out.append(proxy)
    return tuple(out)


def _site_proxy(c, rs, key, site, proxies):
    """A site's (`proxy`, `proxy_group`): a zabbix.proxies entry's name, or the name of a
    proxy group that entries belong to, or neither (the server)."""
    name, group = rs.get("proxy"), rs.get("proxy_group")
    if name is not None and group is not None:
        c.fail(f"{key}.proxy_group", f"site {site!r} names both a proxy and a proxy group; "
                                     "a host is monitored by one or the other: keep one")
    if name is not None:
        name = c.string(name, f"{key}.proxy")
        if name not in {p.name for p in proxies}:
            known = ", ".join(p.name for p in proxies) or "none is configured"
            c.fail(f"{key}.proxy", f"site {site!r} names proxy {name!r}, which is not in zabbix.proxies ({known})")
    if group is not None:
        group = c.string(group, f"{key}.proxy_group")
        groups = sorted({p.proxy_group for p in proxies if p.proxy_group})
        if group not in groups:
            c.fail(f"{key}.proxy_group",
                   f"site {site!r} names proxy group {group!r}, but no zabbix.proxies entry has "
                   f"proxy_group: {group} (groups configured: {', '.join(groups) or 'none'})")
    return name, group


def _frappe_host(c, raw, key, site):
    """A site's `frappe_host`: {name (default <site>-host), address, port, templates}."""
    if raw is None:
        return None
    fh = c.mapping(raw, key, {"name", "address", "port", "templates"})
    name = c.string(fh.get("name", f"{site}-host"), f"{key}.name")
    if not HOST_NAME.fullmatch(name) or name.strip(".") == "":
        c.fail(f"{key}.name", f"{_show(name)} is not a valid Zabbix host name (letters, digits, space, '.', '_', '-')")
    templates = fh.get("templates", list(FRAPPE_HOST_TEMPLATES))
    if not isinstance(templates, list) or any(t not in FRAPPE_HOST_TEMPLATES for t in templates):
        c.fail(f"{key}.templates", f"must be a list of {', '.join(FRAPPE_HOST_TEMPLATES)} (Zabbix's own "
                                   f"templates to link), got {_show(templates)}")
    return FrappeHost(name=name, address=c.string(fh.get("address"), f"{key}.address", required=True),
                      port=c.number(fh.get("port", 10050), f"{key}.port", 1, 65535, integer=True),
                      templates=tuple(dict.fromkeys(templates)))


def _slack(c, raw, key):
    """Zabbix's stock Slack media type: a bot token (from a file) and the channel to post in."""
    slack = c.mapping(raw, key, {"token_file", "channel"})
    if not slack:
        return {}
    for k in ("token_file", "channel"):
        if slack.get(k) is None:
            c.fail(f"{key}.{k}", "is needed: the Slack media type posts with a bot token to a channel")
    channel = c.string(slack["channel"], f"{key}.channel")
    token = _secret_file(c, c.absolute_path(slack["token_file"], f"{key}.token_file"), f"{key}.token_file")
    return {"slack_token": token, "slack_channel": channel}


def _email(c, raw, key, defaults):
    """The SMTP server of the Zabbix media type and the report mail: AlertsConfig's smtp_* fields."""
    email = c.mapping(raw, key, {"smtp_server", "smtp_port", "smtp_helo", "smtp_email", "security", "verify",
                                 "user", "password_file"})
    security = email.get("security", defaults.smtp_security)
    if security not in SMTP_SECURITY:
        c.fail(f"{key}.security", f"must be one of {', '.join(SMTP_SECURITY)}, got {_show(security)}")
    verify = email.get("verify", defaults.smtp_verify)
    if not isinstance(verify, bool):
        c.fail(f"{key}.verify", f"must be true or false, got {_show(verify)}")
    user = c.string(email.get("user"), f"{key}.user")
    password = None
    if email.get("password_file") is not None:
        password = _secret_file(c, c.absolute_path(email["password_file"], f"{key}.password_file"),
                                f"{key}.password_file")
    if (user is None) != (password is None):
        c.fail(f"{key}.user" if user is None else f"{key}.password_file",
               "is needed too: the SMTP login takes a user and a password_file")
    if user is not None and security == "none" and not QUIET:
        print(f"zabbix-sepa: warning: {c.path}: {key}.user logs in without {key}.security (starttls or ssl): "
              "the password crosses the network in clear", file=sys.stderr)
    default_port = {"none": defaults.smtp_port, "starttls": 587, "ssl": 465}[security]
    return {
        "smtp_server": c.string(email.get("smtp_server", defaults.smtp_server), f"{key}.smtp_server"),
        "smtp_port": c.number(email.get("smtp_port", default_port), f"{key}.smtp_port", 1, 65535, integer=True),
        "smtp_helo": c.string(email.get("smtp_helo", defaults.smtp_helo), f"{key}.smtp_helo"),
        "smtp_email": c.string(email.get("smtp_email", defaults.smtp_email), f"{key}.smtp_email"),
        "smtp_security": security, "smtp_verify": verify, "smtp_user": user, "smtp_password": password,
    }


def _health(c, raw, raw_redis):
    h = c.mapping(raw, "health", {"disk_paths", "disk_warn_percent", "disk_critical_percent",
                                  "db_latency_warn_ms"})
    r = c.mapping(raw_redis, "redis", REDIS_KEYS)
    d = HealthConfig()
    paths = h.get("disk_paths", list(d.disk_paths))
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p.startswith("/") for p in paths):
        c.fail("health.disk_paths", "must be a non-empty list of absolute paths")
    warn = c.number(h.get("disk_warn_percent", d.disk_warn_percent), "health.disk_warn_percent", 1, 100)
    crit = c.number(h.get("disk_critical_percent", d.disk_critical_percent), "health.disk_critical_percent", 1, 100)
    if crit < warn:
        c.fail("health", f"disk_critical_percent ({crit}) is below disk_warn_percent ({warn})")
    return HealthConfig(
        disk_paths=tuple(paths), disk_warn_percent=warn, disk_critical_percent=crit,
        db_latency_warn_ms=c.number(h.get("db_latency_warn_ms", d.db_latency_warn_ms), "health.db_latency_warn_ms",
                                    1, 600000),
        redis_host=c.string(r.get("host"), "redis.host") if raw_redis is not None else None,
        redis_port=c.number(r.get("port", DEFAULT_REDIS_PORT), "redis.port", 1, 65535, integer=True))


REDIS_KEYS = {"host", "port", "username", "password_file", "bench_id"}


def _redis_fields(c, raw, key):
    """The keys a `redis` mapping under `key` gives, checked: {RedisConfig field: (value, the
    key it comes from)}; a key set to null is left out."""
    r = c.mapping(raw, key, REDIS_KEYS)
    out = {}
    if r.get("host") is not None:
        out["host"] = (c.string(r["host"], f"{key}.host"), f"{key}.host")
    if r.get("port") is not None:
        out["port"] = (c.number(r["port"], f"{key}.port", 1, 65535, integer=True), f"{key}.port")
    if r.get("username") is not None:
        out["username"] = (c.string(r["username"], f"{key}.username"), f"{key}.username")
    if r.get("password_file") is not None:
        path = c.absolute_path(r["password_file"], f"{key}.password_file")
        out["password"] = (_secret_file(c, path, f"{key}.password_file"), f"{key}.password_file")
    if r.get("bench_id") is not None:
        out["bench_id"] = (c.string(r["bench_id"], f"{key}.bench_id"), f"{key}.bench_id")
    return out


def _redis(c, top, site_raw, key):
    """A site's RedisConfig: its own `redis` (under `key`) key by key over the top-level one's
    fields (`top`, from _redis_fields; None when there is no top-level `redis`); None when
    neither is given."""
    if top is None and site_raw is None:
        return None
    fields = {**(top or {}), **_redis_fields(c, site_raw, f"{key}.redis")}
    if "host" not in fields:
        c.fail(f"{key}.redis.host" if site_raw is not None else "redis.host",
               "is required: the host of the bench's redis_queue (Frappe's common_site_config.json)")
    if "username" in fields and "password" not in fields:
        c.fail(fields["username"][1], "needs password_file too: an ACL user logs in with a password")
    return RedisConfig(**{name: value for name, (value, _) in fields.items()})


def _daily_report(c, raw, key, inherited, site_level):
    """(mail_to, at) of `reports.daily` under `key`; a site may set only mail_to."""
    allowed = {"daily"}
    r = c.mapping(raw, key, allowed)
    d = c.mapping(r.get("daily"), f"{key}.daily", {"mail_to"} if site_level else {"mail_to", "at"})
    to = d.get("mail_to", inherited)
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, (list, tuple)) or not all(isinstance(a, str) for a in to):
        c.fail(f"{key}.daily.mail_to", "must be an e-mail address or a list of them")
    for a in to:
        if not MAIL_ADDRESS.fullmatch(a):
            c.fail(f"{key}.daily.mail_to", f"{_show(a)} is not an e-mail address (name@example.org)")
    at = d.get("at", DEFAULT_DAILY_REPORT_AT)
    if isinstance(at, int) and not isinstance(at, bool):
        c.fail(f"{key}.daily.at", f"write the time in quotes, e.g. at: \"07:15\" (YAML read {at} as a number)")
    if not isinstance(at, str) or not re.fullmatch(r"([01]?[0-9]|2[0-3]):[0-5][0-9]", at):
        c.fail(f"{key}.daily.at", f"must be a time of day HH:MM, got {_show(at)}")
    hour, minute = at.split(":")
    return tuple(to), f"{int(hour):02d}:{minute}"


def _database(c, raw, key):
    db = c.mapping(raw, key, {"host", "port", "socket", "name", "user", "password", "password_file"})
    if not db:
        c.fail(key, "is required")
    socket = c.string(db.get("socket"), f"{key}.socket")
    port = db.get("port", 3306)
    return DatabaseConfig(
        name=c.string(db.get("name"), f"{key}.name", required=True),
        user=c.string(db.get("user"), f"{key}.user", required=True),
        password=_password(c, db, key),
        host=c.string(db.get("host", "127.0.0.1"), f"{key}.host"),
        port=c.number(port, f"{key}.port", 1, 65535, integer=True),
        socket=socket,
    )


TOP_KEYS = {"zabbix", "thresholds", "discovery", "spool_dir", "spool_max_age_hours", "spool_max_bytes",
            "cache_seconds", "cache_dir", "timezone", "collect_timeout", "sites", "alerts", "health", "redis",
            "send_concurrency", "reports", "cadences"}
SITE_KEYS = {"name", "database", "thresholds", "discovery", "timezone", "collect_timeout", "reports", "cadences",
             "proxy", "proxy_group", "frappe_host", "redis"}


def parse(raw, path="<config>"):
    c = _Checker(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        c.fail(None, f"must be a YAML mapping of keys (sites:, zabbix:, ...), got {type(raw).__name__}")
    top = c.mapping(raw, "", TOP_KEYS)
    zbx = c.mapping(top.get("zabbix"), "zabbix",
                    {"server", "port", "tls_psk_identity", "tls_psk_file", "timeout", "api", "proxies"})
    zabbix = ZabbixConfig(
        server=c.string(zbx.get("server", "127.0.0.1"), "zabbix.server"),
        port=c.number(zbx.get("port", 10051), "zabbix.port", 1, 65535, integer=True),
        tls_psk_identity=c.string(zbx.get("tls_psk_identity"), "zabbix.tls_psk_identity"),
        tls_psk_file=c.string(zbx.get("tls_psk_file"), "zabbix.tls_psk_file"),
        timeout=c.number(zbx.get("timeout", DEFAULT_SEND_TIMEOUT), "zabbix.timeout", 1, 300),
        proxies=_proxies(c, zbx.get("proxies"), "zabbix.proxies"),
    )
    if (zabbix.tls_psk_identity is None) != (zabbix.tls_psk_file is None):
        c.fail("zabbix", "tls_psk_identity and tls_psk_file go together")
    if zabbix.tls_psk_file is not None:
        _warn_if_world_readable(zabbix.tls_psk_file, "zabbix.tls_psk_file")
    api = _api(c, zbx.get("api"), "zabbix.api")
    alerts = _alerts(c, top.get("alerts"), "alerts")
    health = _health(c, top.get("health"), top.get("redis"))
    redis = _redis_fields(c, top["redis"], "redis") if top.get("redis") is not None else None
    thresholds = _thresholds(c, top.get("thresholds"), "thresholds", DEFAULT_THRESHOLDS)
    discovery = _discovery(c, top.get("discovery"), "discovery", DEFAULT_DISCOVERY)
    timezone = c.timezone(top.get("timezone"), "timezone")
    timeout = c.number(top.get("collect_timeout", DEFAULT_COLLECT_TIMEOUT), "collect_timeout", 0.1, 3600)
    daily_to, daily_at = _daily_report(c, top.get("reports"), "reports", (), site_level=False)
    cadences = _cadences(c, top.get("cadences"), "cadences", (registry.INTERVALS, DEFAULT_HOUR_COLLECT_TIMEOUT))
    _check_cadence_thresholds(c, "", thresholds, cadences[0])
    spool_dir = c.absolute_path(top.get("spool_dir", DEFAULT_SPOOL_DIR), "spool_dir")
    spool = dict(
        spool_max_age_hours=c.number(top.get("spool_max_age_hours", DEFAULT_SPOOL_MAX_AGE_HOURS),
                                     "spool_max_age_hours", 0.01, 24 * 366),
        spool_max_bytes=c.number(top.get("spool_max_bytes", DEFAULT_SPOOL_MAX_BYTES), "spool_max_bytes",
                                 4096, 2**40, integer=True),
        cache_seconds=c.number(top.get("cache_seconds", 0), "cache_seconds", 0, 3600),
        send_concurrency=c.number(top.get("send_concurrency", 4), "send_concurrency", 1, 64, integer=True),
        cache_dir=c.absolute_path(top.get("cache_dir", DEFAULT_CACHE_DIR), "cache_dir"),
    )

    raw_sites = top.get("sites")
    if not isinstance(raw_sites, list) or not raw_sites:
        c.fail("sites", "must be a non-empty list of sites")
    sites, names, hosts = [], set(), set()     # site names; frappe_host names
    for i, rs in enumerate(raw_sites):
        key = f"sites[{i}]"
        rs = c.mapping(rs, key, SITE_KEYS)
        name = c.string(rs.get("name"), f"{key}.name", required=True)
        if not HOST_NAME.fullmatch(name) or name.strip(".") == "":
            c.fail(f"{key}.name", f"{_show(name)} is not a valid Zabbix host name "
                                  "(letters, digits, space, '.', '_', '-')")
        if name in names:
            c.fail(f"{key}.name", f"duplicate site name {name!r}")
        if name in hosts:
            c.fail(f"{key}.name", f"{name!r} is already the Zabbix host of an earlier site's frappe_host")
        names.add(name)
        site_thresholds = _thresholds(c, rs.get("thresholds"), f"{key}.thresholds", thresholds)
        _check_threshold_orders(c, f"{key}.thresholds", name, site_thresholds,
                                _threshold_origin(rs.get("thresholds"), f"{key}.thresholds", top.get("thresholds")))
        intervals, hour_timeout = _cadences(c, rs.get("cadences"), f"{key}.cadences", cadences)
        _check_cadence_thresholds(c, f"{key}.", site_thresholds, intervals)
        proxy, proxy_group = _site_proxy(c, rs, key, name, zabbix.proxies)
        frappe_host = _frappe_host(c, rs.get("frappe_host"), f"{key}.frappe_host", name)
        if frappe_host and frappe_host.name in names | hosts:
            c.fail(f"{key}.frappe_host.name", f"{frappe_host.name!r} is already the Zabbix host of a site or "
                                              "of another frappe_host: each needs a host name of its own")
        if frappe_host:
            hosts.add(frappe_host.name)
        sites.append(Site(
            name=name,
            database=_database(c, rs.get("database"), f"{key}.database"),
            thresholds=site_thresholds,
            discovery=_discovery(c, rs.get("discovery"), f"{key}.discovery", discovery),
            timezone=c.timezone(rs.get("timezone"), f"{key}.timezone") or timezone,
            collect_timeout=c.number(rs.get("collect_timeout", timeout), f"{key}.collect_timeout", 0.1, 3600),
            daily_report_to=_daily_report(c, rs.get("reports"), f"{key}.reports", daily_to, site_level=True)[0],
            intervals=intervals, hour_collect_timeout=hour_timeout, health=health,
            proxy=proxy, proxy_group=proxy_group, frappe_host=frappe_host,
            redis=_redis(c, redis, rs.get("redis"), key),
        ))
    return Config(path=path, zabbix=zabbix, spool_dir=spool_dir, sites=sites, api=api, alerts=alerts,
                  health=health, daily_report_at=daily_at, **spool)
