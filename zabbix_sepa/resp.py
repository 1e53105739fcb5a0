"""A small read-only Redis client: RESP2 over one TCP connection, for the bench's RQ queues.

zabbix-sepa reads Frappe's `redis_queue` and never writes to it. This is all it needs, without
a dependency: connect within a deadline, log in (`AUTH password`, or `AUTH user password` for
an ACL user), and send the read commands of READ_COMMANDS, one at a time or pipelined (all
commands of a round in one write, their replies read back in order). `connect` returns a
`ReadOnlyRedis`, which refuses every other command: a write cannot reach the site's Redis.

Every socket operation is bounded by the caller's deadline (a time.monotonic() value): a
Redis that does not answer costs the time that is left, never more. Failures are RedisErrors
whose text names the server and what went wrong; none quotes a value that was read, and
replies larger than a name or a timestamp (MAX_BULK) are refused rather than read.
"""
import socket
import time

# What the collector may send once logged in: reads only (Redis's @read category, and PING).
READ_COMMANDS = frozenset({"PING", "EXISTS", "SMEMBERS", "SSCAN", "SCARD", "LLEN", "LINDEX", "ZCARD",
                           "ZCOUNT", "HGET", "HMGET"})
MAX_BULK = 64 * 1024        # bytes of one string reply: queue names, job ids, timestamps are far smaller
MAX_ITEMS = 1_000_000       # elements of one array reply
MAX_LINE = 64 * 1024        # a reply's first line (type and length, or a status or error text)
MAX_DEPTH = 4               # nested arrays: our commands' replies nest two deep at most
READ_SIZE = 65536

# What to do about an error reply, by its code (the reply's first word).
HINTS = {
    "NOAUTH": "Redis wants a login: set redis.password_file (and redis.username for an ACL user)",
    "WRONGPASS": "check redis.username and redis.password_file",
    "NOPERM": "the login may not read RQ's keys with this command: allow it ~rq:* and +@read",
}


class RedisError(Exception):
    """A Redis problem; str() names the server and is safe to show."""


class Unreachable(RedisError):
    """No connection, no answer within the deadline, or the connection broke."""


class ProtocolError(RedisError):
    """The peer sent what a Redis (RESP2) does not, or more than we read."""


class ReplyError(RedisError):
    """Redis answered a command with an error reply."""

    def __init__(self, where, text):
        self.where, self.text = where, " ".join(text.split())[:200]
        self.code = self.text.split(" ", 1)[0]
        hint = HINTS.get(self.code)
        super().__init__(f"Redis at {where} answered: {self.text}" + (f" ({hint})" if hint else ""))


class LoginFailed(ReplyError):
    """AUTH was refused."""


