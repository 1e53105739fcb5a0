"""The Zabbix sender protocol: one request of values, one acknowledgement.

zappix supplies the protocol models (`SenderData`, `SenderDataRequest`) and,
for PSK, its pyOpenSSL context (`set_psk_encryption`, `_wrap_psk_socket`).
The framing and the socket work are ours, because zappix 1.2.3 has two
defects we must not pass on to users:

- with PSK it puts a Python-level timeout on the socket it hands to
  pyOpenSSL, which then raises `WantReadError` instead of waiting; we make
  the socket non-blocking and wait for it ourselves (`_Tls`);
- it crashes (struct.error, AttributeError) on a short or unexpected reply;
  we read the header and body exactly and parse the reply ourselves.
Its stream module imports pyOpenSSL (60 ms); we load it only when PSK is on.

`zabbix.timeout` is one deadline for the whole request: connecting, sending,
the TLS handshake and the complete reply (`Deadline`). Every wait gets only
what is left of it, so a server that answers one byte a second cannot keep
`send` busy longer than the timeout. (Resolving the server's name is left to
the system resolver and its own timeouts.)

Whatever goes wrong, `send` raises DeliveryError with a sentence an operator
can act on, and never a library exception: the caller keeps the values.
"""
import json
import re
import select
import socket
import struct
import time
from dataclasses import dataclass

from zappix.protocol import SenderData, SenderDataRequest

HEADER = struct.Struct("<4sBII")       # "ZBXD", flags, data length, reserved
MAX_REPLY = 16 * 2**20
INFO = re.compile(r"processed: (\d+); failed: (\d+); total: (\d+)")
PSK_HEX = re.compile(r"[0-9A-Fa-f]{32,512}")


class DeliveryError(Exception):
    """The values were not acknowledged; str() says why and what to check."""


class PskError(ValueError):
    """The configured PSK cannot be used (raised before any connection)."""


@dataclass(frozen=True)
class Reply:
    processed: int
    failed: int
    total: int


def acknowledged(reply, sent, where):
    """`reply` if its counts account for exactly the `sent` values of the request, else
    DeliveryError: `processed: 0; failed: 0; total: 0` for values sent acknowledges nothing."""
    if reply.total != sent or reply.processed + reply.failed != reply.total:
        raise DeliveryError(f"{where} replied processed {reply.processed}, failed {reply.failed}, "
                            f"total {reply.total} to {sent} value(s) sent: not acknowledged")
    return reply


def read_psk(path):
    """The hex PSK in `path` (as zabbix_sender's --tls-psk-file); PskError says what is wrong."""
    try:
        with open(path, encoding="ascii") as fh:
            text = fh.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise PskError(f"cannot read {path} ({getattr(exc, 'strerror', None) or exc})") from None
    if not PSK_HEX.fullmatch(text) or len(text) % 2:
        raise PskError(f"{path} must hold one hexadecimal key of 32 to 512 digits (an even number), "
                       "e.g. from `openssl rand -hex 32`")
    return text


class Deadline:
    """One time limit for a whole request; left() is what remains, socket.timeout once spent."""

    def __init__(self, seconds):
        self.at = time.monotonic() + seconds

    def left(self):
        left = self.at - time.monotonic()
        if left <= 0:
            raise socket.timeout("zabbix.timeout spent")
        return left


class _Plain:
    """A connected socket whose every send and receive waits at most what the deadline leaves."""

    def __init__(self, sock, deadline):
        self.sock, self.deadline = sock, deadline

    def sendall(self, data):
        view = memoryview(data)
        while view:
            self.sock.settimeout(self.deadline.left())
            view = view[self.sock.send(view):]

    def recv(self, n):
        self.sock.settimeout(self.deadline.left())
        return self.sock.recv(n)


class _Tls:
    """A pyOpenSSL connection over a non-blocking socket, each wait bounded by the deadline.

    OpenSSL says what it needs (WantRead/WantWrite); we poll the socket for that with what
    is left of the deadline and call again. A peer that trickles bytes only keeps it going
    until the deadline."""

    def __init__(self, conn, sock, deadline):
        self.conn, self.sock, self.deadline = conn, sock, deadline

    def _retry(self, operation, *args):
        from OpenSSL import SSL
        while True:
            try:
                return operation(*args)
            except SSL.WantReadError:
                self._wait(select.POLLIN)
            except SSL.WantWriteError:
                self._wait(select.POLLOUT)

    def _wait(self, event):
        poller = select.poll()
        poller.register(self.sock, event)
        if not poller.poll(self.deadline.left() * 1000):
            raise socket.timeout("zabbix.timeout spent")

    def handshake(self):
        self._retry(self.conn.do_handshake)

    def sendall(self, data):
        view = memoryview(data)
        while view:
            view = view[self._retry(self.conn.send, view):]

    def recv(self, n):
        return self._retry(self.conn.recv, n)


