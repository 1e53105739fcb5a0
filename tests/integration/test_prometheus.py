"""The Prometheus exposition of a real collection: promtool accepts it; `serve` answers
concurrent scrapes from one collection and reports a database outage as status 2, not a 500."""
import concurrent.futures
import socket
import subprocess
import sys
import time
import urllib.request

from tests.conftest import N, ROOT, run_cli, write_config

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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.headers.get("Content-Type"), resp.read().decode()


class Server:
    def __init__(self, cfg, cache="5"):
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "zabbix_sepa", "serve", "--config", cfg,
                                      "--listen", f"127.0.0.1:{self.port}", "--cache", cache],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                get(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                assert time.monotonic() < deadline and self.proc.poll() is None, self.proc.stderr.read()
                time.sleep(0.1)

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
    closed = free_port()
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
