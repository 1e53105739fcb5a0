"""The sender's handling of what a real Zabbix server never does on demand:
short, garbled or foreign replies, silence, a closed port. Each peer here is
a real TCP socket on 127.0.0.1 playing one fault. (The real server is in
tests/integration/test_zabbix_send.py.)"""
import json
import socket
import struct
import threading
import time

import pytest

from tests.tcp import LocalServer, read_exactly, zabbix_frame
from zabbix_sepa.transport.sender import DeliveryError, PskError, Reply, Sender, read_psk


class Peer:
    """Accepts one connection, reads the request, answers with `reply` bytes (or stays silent)."""

    def __init__(self, reply=None, silent=False, close_at_once=False):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.request = None
        self.reply, self.silent, self.close_at_once = reply, silent, close_at_once
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            if self.close_at_once:
                return
            if self.silent:         # reads whatever comes (a request, a TLS hello), answers nothing
                conn.recv(65536)
                time.sleep(3)
                return
            header = read_exactly(conn, 13)
            length = struct.unpack("<I", header[5:9])[0]
            self.request = json.loads(read_exactly(conn, length))
            conn.sendall(self.reply)

    def close(self):
        self.sock.close()


framed = zabbix_frame


OK = {"response": "success", "info": "processed: 1; failed: 1; total: 2; seconds spent: 0.000123"}


def send(peer, timeout=1.0):
    return Sender("127.0.0.1", peer.port, timeout).send(
        [("h", "sepa.collect", '{"a":1}', 1795345200), ("h", "sepa.collect", {"b": 2}, 1795345260)])


def test_request_and_reply():
    peer = Peer(framed(OK))
    assert send(peer) == Reply(processed=1, failed=1, total=2)
    peer.thread.join(2)
    req = peer.request
    assert req["request"] == "sender data"
    assert "clock" not in req           # no request clock: Zabbix keeps each value's own clock
    assert req["data"] == [
        {"host": "h", "key": "sepa.collect", "value": '{"a":1}', "clock": 1795345200, "ns": 0},
        {"host": "h", "key": "sepa.collect", "value": '{"b": 2}', "clock": 1795345260, "ns": 0}]


def test_reply_arriving_in_small_pieces():
    class Trickle(Peer):
        def _serve(self):
            conn, _ = self.sock.accept()
            with conn:
                header = read_exactly(conn, 13)
                read_exactly(conn, struct.unpack("<I", header[5:9])[0])
                for i in range(len(self.reply)):
                    conn.sendall(self.reply[i:i + 1])
                    time.sleep(0.001)
    assert send(Trickle(framed(OK))).processed == 1


@pytest.mark.parametrize("reply, message", [
    (b"", "closed the connection before replying"),
    (b"ZBXD\x01\x10\x00", "closed the connection before replying"),               # short header
    (framed(b'{"response": "succ')[:-3], "closed the connection before replying"),  # short body
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "did not answer with the Zabbix protocol"),
    (framed(b"not json at all"), "not JSON"),
    (framed(b"[1, 2]"), "not a JSON object"),
    (framed({"response": "failed", "info": "cannot parse"}), "did not accept the request"),
    (framed({"response": "success", "info": "something else"}), "unexpected reply"),
    (framed({"response": "success"}), "unexpected reply"),
])
def test_unexpected_replies_are_delivery_errors_not_crashes(reply, message):
    with pytest.raises(DeliveryError, match=message):
        send(Peer(reply))


def test_peer_closing_without_reading():
    with pytest.raises(DeliveryError):
        send(Peer(close_at_once=True))


def test_silent_server_times_out():
    peer = Peer(silent=True)
    began = time.monotonic()
    with pytest.raises(DeliveryError, match="no reply from 127.0.0.1:.* within 0.5 s"):
        send(peer, timeout=0.5)
    assert time.monotonic() - began < 1.5


def test_closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(DeliveryError, match="connection refused .* is the Zabbix server"):
        Sender("127.0.0.1", port, 1).send([("h", "k", "v", 1)])


def test_psk_to_a_silent_server_times_out_instead_of_crashing():
    """zappix 1.2.3 raised WantReadError with PSK and a timeout; ours waits, then says why."""
    peer = Peer(silent=True)
    psk = "ab" * 32
    began = time.monotonic()
    with pytest.raises(DeliveryError, match="within 0.5 s"):
        Sender("127.0.0.1", peer.port, 0.5, "id", psk).send([("h", "k", "v", 1)])
    assert time.monotonic() - began < 1.5


def test_read_psk(tmp_path):
    good = tmp_path / "psk"
    good.write_text("0123456789abcdef" * 4 + "\n")
    assert read_psk(str(good)) == "0123456789abcdef" * 4
    for text in ("xyz", "ab" * 8, "abc" * 20 + "a"):
        (tmp_path / "bad").write_text(text)
        with pytest.raises(PskError, match="hexadecimal key of 32 to 512 digits"):
            read_psk(str(tmp_path / "bad"))
    with pytest.raises(PskError, match="cannot read .*missing"):
        read_psk(str(tmp_path / "missing"))


# -- one deadline per request (issue 14, defect 3) ------------------------------------------
# zabbix.timeout bounded each socket read, so a server sending one byte a second kept `send`
# busy for as long as it liked. These peers stop after DRIBBLE_FOR seconds (so that the old
# behaviour shows as a slow failure, not a hung test run); the sender must give up long before.

