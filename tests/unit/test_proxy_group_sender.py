"""Delivery to a Zabbix 7.0 proxy group (issue 12): the redirect a proxy answers with when
the host lives on another proxy of its group is followed once and remembered, a proxy that
takes no connection passes the request to the next, and what cannot be followed keeps the
values for the next run. The proxies here are real TCP peers on 127.0.0.1 that play the
redirects on demand; the real proxy group is in tests/integration/test_proxy_groups.py."""
import json
import struct

import pytest

from tests.tcp import LocalServer, read_exactly, unused_port, zabbix_frame
from zabbix_sepa.transport.sender import (DeliveryError, GroupSender, NotConnected, Redirected,
                                          Sender)
from zabbix_sepa.transport.spool import HostSpool

TAKEN = {"response": "success", "info": "processed: 1; failed: 0; total: 1; seconds spent: 0.0001"}
VALUE = [("site-a", "sepa.collect", "{}", 1795345200)]


class Proxy(LocalServer):
    """Answers every request with `answer` (a dict, or a callable of nothing); counts them."""

    def __init__(self, answer=TAKEN):
        self.answer, self.requests = answer, []
        super().__init__()

    def handle(self, conn):
        with conn:
            header = read_exactly(conn, 13)
            self.requests.append(json.loads(read_exactly(conn, struct.unpack("<I", header[5:9])[0])))
            conn.sendall(zabbix_frame(self.answer() if callable(self.answer) else self.answer))

    @property
    def address(self):
        return ("127.0.0.1", self.port)


def redirect_to(proxy, revision=1):
    return {"redirect": {"revision": revision, "address": f"127.0.0.1:{proxy.port}"}, "response": "failed"}


def group(*members, remembered=None, memory=None):
    memory = [] if memory is None else memory
    return GroupSender("site-a", "nl", [m if isinstance(m, tuple) else m.address for m in members],
                       lambda address: Sender(*address, timeout=2), remembered=remembered,
                       remember=memory.append)


@pytest.fixture
def proxies():
    made = []

    def make(answer=TAKEN):
        made.append(Proxy(answer))
        return made[-1]
    yield make
    for p in made:
        p.close()


@pytest.mark.parametrize("block, expect", [
    ({"revision": 7, "address": "10.0.0.2:10055"}, ("10.0.0.2", 10055, 7, False)),
    ({"revision": 2, "address": "proxy-b.example"}, ("proxy-b.example", 10051, 2, False)),
    ({"revision": 2, "address": "[fd00::2]:10052"}, ("fd00::2", 10052, 2, False)),
    ({"revision": 2, "address": "fd00::2"}, ("fd00::2", 10051, 2, False)),
    ({"reset": True}, (None, None, 0, True)),
])
def test_a_redirect_reply_is_read(proxies, block, expect):
    p = proxies({"redirect": block, "response": "failed"})
    with pytest.raises(Redirected) as caught:
        Sender(*p.address, timeout=2).send(VALUE)
    r = caught.value
    assert (r.address, r.port, r.revision, r.reset) == expect


@pytest.mark.parametrize("block", [{"revision": "x", "address": "a:1"}, {"revision": 1}, {"revision": 1, "address": "a:0"},
                                   {"reset": "yes"}, {"revision": -1, "address": "a:1"}])
def test_a_redirect_that_cannot_be_followed_is_a_delivery_error(proxies, block):
    p = proxies({"redirect": block, "response": "failed"})
    with pytest.raises(DeliveryError, match="answered with a redirect that cannot be followed") as caught:
        Sender(*p.address, timeout=2).send(VALUE)
    assert not isinstance(caught.value, Redirected)


def test_a_redirect_is_followed_once_and_remembered(proxies):
    b = proxies()
    a = proxies(redirect_to(b, revision=4))
    memory = []
    reply = group(a, b, memory=memory).send(VALUE)
    assert reply.processed == 1
    assert len(a.requests) == 1 and len(b.requests) == 1
    assert b.requests[0]["data"][0]["host"] == "site-a"
    assert memory == [("127.0.0.1", b.port, 4)]
    # the next run starts where the memory says: the first proxy is not asked again
    group(a, b, remembered=memory[-1]).send(VALUE)
    assert len(a.requests) == 1 and len(b.requests) == 2


