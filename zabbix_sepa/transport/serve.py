"""`zabbix-sepa serve`: /metrics (every configured site) and /healthz over HTTP for Prometheus.

Whoever connects, the server stays answerable and idle:

- one collection at a time, in its own thread, shared by the scrapes within `--cache`
  seconds of it (SharedCollection); a scrape waits for a collection under way at most as
  long as Prometheus waits for it (its X-Prometheus-Scrape-Timeout-Seconds, less a margin;
  DEFAULT_WAIT without one), then gets the last collection, or a 503 saying why;
- a connection has REQUEST_TIMEOUT seconds to deliver its request and each read or write
  waits at most IO_TIMEOUT; at most `connection_limit()` connections are open, well within
  the process's file descriptor limit, and at that limit the oldest connection still
  waiting for its request makes room for the new one (Connections);
- accept() failing for want of file descriptors pauses the accept loop briefly instead of
  spinning on a listening socket that stays readable.
"""
import errno
import logging
import math
import resource
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from zabbix_sepa import registry
from zabbix_sepa.transport.prometheus import CONTENT_TYPE, exposition

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 10.0      # seconds from accept to a complete request
IO_TIMEOUT = 10.0           # seconds any one read or write of a connection may wait
DEFAULT_WAIT = 8.0          # a scrape's wait for a collection under way, without Prometheus's header
WAIT_MARGIN = 0.5           # answered this long before Prometheus gives up on the scrape
MAX_WAIT = 120.0
LISTEN_BACKLOG = 128
MAX_CONNECTIONS = 256
FD_RESERVE = 24             # descriptors kept for the collection (database sockets), logs, imports
OUT_OF_FDS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
ACCEPT_PAUSE = 0.1


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text):
    """ADDRESS:PORT (an IPv6 address in brackets; no address: 127.0.0.1) as a ListenAddress;
    ValueError says what is wrong."""
    host, colon, port = text.rpartition(":")
    if not colon:
        raise ValueError(f"must be address:port, e.g. 127.0.0.1:9105, got {text!r}")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"the port must be a number from 1 to 65535, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host or "127.0.0.1"
    try:
        socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError(f"cannot resolve the address {host!r} of {text!r} "
                         f"({getattr(exc, 'strerror', None) or exc})") from None
    return ListenAddress(host, int(port))


def connection_limit():
    """How many connections may be open at once: what the file descriptor limit leaves."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(4, min(MAX_CONNECTIONS, soft - FD_RESERVE))


def scrape_wait(header):
    """How long a scrape waits for a collection under way, from Prometheus's announced timeout."""
    try:
        announced = float(header)
    except (TypeError, ValueError):
        return DEFAULT_WAIT
    if not math.isfinite(announced):
        return DEFAULT_WAIT
    return min(MAX_WAIT, max(0.1, announced - WAIT_MARGIN))


class SharedCollection:
    """The exposition of every site, produced by one collection at a time in its own thread.

    get(wait) answers (status, text): 200 and an exposition not older than `fresh_for`
    seconds, collecting anew if needed and waiting at most `wait` seconds for that; past
    the wait 200 and the last exposition, or 503 and why there is none."""

    def __init__(self, produce, fresh_for):
        self.produce, self.fresh_for = produce, fresh_for
        self.cond = threading.Condition()
        self.text = None            # the last exposition
        self.done_at = None         # when it was made (time.monotonic())
        self.failure = None         # why the last collection produced none (never expected)
        self.started = 0            # collections started
        self.finished = 0           # collections finished
        self.running_since = None

    def get(self, wait):
        with self.cond:
            if self.text is not None and time.monotonic() - self.done_at < self.fresh_for:
                return 200, self.text
            if self.running_since is None:
                self._start()
            target = self.started
            if self.cond.wait_for(lambda: self.finished >= target, timeout=wait):
                if self.failure:
                    return 500, f"collection failed: {self.failure}\n"
                return 200, self.text
            return self._while_collecting()

    def _while_collecting(self):
        running = time.monotonic() - self.running_since
        if self.text is not None:
            log.warning("serving the collection of %.0f s ago: the one under way has run %.1f s",
                        time.monotonic() - self.done_at, running)
            return 200, self.text
        return 503, (f"a collection is in progress for {running:.1f} s (a site's database slow or "
                     "down? each site gets collect_timeout) and none has finished yet; "
                     "the next scrape gets it\n")

    def _start(self):
        self.started += 1
        self.running_since = time.monotonic()
        threading.Thread(target=self._collect, name="collection", daemon=True).start()

    def _collect(self):
        text = failure = None
        try:
            text = self.produce()
        except Exception as exc:      # never expected: collect() always returns a document
            log.exception("collection failed")
            failure = exc.__class__.__name__
        with self.cond:
            if text is not None:
                self.text, self.done_at = text, time.monotonic()
            self.failure = failure
            self.finished += 1
            self.running_since = None
            self.cond.notify_all()