DRIBBLE_FOR = 8.0
DRIBBLE_STEP = 0.25     # seconds between two bytes: always less than the deadlines below
DEADLINE = 0.6          # zabbix.timeout of the deadline tests: each recv alone would succeed
MARGIN = 0.75           # thread start, the kernel, a loaded machine


class Dribbler(LocalServer):
    """Accepts connections and keeps each busy without ever completing the exchange.

    mode "reply": reads the request, then sends a Zabbix reply one byte every DRIBBLE_STEP;
    mode "silent": reads the request, then says nothing;
    mode "tls": a TLS record header announcing a 16 KiB handshake record, then one byte every
    DRIBBLE_STEP of it, so that a PSK handshake never completes (and never fails)."""

    def __init__(self, mode):
        self.mode = mode
        super().__init__(backlog=8)

    def handle(self, conn):
        stop = time.monotonic() + DRIBBLE_FOR
        with conn:
            conn.settimeout(0.2)
            if self.mode == "tls":
                data = b"\x16\x03\x03\x40\x00" + bytes(16384)
            else:
                data = framed(OK)
            try:
                conn.recv(65536)                # the request (or the ClientHello)
            except OSError:
                pass
            for i in range(len(data)):
                if time.monotonic() >= stop:
                    return
                if self.mode != "silent":
                    try:
                        conn.sendall(data[i:i + 1])
                    except OSError:
                        return
                time.sleep(DRIBBLE_STEP)


def _timed(fn):
    began = time.monotonic()
    try:
        fn()
    except DeliveryError as exc:
        return time.monotonic() - began, str(exc)
    pytest.fail("the request was acknowledged")


@pytest.mark.parametrize("mode, psk", [("reply", False), ("silent", False), ("tls", True), ("silent", True)])
def test_one_deadline_bounds_the_whole_request(mode, psk):
    peer = Dribbler(mode)
    sender = Sender("127.0.0.1", peer.port, DEADLINE, *(("id", "ab" * 32) if psk else ()))
    try:
        elapsed, message = _timed(lambda: sender.send([("h", "sepa.collect", "v", 1)]))
    finally:
        peer.close()
    assert elapsed < DEADLINE + MARGIN, f"gave up after {elapsed:.1f} s: {message}"
    assert f"within {DEADLINE:g} s (zabbix.timeout" in message


def test_send_command_gives_up_in_time_and_keeps_the_value(tmp_path):
    """The whole command: a spooled value, a server that answers one byte at a time, never finishing."""
    import yaml
    from zabbix_sepa import cli
    from zabbix_sepa.transport.spool import HostSpool

    peer = Dribbler("reply")
    spool = tmp_path / "spool"
    HostSpool(str(spool), "alpha").put("sepa.collect", '{"n":1}', int(time.time()) - 60)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "spool_dir": str(spool),
        "zabbix": {"server": "127.0.0.1", "port": peer.port, "timeout": 1},
        "sites": [{"name": "alpha", "database": {"name": "x", "user": "u"}}]}))
    cfg.chmod(0o600)
    began = time.monotonic()
    try:
        rc = cli.main(["send", "--config", str(cfg), "--spool-only"])
    finally:
        peer.close()
    elapsed = time.monotonic() - began
    assert elapsed < 1 + MARGIN, f"send took {elapsed:.1f} s with zabbix.timeout 1"
    assert rc == 1
    assert len(HostSpool(str(spool), "alpha").entries()) == 1


def test_connect_counts_against_the_same_deadline():
    """A listener whose accept queue is full never completes the TCP handshake."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held = []
    try:
        while True:                  # fill the queue: the kernel then drops further SYNs
            c = socket.socket()
            c.settimeout(0.3)
            try:
                c.connect(("127.0.0.1", port))
            except socket.timeout:
                c.close()
                break
            held.append(c)
        elapsed, message = _timed(lambda: Sender("127.0.0.1", port, DEADLINE).send([("h", "k", "v", 1)]))
    finally:
        for c in held:
            c.close()
        listener.close()
    assert elapsed < DEADLINE + MARGIN
    assert "cannot connect to 127.0.0.1:" in message and f"within {DEADLINE:g} s (zabbix.timeout)" in message


@pytest.mark.parametrize("info", [
    "processed: 0; failed: 0; total: 0; seconds spent: 0.000010",   # nothing accounted for
    "processed: 1; failed: 0; total: 1; seconds spent: 0.000010",   # one of two
    "processed: 2; failed: 1; total: 2; seconds spent: 0.000010",   # counts that do not add up
])
def test_reply_must_account_for_every_value_sent(info):
    """Issue 14: a reply whose counts do not match the request is no acknowledgement."""
    with pytest.raises(DeliveryError, match=r"2 value\(s\) sent: not acknowledged"):
        send(Peer(framed({"response": "success", "info": info})))


def test_each_value_may_carry_its_own_ns():
    """Issue 14: values of the same second need distinct ns (Zabbix history key itemid, clock, ns)."""
    peer = Peer(framed({"response": "success", "info": "processed: 2; failed: 0; total: 2"}))
    Sender("127.0.0.1", peer.port, 1).send([("h", "k", "a", 1795345200, 123456789),
                                            ("h", "k", "b", 1795345200, 123456790)])
    peer.thread.join(2)
    assert [(d["clock"], d["ns"]) for d in peer.request["data"]] == [(1795345200, 123456789),
                                                                     (1795345200, 123456790)]
