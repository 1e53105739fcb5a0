"""The Zabbix frontend API as zabbix-sepa uses it, for Zabbix 6.0 up to 7.x.

The only place that knows how Zabbix versions differ. Callers speak the API of
the newest supported Zabbix (7.x names: `selectHostGroups`, `hostgroup_rights`,
import rules `template_groups`/`host_groups`); `Api.call` translates the few
names that older servers spell differently, there and back (6.2+ name: 6.0 name):

- host.get `selectHostGroups` -> `hostgroups`: `selectGroups` -> `groups`
  (`selectGroups` is deprecated in 6.2 and gone in 7.2);
- usergroup.get `selectHostGroupRights` -> `hostgroup_rights`: `selectRights` -> `rights`;
- usergroup.create/update `hostgroup_rights`: `rights`;
- configuration.import rules `template_groups`, `host_groups`: `groups` (6.2+ refuse it).

Authentication: pyzabbix sends the session or API token as the
`Authorization: Bearer` header to 6.4 and newer (7.2 refuses the old `auth`
member) and as `auth` to 6.0/6.2; it logs in with `username` (6.0+).
Which template format a server gets: `Api.template_version`.

The same on 6.0 and 7.0 for what zabbix-sepa sends (read in both frontends'
API sources, and exercised by the integration tests on both): user.create
`username`/`roleid`/`usrgrps`/`medias` (a webhook media's `sendto` is a string),
mediatype webhook `parameters` as name/value pairs (7.0's `provider` and
`message_format` stay at their defaults), action operations, recovery (11) and
update (12) operations with `opmessage`/`opconditions` (6.4's `pause_symptoms`
stays at its default), host.create/update `groups`, hostinterface.create.

Every failure comes out as ApiError, whose text says what is wrong and what to do.

No secret in the log: pyzabbix logs each request and reply at DEBUG (`Sending: {...}`,
`Response Body: {...}`); `guard_logs` rewrites those records with the password, the session
or API token (`auth`), a login's reply and every other secret member masked.
"""
import logging
import re
import threading
from collections.abc import Mapping

TESTED = ((6, 0), (7, 0))                       # LTS releases the test suite runs against
EXPECTED_TO_WORK = ((6, 2), (6, 4), (7, 2), (7, 4))
SUPPORTED_MAJORS = (6, 7)


class ApiError(Exception):
    """A Zabbix API call cannot go on; str() says what is wrong and what to do."""


def _names(versions, sep=", "):
    return sep.join(f"{a}.{b}" for a, b in versions)


SUPPORTED_TEXT = f"zabbix-sepa supports Zabbix {_names(TESTED, ' and ')} LTS (tested) and {_names(EXPECTED_TO_WORK)}"


