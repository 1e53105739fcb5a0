"""The read-only Redis client (zabbix_sepa/resp.py) against a real redis-server: replies of
every type, pipelines, the login (requirepass, an ACL user), refused commands; and against
peers that are not a working Redis: a closed port, one that never answers, one that hangs up,
one that speaks something else."""
import time
from types import SimpleNamespace

import pytest

from tests.redis_server import HOST, RedisServer, installed
from tests.tcp import LocalServer, unused_port
from zabbix_sepa import resp



def config(server, username=None, password=None):
    return SimpleNamespace(host=HOST, port=server.port, username=username, password=password)


def deadline(seconds=5.0):
    return time.monotonic() + seconds


@pytest.fixture
def secured():
    """A redis-server with requirepass and an ACL user that may only read RQ's keys."""
    if not installed():
        pytest.skip("redis-server is not installed (tests/run.sh installs it)")
    server = RedisServer(password="admin-secret-pw")
    server.add_user("zsepa", "reader-secret-pw", "~rq:*", "-@all", "+@read", "+@connection")
    yield server
    server.stop()


def test_encode_is_resp2_arrays_of_bulk_strings():
    assert resp.encode(("LINDEX", "rq:queue:b:short", 0)) == \
        b"*3\r\n$6\r\nLINDEX\r\n$16\r\nrq:queue:b:short\r\n$1\r\n0\r\n"
    assert resp.encode(("HGET", "rq:job:é", b"\x00\xff")) == b"*3\r\n$4\r\nHGET\r\n$9\r\nrq:job:\xc3\xa9\r\n$2\r\n\x00\xff\r\n"


def test_replies_of_every_type_in_one_pipeline(redis_server):
    with redis_server.admin() as admin:
        admin.call("RPUSH", "rq:queue:b:short", "job-1", "job-2")
        admin.call("HSET", "rq:job:job-1", "enqueued_at", "2026-11-22T10:47:25.250000Z")
        admin.call("ZADD", "rq:failed:b:short", 100, "f1", 200, "f2", "+inf", "f3")
        admin.call("SADD", "rq:queues", "rq:queue:b:short")
    with resp.connect(config(redis_server), deadline()) as redis:
        replies = redis.pipeline([("PING",), ("LLEN", "rq:queue:b:short"), ("LINDEX", "rq:queue:b:short", 0),
                                  ("LINDEX", "rq:queue:b:none", 0), ("SMEMBERS", "rq:queues"),
                                  ("HMGET", "rq:job:job-1", "enqueued_at", "data"), ("ZCOUNT", "rq:failed:b:short",
                                                                                      "(100", "+inf")])
        assert replies == ["PONG", 2, b"job-1", None, [b"rq:queue:b:short"],
                           [b"2026-11-22T10:47:25.250000Z", None], 2]
        assert redis.commands == 7 and redis.pipeline([]) == []


def test_an_error_reply_is_raised_after_the_whole_pipeline_was_read(redis_server):
    with redis_server.admin() as admin:
        admin.call("SET", "rq:string", "x")
    with resp.connect(config(redis_server), deadline()) as redis:
        with pytest.raises(resp.ReplyError) as err:
            redis.pipeline([("LLEN", "rq:none"), ("LLEN", "rq:string"), ("PING",)])
        assert err.value.code == "WRONGTYPE" and str(err.value).startswith(f"Redis at {HOST}:{redis_server.port} "
                                                                           f"answered: WRONGTYPE")
        assert redis.call("PING") == "PONG"             # the connection is still in step


@pytest.mark.parametrize("command", [("SET", "rq:queues", "x"), ("DEL", "rq:queues"), ("FLUSHALL",),
                                     ("EVAL", "return 1", "0"), ("HGETALL", "rq:job:x"), ("CONFIG", "GET", "*"),
                                     ("LPOP", "rq:queue:b:short"), ("set", "x", "y")])
def test_the_collector_s_connection_refuses_anything_but_its_reads_before_sending(redis_server, command):
    before = redis_server.changes()
    with resp.connect(config(redis_server), deadline()) as redis:
        with pytest.raises(ValueError, match="is not one of the read commands"):
            redis.pipeline([("PING",), command])
        assert redis.commands == 0
    assert redis_server.changes() == before


def test_requirepass_login(secured):
    with resp.connect(config(secured, password="admin-secret-pw"), deadline()) as redis:
        assert redis.call("PING") == "PONG"
    with resp.connect(config(secured), deadline()) as redis:         # no password: the first command says so
        with pytest.raises(resp.ReplyError) as err:
            redis.call("SMEMBERS", "rq:queues")
        assert err.value.code == "NOAUTH" and "set redis.password_file" in str(err.value)
    with pytest.raises(resp.LoginFailed) as err:
        resp.connect(config(secured, password="wrong-password-1"), deadline())
    assert err.value.code == "WRONGPASS" and "check redis.username and redis.password_file" in str(err.value)
    assert "wrong-password-1" not in str(err.value)


