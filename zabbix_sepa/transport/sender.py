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
import logging
import re
import select
import socket
import struct
import time
from dataclasses import dataclass

from zappix.protocol import SenderData, SenderDataRequest

log = logging.getLogger(__name__)

HEADER = struct.Struct("<4sBII")       # "ZBXD", flags, data length, reserved
MAX_REPLY = 16 * 2**20
INFO = re.compile(r"processed: (\d+); failed: (\d+); total: (\d+)")
PSK_HEX = re.compile(r"[0-9A-Fa-f]{32,512}")


class DeliveryError(Exception):
    """The values were not acknowledged; str() says why and what to check."""


class NotConnected(DeliveryError):
    """No connection was made, so nothing was sent: another address may be tried at once."""


class Redirected(DeliveryError):
    """Zabbix 7.0 answered that another proxy of the host's proxy group takes its values.

    `address`:`port` is that proxy and `revision` the version of the group's host map
    the answer comes from (higher is newer); `reset` (no address): the group's assignment
    is void, start again from the group's proxies. Nothing of the request was processed."""

    def __init__(self, where, address=None, port=None, revision=0, reset=False):
        self.address, self.port, self.revision, self.reset = address, port, revision, reset
        to = "reset the redirection (its proxy group is offline?)" if reset else \
            f"redirected to {address}:{port} (host map revision {revision})"
        super().__init__(f"{where} {to}")


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
        """A socket connected to the server (its first address that answers) within the deadline;
        NotConnected says why not."""
        failure = f"no address for {self.server}"
        try:
            addresses = socket.getaddrinfo(self.server, self.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise NotConnected(f"cannot resolve {self.server}: {exc.strerror or exc}") from None
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(deadline.left())
                sock.connect(address)
                return sock
            except socket.timeout:
                sock.close()
                raise NotConnected(f"cannot connect to {self.where} within {self.timeout:g} s "
                                   "(zabbix.timeout): is it reachable (firewall, routing)?") from None
            except ConnectionRefusedError:
                sock.close()
                failure = (f"connection refused by {self.where}: is the Zabbix server "
                           "(or proxy) running and listening there?")
            except OSError as exc:
                sock.close()
                failure = f"cannot connect to {self.where}: {exc.strerror or exc}"
        raise NotConnected(failure)

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
        if reply.get("response") == "failed" and isinstance(reply.get("redirect"), dict):
            raise self._redirect(reply["redirect"])
        if reply.get("response") != "success":
            raise DeliveryError(f"{self.where} did not accept the request: "
                                f"response={reply.get('response')!r} info={info!r}")
        m = INFO.search(info)
        if not m:
            raise DeliveryError(f"unexpected reply from {self.where}: info={info!r}")
        return Reply(*(int(g) for g in m.groups()))

    def _redirect(self, block):
        """The Redirected for a reply's `redirect` block: {"reset": true}, or a revision and
        "host:port" ("[v6]:port"; no port: 10051)."""
        if block.get("reset") is True:
            return Redirected(self.where, reset=True)
        revision, address = block.get("revision"), block.get("address")
        if isinstance(revision, int) and not isinstance(revision, bool) and revision >= 0 and \
                isinstance(address, str) and address:
            host, sep, port = address.rpartition(":")
            if not sep or "]" in port or (host.count(":") and not host.startswith("[")):
                host, port = address, "10051"      # a bare name or IPv6 address
            if port.isdigit() and 0 < int(port) < 65536:
                return Redirected(self.where, host.strip("[]"), int(port), revision)
        return DeliveryError(f"{self.where} answered with a redirect that cannot be followed: "
                             f"{json.dumps(block)[:200]}")

    def _explain(self, exc):
        from OpenSSL import SSL
        if isinstance(exc, SSL.ZeroReturnError):
            return f"{self.where} closed the TLS connection before replying: not acknowledged"
        if isinstance(exc, SSL.Error):
            return f"TLS error talking to {self.where}: {exc.__class__.__name__}: {str(exc)[:200]}"
        return f"sending to {self.where} failed: {exc.__class__.__name__}: {str(exc)[:200]}"


class GroupSender:
    """The values of one host monitored by a Zabbix 7.0 proxy group, delivered as
    zabbix_sender and the agent do.

    A request goes to the proxy the host was last redirected to, else to the group's
    proxies (`members`, [(address, port)]) in turn while none takes a connection. A proxy
    (or the server) that knows the host lives on another proxy answers with a redirect:
    it is followed once and remembered (`remember((address, port, revision))`, None to
    forget), so the next request goes straight there. A reset, or a redirect from an older
    host map than the remembered one, sends it back to the group's proxies. A reply that
    refuses every value is a DeliveryError here (see _taken): the values stay spooled."""

    def __init__(self, host, group, members, make, remembered=None, remember=lambda redirect: None):
        self.host, self.group, self.members = host, group, list(members)
        self.make = make                        # (address, port) -> Sender
        self.remembered, self.remember = remembered, remember
        self.where = f"proxy group {group}"

    encode = staticmethod(Sender.encode)

    def send(self, values):
        return acknowledged(self.send_encoded(self.encode(values)), len(values), self.where)

    def send_encoded(self, payload):
        """Reply or DeliveryError, as Sender.send_encoded."""
        refused = []
        for address in self._order():
            try:
                return self._taken(self._send_following(address, payload))
            except NotConnected as exc:     # nothing was sent: the next proxy may take it
                refused.append(str(exc))
                if self.remembered and address == self.remembered[:2]:
                    self._forget()
        raise NotConnected(f"no proxy of proxy group {self.group} takes connections: " + "; ".join(refused))

    def _taken(self, reply):
        """`reply`, unless it refuses every value: a request holds one host's values, and a proxy
        the group has just given the host to refuses them until its next configuration sync
        (ProxyConfigFrequency), so they are kept for the next run rather than dropped."""
        if reply.total and reply.failed == reply.total:
            raise DeliveryError(
                f"{self.where} refused all {reply.total} value(s): the proxy the group gave the host to "
                "does not know it yet (it learns it at its next configuration sync); if this lasts, "
                "check the host and its template as for any rejected value")
        return reply

    def _order(self):
        first = [self.remembered[:2]] if self.remembered else []
        return first + [m for m in self.members if m not in first]

    def _send_following(self, address, payload):
        try:
            return self._at(address).send_encoded(payload)
        except Redirected as redirect:
            target = self._follow(address, redirect)
        try:
            return self._at(target).send_encoded(payload)
        except Redirected as again:
            raise DeliveryError(f"{again}, right after {_show(address)} redirected there: the proxy group "
                                "is moving its hosts; the values wait for the next run") from None
        except NotConnected as exc:         # not the next member: the group says the host is there
            raise DeliveryError(f"{exc} (redirected there by {_show(address)}; the proxy group moves the "
                                "host to a live proxy after its failover delay)") from None

    def _follow(self, address, redirect):
        """Where to try again after `address` answered `redirect`; DeliveryError when nowhere.

        Only the remembered proxy is asked before any other (`_order`), so a redirect that
        goes back on the memory (a reset, or one from an older host map) comes from it: then
        the memory is forgotten and the group's first other proxy is asked."""
        stale = self.remembered is not None and redirect.revision < self.remembered[2]
        if redirect.reset or stale:
            others = [m for m in self.members if m != address]
            if self.remembered is None or not others:
                raise DeliveryError(f"{redirect}: the values wait for the next run")
            self._forget()
            return others[0]
        target = (redirect.address, redirect.port)
        log.info("%s: %s redirects to %s (proxy group %s, host map revision %d)",
                 self.host, _show(address), _show(target), self.group, redirect.revision)
        self.remembered = (*target, redirect.revision)
        self.remember(self.remembered)
        return target

    def _forget(self):
        self.remembered = None
        self.remember(None)

    def _at(self, address):
        sender = self.make(address)
        self.where = f"{sender.where} (proxy group {self.group})"
        return sender


def _show(address):
    return f"{address[0]}:{address[1]}"