class ZabbixVersion:
    """What apiinfo.version said, and what follows from it."""

    def __init__(self, text):
        m = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", str(text))
        if not m:
            raise ApiError(f"the Zabbix API gave a version zabbix-sepa cannot read: {text!r}")
        self.text = str(text).strip()
        self.major, self.minor, self.patch = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"ZabbixVersion({self.text!r})"

    def at_least(self, major, minor=0):
        return (self.major, self.minor) >= (major, minor)

    @property
    def supported(self):
        return self.major in SUPPORTED_MAJORS

    @property
    def tested(self):
        return (self.major, self.minor) in TESTED

    @property
    def template_version(self):
        """The template format to import: 7.x gets the native 7.0 export, 6.x the 6.0 one
        (6.2 and 6.4 convert it on import)."""
        return "7.0" if self.major >= 7 else "6.0"

    @property
    def bearer_auth(self):
        """Whether the token travels in the Authorization header (6.4+; 7.2+ refuse `auth`)."""
        return self.at_least(6, 4)

    def check(self, url):
        """Raise the error a user should read when this version is not one zabbix-sepa can drive."""
        if not self.supported:
            why = "older than 6.0" if self.major < SUPPORTED_MAJORS[0] else "a major version it does not know yet"
            raise ApiError(f"{url} runs Zabbix {self}, {why}; {SUPPORTED_TEXT}")

    # -- newest API names to this server's, and back --------------------------------------

    def request(self, method, params):
        """`params` (newest names) as this server wants them; a new dict, the input untouched."""
        if not isinstance(params, dict):
            return params
        if not self.at_least(7, 0):
            params = proxies_before_70(method, params)
            if method in ("dashboard.create", "dashboard.update") and "pages" in params:
                params = dict(params, pages=[dict(page, widgets=[widget_before_70(w, self.at_least(6, 4))
                                                                 for w in page.get("widgets", ())])
                                             for page in params["pages"]])
        if self.at_least(6, 2):
            return params
        out = dict(params)
        if method == "host.get" and "selectHostGroups" in out:
            out["selectGroups"] = out.pop("selectHostGroups")
        elif method == "usergroup.get" and "selectHostGroupRights" in out:
            out["selectRights"] = out.pop("selectHostGroupRights")
        elif method in ("usergroup.create", "usergroup.update"):
            if "hostgroup_rights" in out or "templategroup_rights" in out:
                # 6.0 has one kind of group: its rights cover both
                out["rights"] = list(out.pop("hostgroup_rights", [])) + list(out.pop("templategroup_rights", []))
        elif method == "configuration.import" and "rules" in out:
            out["rules"] = self.import_rules(out["rules"])
        return out

    def import_rules(self, rules):
        """configuration.import rules for this server: 6.0 knows one `groups` rule where 6.2+
        have `template_groups` and `host_groups` (and refuse `groups`)."""
        if self.at_least(6, 2):
            return rules
        out = {k: v for k, v in rules.items() if k not in ("template_groups", "host_groups")}
        merged = {}
        for k in ("template_groups", "host_groups"):
            for option, value in rules.get(k, {}).items():
                merged[option] = merged.get(option, False) or value
        if merged:
            out["groups"] = merged
        return out

    def result(self, method, params, result):
        """A result as the newest API names it (`hostgroups`, `hostgroup_rights`, a proxy's
        `name` and `operating_mode`, a host's `monitored_by` and `proxyid`)."""
        if not isinstance(result, list):
            return result
        if not self.at_least(7, 0):
            result = proxy_results_before_70(method, result)
        if self.at_least(6, 2):
            return result
        rename = {}
        if method == "host.get" and "selectHostGroups" in params:
            rename["groups"] = "hostgroups"
        elif method == "usergroup.get" and "selectHostGroupRights" in params:
            rename["rights"] = "hostgroup_rights"
        if not rename:
            return result
        return [{rename.get(k, k): v for k, v in row.items()} if isinstance(row, dict) else row for row in result]


# Proxies before 7.0: a proxy is a `host` with `status` 5 (active) or 6 (passive); a host names
# the proxy that monitors it in `proxy_hostid` ("0": the server). 7.0 says `name`,
# `operating_mode` 0/1, and `monitored_by` 0 (server) / 1 (proxy) with `proxyid` / 2 (proxy
# group, which 6.x does not have) with `proxy_groupid`.
_MODE_TO_STATUS, _STATUS_TO_MODE = {0: 5, 1: 6}, {"5": "0", "6": "1"}


def proxies_before_70(method, params):
    out = dict(params)
    if method == "proxy.get":
        if "filter" in out and "name" in out["filter"]:
            out["filter"] = {("host" if k == "name" else k): v for k, v in out["filter"].items()}
        if isinstance(out.get("output"), list):
            out["output"] = [{"name": "host", "operating_mode": "status"}.get(f, f) for f in out["output"]]
    elif method == "proxy.create":
        out["host"] = out.pop("name")
        out["status"] = _MODE_TO_STATUS[int(out.pop("operating_mode", 0))]
    elif method in ("host.create", "host.update") and "monitored_by" in out:
        by_proxy, proxyid = int(out.pop("monitored_by")) == 1, out.pop("proxyid", "0")
        out["proxy_hostid"] = proxyid if by_proxy else "0"
    elif method == "host.get" and isinstance(out.get("output"), list) and "monitored_by" in out["output"]:
        out["output"] = [f for f in out["output"] if f not in ("monitored_by", "proxyid", "proxy_groupid")] + ["proxy_hostid"]
    return out


def proxy_results_before_70(method, result):
    if method == "proxy.get":
        return [{**{k: v for k, v in row.items() if k not in ("host", "status")},
                 **({"name": row["host"]} if "host" in row else {}),
                 **({"operating_mode": _STATUS_TO_MODE.get(str(row["status"]), "0")} if "status" in row else {})}
                for row in result]
    if method == "host.get":
        return [{**{k: v for k, v in row.items() if k != "proxy_hostid"},
                 "monitored_by": "0" if str(row["proxy_hostid"]) == "0" else "1", "proxyid": str(row["proxy_hostid"])}
                if isinstance(row, dict) and "proxy_hostid" in row else row for row in result]
    return result