class Sender:
    def __init__(self, server, port=10051, timeout=10.0, psk_identity=None, psk=None):
        self.server, self.port, self.timeout = server, port, float(timeout)
        self.psk_identity, self.psk = psk_identity, psk
        self._tls = None
        if psk_identity:
            from zappix.dstream import _Dstream
            self._tls = _Dstream(server, port)
            # zappix checks the lengths and patches pyOpenSSL with PSK support
            self._tls.set_psk_encryption(psk_identity, psk)
        self.where = f"{server}:{port}"

    @staticmethod
    def encode(values):
        """The framed request for [(host, key, value, clock[, ns])].

        Values go as strings with an integer clock and their ns (default 0),
        and without a request-level clock, so Zabbix stores each at exactly
        its own clock (no drift correction) and a re-delivered value has the
        same (clock, ns) as the first one."""
        items = [SenderData(host, key, value if isinstance(value, str) else json.dumps(value),
                            int(clock), int(ns[0]) if ns else 0) for host, key, value, clock, *ns in values]
        body = SenderDataRequest(items).to_bytes()
        return HEADER.pack(b"ZBXD", 0x01, len(body), 0) + body

    def send(self, values):
        """Send [(host, key, value, clock[, ns])] in one request; a Reply that accounts for
        every value, or DeliveryError."""
        return acknowledged(self.send_encoded(self.encode(values)), len(values), self.where)

    def send_encoded(self, payload):
        """Send a request made by encode(); Reply or DeliveryError."""
        try:
            raw = self._exchange(payload)
        except DeliveryError:
            raise
        except socket.timeout:
            raise DeliveryError(f"no reply from {self.where} within {self.timeout:g} s "
                                "(zabbix.timeout, the limit of the whole request: connect, "
                                "send, reply)") from None
        except ConnectionRefusedError:
            raise DeliveryError(f"connection refused by {self.where}: is the Zabbix server "
                                "(or proxy) running and listening there?") from None
        except OSError as exc:
            raise DeliveryError(f"cannot talk to {self.where}: {exc.strerror or exc}") from None
        except Exception as exc:    # pyOpenSSL and anything else from the libraries
            raise DeliveryError(self._explain(exc)) from None
        return self._parse(raw)

    # -- socket ---------------------------------------------------------------

    def _exchange(self, payload):
        deadline = Deadline(self.timeout)
        sock = self._connect(deadline)
        try:
            if not self.psk_identity:
                channel = _Plain(sock, deadline)
            else:
                sock.setblocking(False)
                conn = self._tls._wrap_psk_socket(sock)
                conn.set_connect_state()
                channel = _Tls(conn, sock, deadline)
                self._handshake(channel)
            channel.sendall(payload)
            return self._read_reply(channel.recv)
        finally:
            sock.close()

    def _connect(self, deadline):
        """A socket connected to the server (its first address that answers) within the deadline."""
        failure = OSError(f"no address for {self.server}")
        for family, kind, proto, _, address in socket.getaddrinfo(self.server, self.port,
                                                                  type=socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(deadline.left())
                sock.connect(address)
                return sock
            except socket.timeout:
                sock.close()
                raise DeliveryError(f"cannot connect to {self.where} within {self.timeout:g} s "
                                    "(zabbix.timeout): is it reachable (firewall, routing)?") from None
            except OSError as exc:
                sock.close()
                failure = exc
        raise failure

    def _handshake(self, channel):
        from OpenSSL import SSL
        try:
            channel.handshake()
        except socket.timeout:
            raise DeliveryError(f"no TLS handshake with {self.where} within {self.timeout:g} s "
                                "(zabbix.timeout, the limit of the whole request)") from None
        except SSL.Error as exc:
            raise DeliveryError(
                f"TLS with PSK to {self.where} failed ({exc.__class__.__name__}): the server did not "
                f"accept PSK identity {self.psk_identity!r} with the configured key; check "
                "zabbix.tls_psk_identity and zabbix.tls_psk_file against the host's PSK settings "
                "(Encryption tab, 'Connections from host' must allow PSK)") from None

    def _read_reply(self, recv):
        def exactly(n):
            data = b""
            while len(data) < n:
                chunk = recv(min(n - len(data), 65536))
                if not chunk:
                    raise DeliveryError(f"{self.where} closed the connection before replying "
                                        f"completely ({len(data)} of {n} bytes): not acknowledged")
                data += chunk
            return data

        magic, flags, length, _ = HEADER.unpack(exactly(HEADER.size))
        if magic != b"ZBXD":
            raise DeliveryError(f"{self.where} did not answer with the Zabbix protocol "
                                f"(is it a Zabbix server or proxy trapper port?)")
        if flags & 0x02 or flags & 0x04:
            raise DeliveryError(f"{self.where} answered with a compressed or large packet, "
                                "which a sender reply never is")
        if length > MAX_REPLY:
            raise DeliveryError(f"{self.where} announced a {length}-byte reply; refusing it")
        return exactly(length)

    # -- reply ----------------------------------------------------------------

    def _parse(self, raw):
        try:
            reply = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise DeliveryError(f"unreadable reply from {self.where}: not JSON") from None
        if not isinstance(reply, dict):
            raise DeliveryError(f"unexpected reply from {self.where}: not a JSON object")
        info = str(reply.get("info", ""))[:200]
        if reply.get("response") != "success":
            raise DeliveryError(f"{self.where} did not accept the request: "
                                f"response={reply.get('response')!r} info={info!r}")
        m = INFO.search(info)
        if not m:
            raise DeliveryError(f"unexpected reply from {self.where}: info={info!r}")
        return Reply(*(int(g) for g in m.groups()))

    def _explain(self, exc):
        from OpenSSL import SSL
        if isinstance(exc, SSL.ZeroReturnError):
            return f"{self.where} closed the TLS connection before replying: not acknowledged"
        if isinstance(exc, SSL.Error):
            return f"TLS error talking to {self.where}: {exc.__class__.__name__}: {str(exc)[:200]}"
        return f"sending to {self.where} failed: {exc.__class__.__name__}: {str(exc)[:200]}"