def test_acl_user_login_reads_only_what_it_may(secured):
    with secured.admin() as admin:
        admin.call("SADD", "rq:queues", "rq:queue:b:short")
        admin.call("SET", "other:key", "x")
    with resp.connect(config(secured, "zsepa", "reader-secret-pw"), deadline()) as redis:
        assert redis.call("SMEMBERS", "rq:queues") == [b"rq:queue:b:short"]
        with pytest.raises(resp.ReplyError) as err:
            redis.call("EXISTS", "other:key")
        assert err.value.code == "NOPERM" and "allow it ~rq:* and +@read" in str(err.value)
    with pytest.raises(resp.LoginFailed, match="WRONGPASS"):
        resp.connect(config(secured, "zsepa", "admin-secret-pw"), deadline())
    with pytest.raises(resp.LoginFailed, match="WRONGPASS"):
        resp.connect(config(secured, "nobody", "reader-secret-pw"), deadline())


def test_a_closed_port_is_unreachable_at_once():
    port = unused_port()
    began = time.monotonic()
    with pytest.raises(resp.Unreachable) as err:
        resp.connect(SimpleNamespace(host=HOST, port=port, username=None, password=None), deadline())
    assert str(err.value) == f"cannot connect to Redis at {HOST}:{port}: Connection refused"
    assert time.monotonic() - began < 1


class Silent(LocalServer):
    """Accepts connections and never answers (a hung Redis)."""

    def handle(self, conn):
        self.held.append(conn)


class Replies(LocalServer):
    """Answers every connection with fixed bytes, then (hang_up) closes it."""

    def __init__(self, data, hang_up=True):
        self.data, self.hang_up = data, hang_up
        super().__init__()

    def handle(self, conn):
        conn.recv(4096)
        conn.sendall(self.data)
        if self.hang_up:
            conn.close()
        else:
            self.held.append(conn)


@pytest.mark.parametrize("seconds", [0.3, 0.8])
def test_a_redis_that_does_not_answer_costs_the_time_left_and_no_more(seconds):
    peer = Silent()
    try:
        began = time.monotonic()
        conn = resp.Connection(HOST, peer.port, began + seconds)
        with pytest.raises(resp.Unreachable, match=rf"no answer from Redis at {HOST}:{peer.port} within "):
            conn.call("PING")
        took = time.monotonic() - began
        assert seconds <= took < seconds + 0.2
        conn.close()
    finally:
        peer.close()


def test_a_deadline_already_past_sends_nothing(redis_server):
    conn = resp.Connection(HOST, redis_server.port, deadline())
    conn.deadline = time.monotonic() - 1
    with pytest.raises(resp.Unreachable, match="no answer"):
        conn.call("PING")
    assert conn.commands == 0
    conn.close()


@pytest.mark.parametrize("data, message", [
    (b"", "closed the connection"),
    (b"+PO", "closed the connection"),                                   # hung up in the middle of a reply
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "a reply of unknown type b'H': is it a Redis server?"),
    (b"$99999999\r\n", "a string of 99999999 (more than the 65536 we read)"),
    (b"*2000000\r\n", "an array of 2000000 (more than the 1000000 we read)"),
    (b"$x\r\n", "a string of a malformed length"),
    (b"$2\r\nabcd\r\n", "a string longer than it said"),
    (b"*1\r\n" * 6, "arrays nested too deep"),
])
def test_a_peer_that_is_not_a_working_redis_is_named(data, message):
    peer = Replies(data)
    try:
        with pytest.raises(resp.RedisError) as err:
            resp.Connection(HOST, peer.port, deadline()).call("PING")
        assert str(err.value).startswith(f"Redis at {HOST}:{peer.port} sent ") or "closed" in message
        assert message in str(err.value)
    finally:
        peer.close()


def test_a_line_without_an_end_is_not_read_for_ever():
    peer = Replies(b"+" + b"x" * (resp.MAX_LINE + 10), hang_up=False)
    try:
        with pytest.raises(resp.ProtocolError, match="a line without an end"):
            resp.Connection(HOST, peer.port, deadline()).call("PING")
    finally:
        peer.close()


def test_address_of_ipv6():
    assert resp.address("::1", 6379) == "[::1]:6379" and resp.address("redis.local", 11000) == "redis.local:11000"
