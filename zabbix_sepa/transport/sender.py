"""The Zabbix sender protocol: one request of values, one acknowledgement.

zappix supplies the protocol models (`SenderData`, `SenderDataRequest`) and,
for PSK, its pyOpenSSL context (`set_psk_encryption`, `_wrap_psk_socket`).
The framing and the socket work are ours, because zappix 1.2.3 has two
defects we must not pass on to users:

- with PSK it puts a Python-level timeout on the socket it hands to
  pyOpenSSL, which then raises `WantReadError` instead of waiting; we connect
  with a timeout, then make the socket blocking and bound every read and
  write with kernel timeouts (SO_RCVTIMEO/SO_SNDTIMEO) that OpenSSL respects;
- it crashes (struct.error, AttributeError) on a short or unexpected reply;
  we read the header and body exactly and parse the reply ourselves.
Its stream module imports pyOpenSSL (60 ms); we load it only when PSK is on.

Whatever goes wrong, `send` raises DeliveryError with a sentence an operator
can act on, and never a library exception: the caller keeps the values.
"""
import json
import re
import socket
import struct
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
        """The framed request for [(host, key, value, clock)].

        Values go as strings with an integer clock and ns 0, and without a
        request-level clock, so Zabbix stores each at exactly its own clock
        (no drift correction) and a re-delivered value has the same
        (clock, ns) as the first one."""
        items = [SenderData(host, key, value if isinstance(value, str) else json.dumps(value),
                            int(clock), 0) for host, key, value, clock in values]
        body = SenderDataRequest(items).to_bytes()
        return HEADER.pack(b"ZBXD", 0x01, len(body), 0) + body

    def send(self, values):
        """Send [(host, key, value, clock)] in one request; Reply or DeliveryError."""
        return self.send_encoded(self.encode(values))

    def send_encoded(self, payload):
        """Send a request made by encode(); Reply or DeliveryError."""
        try:
            raw = self._exchange(payload)
        except DeliveryError:
            raise
        except socket.timeout:
            raise DeliveryError(f"no reply from {self.where} within {self.timeout:g} s "
                                "(zabbix.timeout)") from None
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
        sock = socket.create_connection((self.server, self.port), timeout=self.timeout)
        try:
            if not self.psk_identity:
                sock.sendall(payload)
                return self._read_reply(sock.recv)
            sock.settimeout(None)       # blocking for OpenSSL; the kernel enforces the timeout
            seconds = int(self.timeout)
            micros = int((self.timeout - seconds) * 1e6)
            limit = struct.pack("ll", seconds, micros)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
            conn = self._tls._wrap_psk_socket(sock)
            conn.set_connect_state()
            self._handshake(conn)
            conn.sendall(payload)
            return self._read_reply(conn.recv)
        finally:
            sock.close()

    def _handshake(self, conn):
        from OpenSSL import SSL
        try:
            conn.do_handshake()
        except (SSL.WantReadError, SSL.WantWriteError):
            raise DeliveryError(f"no TLS handshake with {self.where} within {self.timeout:g} s "
                                "(zabbix.timeout)") from None
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
        if isinstance(exc, (SSL.WantReadError, SSL.WantWriteError)):
            return f"no reply from {self.where} within {self.timeout:g} s (zabbix.timeout, TLS)"
        if isinstance(exc, SSL.ZeroReturnError):
            return f"{self.where} closed the TLS connection before replying: not acknowledged"
        if isinstance(exc, SSL.Error):
            return f"TLS error talking to {self.where}: {exc.__class__.__name__}: {str(exc)[:200]}"
        return f"sending to {self.where} failed: {exc.__class__.__name__}: {str(exc)[:200]}"
