"""The Prometheus exposition of a real collection: promtool accepts it; `serve` answers
concurrent scrapes from one collection and reports a database outage as status 2, not a 500;
it stays answerable, and idle, with idle and slow clients under a low file descriptor limit
and with a database that stops answering; bad --listen/--cache values exit 2."""
import concurrent.futures
import os
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import N, ROOT, run_cli, write_config
from tests.tcp import LocalServer, unused_port

PROMTOOL = "/usr/bin/promtool"


def test_promtool_accepts_the_exposition(tmp_path, site):
    site.insert("Direct Debit Batch", status="Draft", docstatus=0, batch_date=N.date())
    site.insert("Error Log", method="x", error='a "quoted" \\ value\nsecond line')
    cfg = write_config(tmp_path, site)
    rc, out, err = run_cli("collect", "--config", cfg, "--format", "prometheus", "--now", "2026-11-22 12:00:00")
    assert rc == 0, err
    assert 'sepa_batch_status{site="test-site",status="draft"} 1' in out
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=out, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr




def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.headers.get("Content-Type"), resp.read().decode()


class Server:
    """`zabbix-sepa serve` as a subprocess; `fd_limit` sets its RLIMIT_NOFILE (soft and hard)."""

    def __init__(self, cfg, cache="5", fd_limit=None, log=None):
        self.port = unused_port()
        self.log = log or open(os.devnull, "w")
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))) if fd_limit else None
        self.proc = subprocess.Popen([sys.executable, "-m", "zabbix_sepa", "serve", "--config", cfg,
                                      "--listen", f"127.0.0.1:{self.port}", "--cache", cache],
                                     cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log, preexec_fn=limit)
        deadline = time.monotonic() + 10
        while True:
            try:
                get(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                assert time.monotonic() < deadline and self.proc.poll() is None, "serve did not start"
                time.sleep(0.1)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")      # utime + stime

    def close(self):
        self.proc.terminate()
        self.proc.wait(5)


def test_serve_answers_concurrent_scrapes_from_one_collection(tmp_path, site):
    server = Server(write_config(tmp_path, site))
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: get(f"http://127.0.0.1:{server.port}/metrics"), range(16)))
        assert all(status == 200 for status, _, _ in results)
        assert {ctype for _, ctype, _ in results} == {"text/plain; version=0.0.4; charset=utf-8"}
        assert len({body for _, _, body in results}) == 1           # one shared collection
        assert 'sepa_collector_status{site="test-site"} 0' in results[0][2]
        assert get(f"http://127.0.0.1:{server.port}/healthz")[2] == "ok\n"
    finally:
        server.close()


def test_serve_reports_a_database_outage_as_status_2(tmp_path, site):
    closed = unused_port()
    cfg = write_config(tmp_path, site, database={"host": "127.0.0.1", "port": closed, "name": "x", "user": "u",
                                                 "password": "p"})
    server = Server(cfg, cache="0")
    try:
        status, _, body = get(f"http://127.0.0.1:{server.port}/metrics")
        assert status == 200
        assert 'sepa_collector_status{site="test-site"} 2' in body
        assert "sepa_batch_status" not in body                       # nothing it could not read
    finally:
        server.close()


# -- issue 14, defect 6: idle clients, slow collections, bad arguments ------------------------

def idle_clients(port, count):
    """`count` connections that never send a byte."""
    return [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]


def test_idle_clients_with_a_low_fd_limit_neither_block_nor_spin(tmp_path, site):
    """60 idle connections against a server allowed 64 file descriptors: /healthz and /metrics
    still answer at once, and the server does not burn CPU on a connection it cannot take
    (it used to: accept() failing with EMFILE, the listening socket readable again at once)."""
    server = Server(write_config(tmp_path, site), fd_limit=64)
    clients, health = [], {}

    def healthz():
        began = time.monotonic()
        try:
            health["answer"] = get(f"http://127.0.0.1:{server.port}/healthz", timeout=3)[2]
        except OSError as exc:
            health["answer"] = repr(exc)
        health["seconds"] = time.monotonic() - began
    try:
        clients = idle_clients(server.port, 60)
        cpu = server.cpu_seconds()
        asking = threading.Thread(target=healthz)
        asking.start()
        time.sleep(3)                           # the idle clients hang on; /healthz is asked
        asking.join()
        assert server.cpu_seconds() - cpu < 0.5, "the server spins while idle clients hang"
        assert health["answer"] == "ok\n" and health["seconds"] < 2, health
        began = time.monotonic()
        status, _, body = get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
        assert status == 200 and 'sepa_collector_status{site="test-site"} 0' in body
        assert time.monotonic() - began < 5
    finally:
        for c in clients:
            c.close()
        server.close()