def test_a_proxy_that_takes_no_connection_passes_the_request_to_the_next(proxies):
    b = proxies()
    reply = group(("127.0.0.1", unused_port()), b).send(VALUE)
    assert reply.processed == 1 and len(b.requests) == 1


def test_a_remembered_proxy_that_is_gone_is_forgotten(proxies):
    b = proxies()
    memory = []
    group(b, remembered=("127.0.0.1", unused_port(), 9), memory=memory).send(VALUE)
    assert memory == [None] and len(b.requests) == 1


def test_no_proxy_of_the_group_takes_connections():
    with pytest.raises(NotConnected, match="no proxy of proxy group nl takes connections: connection refused by"):
        group(("127.0.0.1", unused_port()), ("127.0.0.1", unused_port())).send(VALUE)


def test_a_redirect_to_a_proxy_that_is_down_keeps_the_values(proxies):
    port = unused_port()
    a = proxies({"redirect": {"revision": 2, "address": f"127.0.0.1:{port}"}, "response": "failed"})
    b = proxies()
    with pytest.raises(DeliveryError, match="redirected there by .* after its failover delay") as caught:
        group(a, b).send(VALUE)
    assert not isinstance(caught.value, NotConnected)     # the group says the host is there: no other proxy
    assert b.requests == []


def test_a_second_redirect_in_a_row_is_not_followed(proxies):
    a = proxies()
    b = proxies(lambda: redirect_to(a, revision=3))
    a.answer = redirect_to(b, revision=2)
    with pytest.raises(DeliveryError, match="right after .* redirected there: the proxy group is moving its hosts"):
        group(a, b).send(VALUE)
    assert (len(a.requests), len(b.requests)) == (1, 1)


def test_a_reset_from_the_remembered_proxy_starts_again_from_the_group(proxies):
    b = proxies({"redirect": {"reset": True}, "response": "failed"})
    a = proxies()
    memory = []
    group(a, b, remembered=(*b.address, 5), memory=memory).send(VALUE)
    assert memory == [None] and len(a.requests) == 1


def test_a_reset_from_a_proxy_not_redirected_to_is_a_delivery_error(proxies):
    a = proxies({"redirect": {"reset": True}, "response": "failed"})
    with pytest.raises(DeliveryError, match="reset the redirection"):
        group(a).send(VALUE)


def test_a_redirect_from_an_older_host_map_than_remembered_starts_again_from_the_group(proxies):
    a = proxies()
    b = proxies(redirect_to(a, revision=3))
    memory = []
    group(a, b, remembered=(*b.address, 5), memory=memory).send(VALUE)
    assert memory == [None]                 # not ("127.0.0.1", a.port, 3): revision 3 is older than 5
    assert (len(b.requests), len(a.requests)) == (1, 1)


def test_a_proxy_that_refuses_every_value_keeps_them_for_the_next_run(proxies):
    """Right after the group moved the host, its new proxy refuses its values until its next
    configuration sync: not dropped as a rejection is, but kept (a DeliveryError)."""
    a = proxies({"response": "success", "info": "processed: 0; failed: 1; total: 1; seconds spent: 0.0001"})
    with pytest.raises(DeliveryError, match=r"refused all 1 value\(s\): the proxy the group gave the host to "
                                            "does not know it yet"):
        group(a).send(VALUE)
    b = proxies({"response": "success", "info": "processed: 1; failed: 1; total: 2; seconds spent: 0.0001"})
    assert group(b).send(VALUE * 2).failed == 1         # a partial rejection is a rejection


def test_the_memory_lives_in_the_host_spool(tmp_path):
    hs = HostSpool(str(tmp_path), "site-a")
    assert hs.redirect("nl") is None
    hs.remember_redirect("nl", ("10.0.0.2", 10051, 4))
    assert HostSpool(str(tmp_path), "site-a").redirect("nl") == ("10.0.0.2", 10051, 4)
    assert hs.redirect("other-group") is None           # the site moved to another group
    (tmp_path / "site-a" / ".redirect").write_text("{torn")
    assert hs.redirect("nl") is None
    hs.remember_redirect("nl", None)
    assert not (tmp_path / "site-a" / ".redirect").exists()
    hs.remember_redirect("nl", None)                    # forgetting twice is fine
    assert hs.entries() == []                           # the memory is no spooled value