# Dashboards before 7.0: a 24-column grid (7.0: 72 columns of a third of the width); Top hosts
# call their host limit `count`, a column's fields `columns.<field>.<n>` (7.0:
# `columns.<n>.<field>`), want an item column's time shift and aggregation interval and have
# no decimal places (whole numbers show as they are); before 6.4 a multi-select field (host group, host, item...)
# repeats its plain name where 6.4+ number it (`groupids.0`, `groupids.1`).
_ID_FIELD_TYPES = {2, 3, 4, 5, 6, 7}


def widget_before_70(widget, numbered_fields):
    out = dict(widget, x=int(widget["x"]) // 3, width=max(1, int(widget["width"]) // 3))
    fields = []
    for f in widget["fields"]:
        name = f["name"]
        if widget["type"] == "tophosts" and name.endswith(".decimal_places"):
            continue                # 6.x shows whole numbers as they are
        if widget["type"] == "tophosts" and name == "show_lines":
            name = "count"
        elif widget["type"] == "tophosts" and re.fullmatch(r"columns\.\d+\.\w+", name):
            _, index, field = name.split(".")
            name = f"columns.{field}.{index}"
            if field == "aggregate_function":       # 6.x: an item column's time shift and interval
                fields += [{"type": 1, "name": f"columns.timeshift.{index}", "value": ""},
                           {"type": 1, "name": f"columns.aggregate_interval.{index}", "value": "1h"}]
        elif not numbered_fields and int(f["type"]) in _ID_FIELD_TYPES:
            name = re.sub(r"\.\d+$", "", name)
        fields.append(dict(f, name=name))
    out["fields"] = fields
    return out


class Api:
    """A logged-in Zabbix API (pyzabbix underneath) with the version differences handled.

    `cfg` is the config's `zabbix.api` (url; token, or user and password; timeout).
    Raises ApiError when the server cannot be reached, is not the Zabbix API, runs a
    version zabbix-sepa cannot drive, or refuses the credentials."""

    def __init__(self, cfg, session=None):
        from packaging.version import Version
        from pyzabbix import ZabbixAPI
        guard_logs()                    # pyzabbix logs whole requests and replies at DEBUG
        self.url = cfg.url
        self.zapi = ZabbixAPI(cfg.url, session=session, timeout=cfg.timeout, detect_version=False)
        self.version = None             # until apiinfo.version answers (error texts read it)
        self.version = ZabbixVersion(self._guard("apiinfo.version", self.zapi.api_version))
        self.version.check(self.url)
        # pyzabbix picks `username` and the Authorization header from this
        self.zapi.version = Version(f"{self.version.major}.{self.version.minor}.{self.version.patch}")
        self._session = False
        if cfg.token:
            self.zapi.login(api_token=cfg.token)
            self.call("user.get", output=["userid"], limit=1)     # proves the token
        else:
            self._guard("user.login", lambda: self.zapi.login(user=cfg.user or "", password=cfg.password or ""))
            self._session = True

    @property
    def template_version(self):
        return self.version.template_version

    def call(self, method, *args, **params):
        """One API method, parameters and result in the newest API's names. Positional
        arguments (e.g. the ids of a *.delete) are passed through as they are."""
        obj, verb = method.split(".")
        if args:
            return self._guard(method, lambda: self.zapi[obj][verb](*args))
        sent = self.version.request(method, params)
        result = self._guard(method, lambda: self.zapi[obj][verb](**sent))
        return self.version.result(method, params, result)

    def close(self):
        """End the session a user and password opened (an API token stays valid)."""
        if self._session:
            self._session = False
            try:
                self.zapi.user.logout()
            except Exception:       # the work is done; a failed logout only leaves a session to expire
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _guard(self, method, fn):
        import requests
        from pyzabbix import ZabbixAPIException
        try:
            return fn()
        except requests.exceptions.ConnectionError:
            raise ApiError(f"cannot connect to {self.url}: is the Zabbix frontend running there?") from None
        except requests.exceptions.Timeout:
            raise ApiError(f"{self.url} did not answer in time") from None
        except requests.exceptions.HTTPError as exc:
            raise ApiError(f"{self.url} answered HTTP {exc.response.status_code}: is this the "
                           "frontend's URL (…/api_jsonrpc.php)?") from None
        except (ValueError, requests.exceptions.RequestException) as exc:
            raise ApiError(f"{self.url} did not answer like the Zabbix API ({exc.__class__.__name__}); "
                           "is this the frontend's URL?") from None
        except ZabbixAPIException as exc:
            raise ApiError(explain(self.url, method, exc, self.version)) from None


# -- secrets out of pyzabbix's debug log ------------------------------------------------------

MASK = "***"
SECRET_KEYS = frozenset({"password", "passwd", "current_passwd", "auth", "sessionid", "token", "api_token",
                         "tls_psk", "psk", "secret", "authorization"})
# `{"name": ..., "value": ...}` pairs (media type parameters) whose name says the value is secret
SECRET_NAME = re.compile(r"token|passw|secret|psk|authoriz|api[_ -]?key", re.IGNORECASE)
LOGIN_METHODS = frozenset({"user.login", "user.authenticate", "token.generate"})
API_LOGGERS = ("pyzabbix", "pyzabbix.api")


def scrub(obj, _depth=0):
    """A copy of a request or reply (dicts, lists) with its secret members masked."""
    if _depth > 100:
        return MASK
    if isinstance(obj, Mapping):
        name = obj.get("name")
        secret_pair = isinstance(name, str) and SECRET_NAME.search(name) is not None
        secret_macro = "macro" in obj and str(obj.get("type")) == "1"       # a Zabbix secret macro
        out = {}
        for key, value in obj.items():
            if isinstance(key, str) and key.lower() in SECRET_KEYS and value not in (None, "", [], {}):
                out[key] = MASK
            elif key == "value" and (secret_pair or secret_macro) and value not in (None, ""):
                out[key] = MASK
            else:
                out[key] = scrub(value, _depth + 1)
        return out
    if isinstance(obj, (list, tuple)):
        return [scrub(v, _depth + 1) for v in obj]
    return obj


class LogFilter(logging.Filter):
    """On pyzabbix's loggers: the payload of `Sending: %s` and `Response Body: %s` scrubbed,
    and the reply to a login (the session id) masked."""

    def __init__(self):
        super().__init__()
        self._last = threading.local()      # the method of the request whose reply comes next

    def filter(self, record):
        args = record.args
        payload = args if isinstance(args, Mapping) else (
            args[0] if isinstance(args, tuple) and len(args) == 1 else None)
        if isinstance(payload, Mapping):
            clean = scrub(payload)
            if "method" in payload:
                self._last.method = payload.get("method")
            elif "result" in clean and getattr(self._last, "method", None) in LOGIN_METHODS:
                clean["result"] = MASK
            try:
                record.msg = str(record.msg) % (clean,)
            except (TypeError, ValueError):
                record.msg = f"{record.msg} {clean}"
            record.args = None
        elif isinstance(args, tuple) and args:
            record.args = tuple(scrub(a) for a in args)
        return True


def guard_logs():
    """Put LogFilter on pyzabbix's loggers (once)."""
    for name in API_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, LogFilter) for f in logger.filters):
            logger.addFilter(LogFilter())


