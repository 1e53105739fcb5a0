"""A real Zabbix for the tests: started by stack/zabbix.sh, driven through its API.

The major is ZABBIX_VERSION (7.0, the default, or 6.0): tests/run.sh runs the Zabbix
tests once per major. Always the stack's `tests` instance (its own servers, ports and
databases), never the demo's Zabbix. Hosts made here are named `zsepa-*` and deleted by
the tests that made them. Standard library only.
"""
import json
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "stack", "zabbix.sh")
VERSION = os.environ.get("ZABBIX_VERSION", "7.0")
MAJOR = tuple(int(part) for part in VERSION.split("."))
STATE = os.path.join(os.environ.get("ZABBIX_SEPA_STACK_STATE", "/var/tmp/zabbix-sepa-stack"), f"tests-zabbix-{VERSION}")
# the same defaults and environment overrides as stack/zabbix.sh (instance `tests`)
_PORTS = {"7.0": (10151, 10150, 8180), "6.0": (10161, 10160, 8160)}[VERSION]
SERVER_PORT = int(os.environ.get("ZABBIX_SERVER_PORT", _PORTS[0]))
AGENT_PORT = int(os.environ.get("ZABBIX_AGENT_PORT", _PORTS[1]))
WEB_PORT = int(os.environ.get("ZABBIX_WEB_PORT", _PORTS[2]))
API_URL = f"http://127.0.0.1:{WEB_PORT}/api_jsonrpc.php"
API_USER, API_PASSWORD = "Admin", "zabbix"
GROUP = "zabbix-sepa tests"
SENDER = os.path.join(STATE, "root", "usr", "bin", "zabbix_sender")
GET = os.path.join(STATE, "root", "usr", "bin", "zabbix_get")
AGENTD = os.path.join(STATE, "root", "usr", "sbin", "zabbix_agentd")


@dataclass(frozen=True)
class Stack:
    api_url: str
    state: str              # stack/zabbix.sh's directory: configs, logs, pid files, PSK
    agent_dir: str          # config files the tests' UserParameters read (readable by the agent)
    psk_file: str           # hex PSK made by stack/zabbix.sh; the agent accepts it (and plain)
    psk_identity: str
    server_port: int
    agent_port: int
    agent_include_dir: str  # the agent's Include: UserParameter files (*.conf) go here
    server_conf: str        # for zabbix_server -c ... -R
    agent_conf: str
    agent_hostname: str


_stack = None
_token = None


def stack_cmd(*args):
    env = dict(os.environ, ZABBIX_VERSION=VERSION, ZABBIX_SEPA_INSTANCE="tests")
    proc = subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"stack/zabbix.sh {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def facts():
    """stack/zabbix.sh's facts file (stack.env) as a dict."""
    out = {}
    with open(os.path.join(STATE, "stack.env")) as fh:
        for line in fh:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                out[key] = value.strip("\"")
    return out


def ensure_stack():
    """Start the stack once per session (quick when it already runs) and describe it."""
    global _stack
    if _stack is None:
        stack_cmd("up")
        f = facts()
        agent_dir = os.path.join(STATE, "agent-tests")
        os.makedirs(agent_dir, exist_ok=True)
        os.chmod(agent_dir, 0o755)
        _stack = Stack(api_url=f["ZABBIX_API_URL"], state=f["ZABBIX_STATE_DIR"], agent_dir=agent_dir,
                       psk_file=f["ZABBIX_PSK_FILE"], psk_identity=f["ZABBIX_PSK_IDENTITY"],
                       server_port=int(f["ZABBIX_SERVER_PORT"]), agent_port=int(f["ZABBIX_AGENT_PORT"]),
                       agent_include_dir=f["ZABBIX_AGENT_INCLUDE_DIR"], server_conf=f["ZABBIX_SERVER_CONF"],
                       agent_conf=f["ZABBIX_AGENT_CONF"], agent_hostname=f["ZABBIX_AGENT_HOSTNAME"])
    return _stack


class ApiError(Exception):
    pass


