"""`serve` without a database: the shared collection's bounded wait, the connection bounds,
the accept loop out of file descriptors, and --listen. (The real server with MariaDB, an fd
limit and idle clients is in tests/integration/test_prometheus.py.)"""
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import pytest

from zabbix_sepa.transport.serve import (Connections, ListenAddress, SharedCollection, parse_listen,
                                         scrape_wait)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Collector:
    """produce() for SharedCollection: returns "n<count>" after `seconds` (or when released)."""

    def __init__(self, seconds=0.0):
        self.seconds, self.count = seconds, 0
        self.release = threading.Event()

    def __call__(self):
        self.release.wait(self.seconds)
        self.count += 1
        return f"n{self.count}"


def test_scrapes_within_fresh_for_share_one_collection():
    produce = Collector()
    shared = SharedCollection(produce, fresh_for=60)
    assert shared.get(1) == (200, "n1")
    assert shared.get(1) == (200, "n1") and produce.count == 1


def test_a_scrape_waits_for_a_slow_collection_only_as_long_as_it_may():
    produce = Collector(seconds=30)
    shared = SharedCollection(produce, fresh_for=0)
    began = time.monotonic()
    code, text = shared.get(0.3)
    assert time.monotonic() - began < 0.6
    assert code == 503 and "collection is in progress" in text
    assert shared.get(0.2)[0] == 503                # joins the same collection: no second one
    produce.release.set()
    assert shared.get(2) in ((200, "n1"), (200, "n2"))
    produce.release.clear()                         # the next collection hangs:
    began = time.monotonic()
    code, text = shared.get(0.3)
    assert time.monotonic() - began < 0.6
    assert code == 200 and text in ("n1", "n2")     # the last result
    produce.release.set()


def test_concurrent_scrapes_wait_for_the_collection_under_way():
    produce = Collector(seconds=0.3)
    shared = SharedCollection(produce, fresh_for=0)
    results = []
    threads = [threading.Thread(target=lambda: results.append(shared.get(5))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(200, "n1")] * 8 and produce.count == 1


def test_at_the_limit_the_oldest_connection_waiting_for_its_request_makes_room():
    pairs = [socket.socketpair() for _ in range(4)]
    conns = Connections(limit=3, request_timeout=60)
    mine = [a for a, _ in pairs]
    assert all(conns.admit(s) for s in mine[:3])
    conns.request_read(mine[0])                     # this one is being answered: not evicted
    assert conns.admit(mine[3])
    assert pairs[1][1].recv(1) == b""               # the oldest still waiting was shut
    conns.request_read(mine[2])
    conns.request_read(mine[3])
    assert not conns.admit(socket.socket())         # all answering: the new one is refused
    for a, b in pairs:
        a.close()
        b.close()


def test_a_connection_that_does_not_deliver_its_request_in_time_is_shut():
    a, b = socket.socketpair()
    conns = Connections(limit=10, request_timeout=0.2)
    conns.admit(a)
    conns.reap()
    b.settimeout(0.01)
    with pytest.raises(socket.timeout):
        b.recv(1)                                   # not yet
    time.sleep(0.3)
    conns.reap()
    assert b.recv(1) == b""
    a.close()
    b.close()


def test_out_of_file_descriptors_the_accept_loop_does_not_spin(tmp_path):
    """The connection limit set far above the fd limit: accept() fails with EMFILE while
    clients wait in the backlog; the server must neither spin nor stop answering."""
    script = textwrap.dedent("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
        from zabbix_sepa.transport.serve import Connections, ListenAddress, MetricsServer, SharedCollection
        server = MetricsServer(ListenAddress("127.0.0.1", int(sys.argv[1])),
                               SharedCollection(lambda: "x 1\\n", 5), Connections(limit=10000))
        print("ready", flush=True)
        server.serve_forever(poll_interval=0.1)
    """)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    child = subprocess.Popen([sys.executable, "-c", script, str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    clients = []
    try:
        assert child.stdout.readline() == "ready\n"
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(60)]
        cpu = _cpu(child.pid)
        began = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            assert resp.read() == b"ok\n"
        assert time.monotonic() - began < 3
        time.sleep(max(0.0, 1 - (time.monotonic() - began)))
        assert _cpu(child.pid) - cpu < 0.3         # a spinning loop burns the whole second
    finally:
        for c in clients:
            c.close()
        child.terminate()
        child.wait(5)


def _cpu(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("text, address", [
    ("127.0.0.1:9105", ListenAddress("127.0.0.1", 9105)),
    (":9105", ListenAddress("127.0.0.1", 9105)),
    ("[::1]:9105", ListenAddress("::1", 9105)),
    ("localhost:1", ListenAddress("localhost", 1)),
])
def test_listen_addresses(text, address):
    assert parse_listen(text) == address


@pytest.mark.parametrize("text, message", [
    ("nonsense", "must be address:port"),
    ("127.0.0.1:99999", "port must be a number from 1 to 65535"),
    ("127.0.0.1:0", "port must be a number from 1 to 65535"),
    ("127.0.0.1:", "port must be a number from 1 to 65535"),
    ("127.0.0.1:９１", "port must be a number from 1 to 65535"),
    ("no-such-host.invalid:9105", "cannot resolve"),
])
def test_bad_listen_addresses(text, message):
    with pytest.raises(ValueError, match=message):
        parse_listen(text)


def test_scrape_wait_follows_prometheus_timeout():
    assert scrape_wait("10") == 9.5
    assert scrape_wait(None) == scrape_wait("nan") == scrape_wait("x") == 8.0
    assert scrape_wait("0") == 0.1 and scrape_wait("1e9") == 120