class Connections:
    """The open connections, and which of them are still waiting for their request.

    admit() takes a new one, at the limit by shutting the oldest one still waiting for its
    request (False: none to shut, refuse the new one); reap() shuts those that did not
    deliver their request within `request_timeout`. Shutting a socket ends its handler's
    wait at once; the handler then closes it (closed())."""

    def __init__(self, limit, request_timeout=REQUEST_TIMEOUT):
        self.limit, self.request_timeout = limit, request_timeout
        self.lock = threading.Lock()
        self.open = {}              # socket -> accepted at (time.monotonic()), oldest first
        self.waiting = set()        # of those, still waiting for their request

    def admit(self, sock):
        with self.lock:
            if len(self.open) >= self.limit and not self._shut_oldest_waiting():
                return False
            self.open[sock] = time.monotonic()
            self.waiting.add(sock)
            return True

    def request_read(self, sock):
        with self.lock:
            self.waiting.discard(sock)

    def closed(self, sock):
        with self.lock:
            self.open.pop(sock, None)
            self.waiting.discard(sock)

    def make_room(self):
        with self.lock:
            return self._shut_oldest_waiting()

    def reap(self):
        too_old = time.monotonic() - self.request_timeout
        with self.lock:
            for sock in [s for s in self.waiting if self.open[s] < too_old]:
                self._shut(sock)

    def _shut_oldest_waiting(self):
        for sock in self.open:
            if sock in self.waiting:
                self._shut(sock)
                return True
        return False

    def _shut(self, sock):
        del self.open[sock]
        self.waiting.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class MetricsServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a real backlog, bounded connections and no spinning accept."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def __init__(self, address, collection, connections):
        self.address_family = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM,
                                                 flags=socket.AI_PASSIVE)[0][0]
        self.collection, self.connections = collection, connections
        self.warned_at = -math.inf
        super().__init__((address.host, address.port), Handler)

    def get_request(self):
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in OUT_OF_FDS:
                if time.monotonic() - self.warned_at > 60:
                    self.warned_at = time.monotonic()
                    log.warning("out of file descriptors (%s): closing the oldest idle connections",
                                exc.strerror)
                self.connections.make_room()
                time.sleep(ACCEPT_PAUSE)
            raise

    def verify_request(self, request, client_address):
        return self.connections.admit(request)

    def shutdown_request(self, request):
        self.connections.closed(request)
        super().shutdown_request(request)

    def service_actions(self):      # called by serve_forever() at least every poll interval
        self.connections.reap()


class Handler(BaseHTTPRequestHandler):
    server_version = "zabbix-sepa"
    timeout = IO_TIMEOUT

    def do_GET(self):
        self.server.connections.request_read(self.connection)
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            code, text = self.server.collection.get(
                scrape_wait(self.headers.get("X-Prometheus-Scrape-Timeout-Seconds")))
            self._answer(code, text, CONTENT_TYPE if code == 200 else "text/plain; charset=utf-8")
        elif path == "/healthz":
            self._answer(200, "ok\n", "text/plain; charset=utf-8")
        else:
            self._answer(404, "zabbix-sepa: /metrics or /healthz\n", "text/plain; charset=utf-8")

    def _answer(self, code, text, content_type):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if code == 503:
            self.send_header("Retry-After", "5")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        log.debug("%s %s", self.address_string(), fmt % args)


class Cadenced:
    """One document per site for a scrape: the minute collection each time, merged with the
    site's hourly document, which is collected again (together with the minute one) only
    when its cadences.hour.interval has passed, or when the last one could not reach the
    database. A large site's scrape then costs what its minute metrics cost, as in Zabbix."""

    def __init__(self, collect, collect_each, clock=time.monotonic):
        self.collect, self.collect_each, self.clock = collect, collect_each, clock
        self.hourly = {}            # site name -> (when collected, the hourly document)

    def document(self, site):
        kept = self.hourly.get(site.name)
        if kept is None or self.clock() - kept[0] >= site.intervals[registry.HOUR]:
            parts = self.collect_each(site)
            if parts[registry.HOUR]["metrics"].get("sepa.collector.status") != 2:
                self.hourly[site.name] = (self.clock(), parts[registry.HOUR])
            return merge(parts[registry.MINUTE], parts[registry.HOUR])
        return merge(self.collect(site, cadence=registry.MINUTE), kept[1])


def merge(minute, hour):
    """The minute document with the hourly one's metrics, lists and reasons (the collector's
    own metrics are the minute run's)."""
    own = {m.key for m in registry.metrics(registry.MINUTE)}
    return dict(minute, cadence="all",
                metrics={**{k: v for k, v in hour["metrics"].items() if k not in own}, **minute["metrics"]},
                discovery={**hour["discovery"], **minute["discovery"]},
                unsupported={**hour["unsupported"], **minute["unsupported"]})


def serve(cfg, listen, cache_seconds=5.0, collect=None):
    """Serve /metrics and /healthz on `listen` (a ListenAddress) until interrupted.

    A site whose database is down still gives a 200 with sepa_collector_status 2: a failed
    target is the collector's, not the site's. OSError when the address cannot be bound."""
    from zabbix_sepa import collect as collector
    cadenced = Cadenced(collect or collector.collect, collector.collect_each)

    def every_site():
        return exposition([cadenced.document(site) for site in cfg.sites])

    limit = connection_limit()
    server = MetricsServer(listen, SharedCollection(every_site, cache_seconds), Connections(limit))
    log.warning("serving http://%s/metrics for %d site(s)", listen, len(cfg.sites))
    log.debug("at most %d connections at once", limit)
    try:
        server.serve_forever()
    finally:
        server.server_close()