def explain(url, method, exc, version=None):
    """A sentence for a pyzabbix ZabbixAPIException (`version`: the server's, once known)."""
    error = getattr(exc, "error", None) or {}
    if error:   # pyzabbix fills a missing `data` with "No data"
        text = " ".join(str(error[k]) for k in ("message", "data") if error.get(k) not in (None, "", "No data"))
    else:
        text = str(exc)
    if "Unable to parse json" in str(exc) or "Received empty response" in str(exc):
        return f"{url} did not answer like the Zabbix API; is this the frontend's URL (…/api_jsonrpc.php)?"
    lowered = text.lower()
    if any(s in lowered for s in ("not authorised", "not authorized", "session terminated", "api token",
                                  "incorrect user name or password", "login name or password is incorrect")):
        hint = ""
        if "not authorized" in lowered and version is not None and version.bearer_auth:
            hint = ("; if they are right, a web server or proxy in front of the frontend may drop the "
                    "Authorization header that Zabbix 6.4+ needs (see Zabbix's known issues)")
        return f"the Zabbix API refused the credentials (zabbix.api.token or user/password): {_short(text)}{hint}"
    if "permission" in lowered:
        return (f"the API user may not call {method} (`zabbix setup` needs a Super admin: it creates media "
                f"types, user groups and an action): {_short(text)}")
    return f"{method} failed: {_short(text)}"


def _short(text):
    return " ".join(str(text).split())[:300]