def _call(method, params, token, url=API_URL, major=MAJOR):
    """One JSON-RPC request to `url` (a Zabbix of `major`), its decoded reply."""
    body = {"jsonrpc": "2.0", "method": method, "params": params, "id": 1}
    headers = {"Content-Type": "application/json-rpc"}
    if token is not None and major >= (6, 4):
        headers["Authorization"] = f"Bearer {token}"     # 7.2+ refuse the `auth` member
    elif token is not None:
        body["auth"] = token
    req = urllib.request.Request(url, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def api(method, params=None, auth=True):
    """One JSON-RPC call; logs in as Admin on first use (6.0+: user.login takes `username`)."""
    global _token
    if params is None:
        params = {}
    for attempt in (1, 2):
        if auth and _token is None:
            _token = api("user.login", {"username": API_USER, "password": API_PASSWORD}, auth=False)
        reply = _call(method, params, _token if auth else None)
        error = reply.get("error")
        if auth and attempt == 1 and error and "re-login" in str(error.get("data", "")):
            _token = None                  # session expired or logged out: log in again, once
            continue
        if error:
            raise ApiError(f"{method}: {error}")
        return reply["result"]


def group_id():
    found = api("hostgroup.get", {"filter": {"name": [GROUP]}})
    if found:
        return found[0]["groupid"]
    return api("hostgroup.create", {"name": GROUP})["groupids"][0]


def reload_config_cache():
    stack_cmd("reload")


def ensure_proxies():
    """The stack's two active proxies (started on demand: most tests need none); their
    names and ports."""
    ensure_stack()
    stack_cmd("proxies-up")
    f = facts()
    return list(zip(f["ZABBIX_PROXY_NAMES"].split(), map(int, f["ZABBIX_PROXY_PORTS"].split())))


def reload_proxy(index=0):
    """Make proxy `index` fetch its configuration from the server now."""
    stack_cmd("proxy-reload", str(index))


def proxy_params(name):
    """proxy.create for an active proxy: 7.0 names it `name`/`operating_mode`, 6.0 `host`/`status`."""
    return {"name": name, "operating_mode": 0} if MAJOR >= (7, 0) else {"host": name, "status": 5}


def monitored_by(proxyid):
    """host.create/update: monitored by this proxy (7.0 `monitored_by`/`proxyid`, 6.0 `proxy_hostid`)."""
    return {"monitored_by": 1, "proxyid": proxyid} if MAJOR >= (7, 0) else {"proxy_hostid": proxyid}


def find_proxies(names):
    return api("proxy.get", {"filter": {"name" if MAJOR >= (7, 0) else "host": list(names)},
                             "output": ["proxyid"]})


def forget_proxies(names):
    """Delete the Zabbix proxy objects of these names (a test's own), if there are any."""
    found = find_proxies(names)
    if found:
        api("proxy.delete", [p["proxyid"] for p in found])


def stop_server():
    stack_cmd("stop-server")


def start_server():
    stack_cmd("start-server")


def _proxy_port(index):
    return int(facts()["ZABBIX_PROXY_PORTS"].strip('"').split()[index])


def sender(host, key, value, psk=None, port=None):
    """zabbix_sender's verdict (processed count) for one value; used to probe the config cache
    (of the server, or of the proxy listening on `port`)."""
    cmd = [SENDER, "-z", "127.0.0.1", "-p", str(port or SERVER_PORT), "-s", host, "-k", key, "-o", value]
    if psk:
        identity, psk_file = psk
        cmd += ["--tls-connect", "psk", "--tls-psk-identity", identity, "--tls-psk-file", psk_file]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    return "processed: 1" in out


class TrapperHost:
    """A host with the trapper items of both cadences' documents, `sepa.collect` and
    `sepa.collect.hour` (text), and `probe`; PSK-only when psk=(identity, hex)."""

    def __init__(self, name, psk=None, proxy=None):
        """proxy: (proxyid, stack proxy index) of the proxy that monitors the host."""
        self.name, self.psk, self.proxy = name, psk, proxy
        old = api("host.get", {"filter": {"host": [name]}})
        if old:
            api("host.delete", [h["hostid"] for h in old])
        params = {"host": name, "groups": [{"groupid": group_id()}], **(monitored_by(proxy[0]) if proxy else {})}
        if psk:
            params.update(tls_accept=2, tls_connect=1, tls_psk_identity=psk[0], tls_psk=psk[1])
        self.hostid = api("host.create", params)["hostids"][0]
        self.itemids = {}
        for key, vtype, history in (("sepa.collect", 4, "7d"), ("sepa.collect.hour", 4, "7d"), ("probe", 3, "1h")):
            self.itemids[key] = api("item.create", {"hostid": self.hostid, "name": key, "key_": key, "type": 2,
                                                    "value_type": vtype, "history": history})["itemids"][0]
        self.itemid = self.itemids["sepa.collect"]
        self.wait_until_accepted()

    def wait_until_accepted(self, timeout=60):
        """Until the server's configuration cache knows the host (probe item accepts a value)."""
        psk_file = None
        if self.psk:
            psk_file = os.path.join(STATE, f"probe-{self.hostid}.psk")
            with open(psk_file, "w") as fh:
                fh.write(self.psk[1])
        deadline = time.monotonic() + timeout
        port = _proxy_port(self.proxy[1]) if self.proxy else SERVER_PORT

        def refresh():
            reload_config_cache()
            if self.proxy:
                reload_proxy(self.proxy[1])
        refresh()
        while not sender(self.name, "probe", "1", (self.psk[0], psk_file) if psk_file else None, port=port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Zabbix did not accept values for {self.name} within {timeout} s")
            time.sleep(0.5)
            refresh()

    def history(self, key="sepa.collect"):
        return api("history.get", {"itemids": [self.itemids[key]], "history": 4, "sortfield": "clock",
                                   "sortorder": "ASC", "output": "extend"})

    def delete(self):
        try:
            api("host.delete", [self.hostid])
        except ApiError:
            pass


def install_userparameters(config_path):
    """Our generated UserParameters, calling this checkout's zabbix-sepa with `config_path`."""
    from zabbix_sepa.transport.agent import userparameters
    binary = os.path.join(ROOT, ".venv", "bin", "zabbix-sepa")
    path = os.path.join(STATE, "agent.d", "zabbix_sepa.conf")
    text = userparameters(binary, config_path)
    current = open(path).read() if os.path.exists(path) else None
    if current != text:
        with open(path, "w") as fh:
            fh.write(text)
        stack_cmd("restart-agent")


def zabbix_get(key, timeout=10, port=None):
    proc = subprocess.run([GET, "-s", "127.0.0.1", "-p", str(port or AGENT_PORT), "-k", key, "-t", str(timeout)],
                          capture_output=True, text=True)
    return (proc.stdout + proc.stderr).strip()
