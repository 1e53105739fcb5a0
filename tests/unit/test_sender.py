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
            header = self._exactly(conn, 13)
            length = struct.unpack("<I", header[5:9])[0]
            self.request = json.loads(self._exactly(conn, length))
            conn.sendall(self.reply)

    @staticmethod
    def _exactly(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def close(self):
        self.sock.close()


def framed(body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return b"ZBXD\x01" + struct.pack("<II", len(data), 0) + data


OK = {"response": "success", "info": "processed: 2; failed: 1; total: 3; seconds spent: 0.000123"}


def send(peer, timeout=1.0):
    return Sender("127.0.0.1", peer.port, timeout).send(
        [("h", "sepa.collect", '{"a":1}', 1795345200), ("h", "sepa.collect", {"b": 2}, 1795345260)])


def test_request_and_reply():
    peer = Peer(framed(OK))
    assert send(peer) == Reply(processed=2, failed=1, total=3)
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
                header = self._exactly(conn, 13)
                self._exactly(conn, struct.unpack("<I", header[5:9])[0])
                for i in range(len(self.reply)):
                    conn.sendall(self.reply[i:i + 1])
                    time.sleep(0.001)
    assert send(Trickle(framed(OK))).processed == 2


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