def test_a_connection_must_deliver_its_request_in_time(tmp_path, site):
    """Neither a silent client nor one sending its request a byte a second holds a connection
    for longer than the request timeout (10 s)."""
    server = Server(write_config(tmp_path, site))
    silent = socket.create_connection(("127.0.0.1", server.port))
    slow = socket.create_connection(("127.0.0.1", server.port))
    closed = {}

    def trickle():
        for byte in b"GET /metrics HTTP/1.0\r\nHost: x\r\nUser-Agent: " + b"a" * 100:
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                closed["slow"] = time.monotonic()
                return
            time.sleep(1)
    began = time.monotonic()
    threading.Thread(target=trickle, daemon=True).start()
    try:
        silent.settimeout(15)
        assert silent.recv(1) == b""                          # the server closed it
        assert time.monotonic() - began < 12
        slow.settimeout(15)
        while True:                                            # the answer (if any), then the end
            try:
                if not slow.recv(4096):
                    break
            except ConnectionResetError:
                break
        assert time.monotonic() - began < 12
    finally:
        silent.close()
        slow.close()
        server.close()


class MariaDBProxy(LocalServer):
    """A TCP proxy to the test MariaDB that can be told to hang: new connections are then
    accepted and never answered, as a database that stopped responding."""

    def __init__(self, target):
        self.target, self.hang = target, False
        super().__init__()

    def handle(self, conn):
        if self.hang:
            self.held.append(conn)
            return
        upstream = socket.create_connection(self.target)
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def scrape(port, scrape_timeout):
    """A scrape as Prometheus makes it, announcing its own timeout; (status, body, seconds)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                 headers={"X-Prometheus-Scrape-Timeout-Seconds": str(scrape_timeout)})
    began = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=scrape_timeout + 10) as resp:
            return resp.status, resp.read().decode(), time.monotonic() - began
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), time.monotonic() - began


def test_a_scrape_waits_for_a_hanging_collection_only_within_its_timeout(tmp_path, site):
    """The database stops answering (collect_timeout 30 s): a scrape announcing a 3 s timeout
    gets the last collection within it; with no earlier collection, a 503 that says why."""
    mapping = site.server.site_database_mapping(site.name)
    proxy = MariaDBProxy((mapping["host"], mapping["port"]))
    cfg = write_config(tmp_path, database={**mapping, "host": "127.0.0.1", "port": proxy.port},
                       collect_timeout=30)
    server = Server(cfg, cache="1")
    try:
        status, first, _ = scrape(server.port, 3)
        assert status == 200 and 'sepa_collector_status{site="test-site"} 0' in first
        proxy.hang = True
        time.sleep(1.5)                                        # past --cache: the next scrape collects
        status, body, seconds = scrape(server.port, 3)
        assert seconds < 3 and status == 200 and body == first      # the last collection
        assert get(f"http://127.0.0.1:{server.port}/healthz", timeout=2)[2] == "ok\n"
    finally:
        server.close()

    fresh = Server(cfg, cache="1")                             # nothing collected yet
    try:
        status, body, seconds = scrape(fresh.port, 3)
        assert seconds < 3 and status == 503
        assert "collection" in body and "in progress" in body
        status, _, seconds = scrape(fresh.port, 2)             # and the next one too, not a new wait
        assert seconds < 2 and status == 503
    finally:
        fresh.close()
        proxy.close()


@pytest.mark.parametrize("flag, value", [
    ("--listen", "nonsense"), ("--listen", "127.0.0.1:99999"), ("--listen", "127.0.0.1:"),
    ("--listen", "127.0.0.1:-1"), ("--listen", "no-such-host.invalid:9105"),
    ("--cache", "-1"), ("--cache", "abc"), ("--cache", "nan"), ("--cache", "inf"),
])
def test_bad_listen_and_cache_are_usage_errors(tmp_path, flag, value):
    cfg = write_config(tmp_path, database={"name": "x", "user": "u"})
    rc, out, err = run_cli("serve", "--config", cfg, flag, value, timeout=10)
    assert rc == 2, err
    assert flag in err and "Traceback" not in err