def address(host, port):
    """host:port as people write it ([::1]:6379 for an IPv6 address)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def encode(command):
    """One command (a sequence of str, bytes or int arguments) as a RESP2 array of bulk strings."""
    parts = [b"*%d\r\n" % len(command)]
    for arg in command:
        data = arg if isinstance(arg, bytes) else str(arg).encode("utf-8")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Connection:
    """One TCP connection speaking RESP2, every operation within `deadline`. Any command goes:
    the collector gets a ReadOnlyRedis (see `connect`); tests write their data through this."""

    def __init__(self, host, port, deadline):
        self.where, self.deadline, self.began = address(host, port), deadline, time.monotonic()
        self.commands = 0               # sent so far (what a collection cost the server)
        self._buffer = bytearray()
        try:
            self._sock = socket.create_connection((host, port), timeout=self._left())
        except socket.timeout:
            raise Unreachable(f"no connection to Redis at {self.where} within {self._spent()}") from None
        except OSError as exc:
            raise Unreachable(f"cannot connect to Redis at {self.where}: {exc.strerror or exc}") from None

    def _spent(self):
        return f"{time.monotonic() - self.began:.1f} s"

    def _left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Unreachable(f"no answer from Redis at {self.where} within {self._spent()}")
        return left

    def call(self, *command):
        """The reply to one command; ReplyError if it is an error."""
        return self.pipeline([command])[0]

    def pipeline(self, commands):
        """The replies to `commands`, sent in one write, in their order. All replies are read
        before the first error reply among them is raised, so the connection stays usable."""
        if not commands:
            return []
        self._send(b"".join(encode(c) for c in commands))
        self.commands += len(commands)
        replies = [self._reply() for _ in commands]
        for reply in replies:
            if isinstance(reply, ReplyError):
                raise reply
        return replies

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the wire -------------------------------------------------------------------------

    def _send(self, data):
        try:
            self._sock.settimeout(self._left())
            self._sock.sendall(data)
        except socket.timeout:
            raise Unreachable(f"no answer from Redis at {self.where} within {self._spent()}") from None
        except OSError as exc:
            raise Unreachable(f"connection to Redis at {self.where} failed: {exc.strerror or exc}") from None

    def _fill(self):
        try:
            self._sock.settimeout(self._left())
            chunk = self._sock.recv(READ_SIZE)
        except socket.timeout:
            raise Unreachable(f"no answer from Redis at {self.where} within {self._spent()}") from None
        except OSError as exc:
            raise Unreachable(f"connection to Redis at {self.where} failed: {exc.strerror or exc}") from None
        if not chunk:
            raise Unreachable(f"Redis at {self.where} closed the connection")
        self._buffer += chunk

    def _line(self):
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[:end + 2]
                return line
            if len(self._buffer) > MAX_LINE:
                raise self._bad("a line without an end")
            self._fill()

    def _exactly(self, n):
        while len(self._buffer) < n:
            self._fill()
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _bad(self, what):
        self.close()
        return ProtocolError(f"Redis at {self.where} sent {what}: is it a Redis server?")

    def _length(self, text, limit, what):
        """The number `text` of a reply's first line; `what` it counts, e.g. "a string"."""
        try:
            n = int(text)
        except ValueError:
            raise self._bad(f"{what} of a malformed length") from None
        if n > limit:
            raise self._bad(f"{what} of {n} (more than the {limit} we read)")
        return n

    def _reply(self, depth=0):
        """One RESP2 reply: str (status), int, bytes or None (bulk), list or None (array), or a
        ReplyError (returned, not raised: the caller reads the other replies first)."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode("utf-8", "replace")
        if kind == b"-":
            return ReplyError(self.where, rest.decode("utf-8", "replace"))
        if kind == b":":
            return self._length(rest, float("inf"), "an integer")
        if kind == b"$":
            n = self._length(rest, MAX_BULK, "a string")
            return None if n < 0 else self._bulk(n)
        if kind == b"*":
            if depth >= MAX_DEPTH:
                raise self._bad("arrays nested too deep")
            n = self._length(rest, MAX_ITEMS, "an array")
            return None if n < 0 else [self._reply(depth + 1) for _ in range(n)]
        raise self._bad(f"a reply of unknown type {kind!r}")

    def _bulk(self, n):
        data = self._exactly(n + 2)
        if data[-2:] != b"\r\n":
            raise self._bad("a string longer than it said")
        return data[:-2]


class ReadOnlyRedis:
    """A logged-in connection that sends only READ_COMMANDS (anything else is a ValueError,
    raised before a byte is sent)."""

    def __init__(self, connection):
        self._connection = connection
        self.where = connection.where

    @property
    def commands(self):
        return self._connection.commands

    def call(self, *command):
        return self.pipeline([command])[0]

    def pipeline(self, commands):
        for command in commands:
            name = str(command[0]).upper()
            if name not in READ_COMMANDS:
                raise ValueError(f"{name} is not one of the read commands zabbix-sepa sends to Redis")
        return self._connection.pipeline(commands)

    def close(self):
        self._connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def login(connection, username=None, password=None):
    """AUTH with the password (and the ACL user, if any); LoginFailed when refused."""
    if password is None:
        return
    command = ("AUTH", username, password) if username else ("AUTH", password)
    try:
        connection.call(*command)
    except ReplyError as exc:
        raise LoginFailed(exc.where, exc.text) from None


def connect(config, deadline):
    """A ReadOnlyRedis to `config` (host, port, username, password), logged in, by `deadline`."""
    connection = Connection(config.host, config.port, deadline)
    try:
        login(connection, config.username, config.password)
    except BaseException:
        connection.close()
        raise
    return ReadOnlyRedis(connection)
