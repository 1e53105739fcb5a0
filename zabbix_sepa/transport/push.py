"""`zabbix-sepa send`: collect, spool, deliver the spool oldest first.

Each cadence's document is the value of its master item (registry.master_key):
`sepa.collect` for the minute, `sepa.collect.hour` for the hour. By default
(`--cadence due`) a run sends the minute document, and the hourly one too when
its interval has turned since the last one was spooled (`cadences.hour.interval`:
unix time divided by it changes, so an hour turns at every full UTC hour): then
one collection of everything gives the two documents.

The new document is spooled before anything is sent, so that one code path
delivers everything in clock order with its original clock, and a value is
never only in memory while the network is being tried. The spool's bounds
apply only after delivery was tried: they are for values that could not be
delivered. A reply counts as an acknowledgement only when its counts account
for every value of the request.

Exit status as zabbix_sender: 0 all processed, 2 some rejected by the server,
1 something is not delivered: still waiting in the spool, dropped by its
bounds, quarantined (`*.bad`), lost, or the spool cannot be used (the log
says which).
"""
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

from zabbix_sepa import registry
from zabbix_sepa.config import ConfigError
from zabbix_sepa.transport import spool as spool_mod
from zabbix_sepa.transport.sender import DeliveryError, GroupSender, PskError, Sender, acknowledged, read_psk
from zabbix_sepa.transport.spool import HostSpool, SpoolError, new_ns

log = logging.getLogger(__name__)

DUE = "due"
PER_CONNECTION = 250        # zabbix_sender's convention
LOCK_WAIT = 5.0
TEXT_LIMIT = 65535          # ZBX_HISTORY_TEXT_VALUE_LEN on MySQL/MariaDB


@dataclass
class Outcome:
    host: str
    sent: int = 0           # acknowledged as processed
    earlier: int = 0        # of those, values spooled by earlier runs
    rejected: int = 0       # acknowledged as failed (unknown host/key): dropped, not retried
    waiting: int = 0        # still in the spool
    dropped: int = 0        # removed by the spool bounds: lost
    quarantined: int = 0    # spool files that could not be read back, renamed *.bad
    lost: int = 0           # neither delivered nor spooled (spool unusable and server down)
    spool_error: bool = False   # the spool could not be used as it must (problem says why)
    problem: Optional[str] = None
    not_collected: bool = False  # the collection itself failed (a bug: problem says what)

    def line(self):
        text = (f"{self.host}: sent {self.sent} ({self.earlier} from the spool), "
                f"rejected {self.rejected}, waiting in spool {self.waiting}")
        if self.dropped:
            text += f", dropped by spool bounds {self.dropped}"
        if self.quarantined:
            text += f", quarantined {self.quarantined} (renamed *.bad)"
        if self.lost:
            text += f", LOST {self.lost}"
        return text + (f" - {self.problem}" if self.problem else "")


def make_sender(cfg, destination=None):
    """A Sender to (address, port): the server by default, or the proxy that monitors a site."""
    z = cfg.zabbix
    address, port = destination or z.destination()
    psk = None
    if z.tls_psk_file:
        try:
            psk = read_psk(z.tls_psk_file)
        except PskError as exc:
            raise ConfigError(cfg.path, "zabbix.tls_psk_file", str(exc)) from None
    try:
        return Sender(address, port, z.timeout, z.tls_psk_identity, psk)
    except ValueError as exc:       # zappix's own length checks
        raise ConfigError(cfg.path, "zabbix.tls_psk_identity", str(exc)) from None


class Senders:
    """`senders(host)`: the Sender for a host's values: the one given (tests), else one per
    destination, the server or the proxy that monitors the site (a host no longer configured:
    the server); for a site of a proxy group, a GroupSender that follows the group's redirects
    and remembers them in the host's spool. Made at once for the server, so that a PSK error
    is a config error before anything is collected."""

    def __init__(self, cfg, given=None):
        self.cfg, self.given, self.made = cfg, given, {}
        self.sites = {site.name: site for site in cfg.sites}
        self.groups = {}
        self.at(cfg.zabbix.destination())

    def __call__(self, host):
        if self.given is not None:
            return self.given
        site = self.sites.get(host)
        if site is not None and site.proxy_group:
            if host not in self.groups:
                self.groups[host] = self.group_sender(host, site.proxy_group)
            return self.groups[host]
        return self.at(self.cfg.zabbix.destination(site.proxy if site else None))

    def at(self, destination):
        if destination not in self.made:
            self.made[destination] = make_sender(self.cfg, destination)
        return self.made[destination]

    def group_sender(self, host, group):
        hs = HostSpool(self.cfg.spool_dir, host)
        return GroupSender(host, group, [(p.address, p.port) for p in self.cfg.zabbix.group_members(group)],
                           self.at, remembered=hs.redirect(group),
                           remember=lambda redirect: hs.remember_redirect(group, redirect))


def exit_status(outcomes):
    if any(o.waiting or o.lost or o.dropped or o.quarantined or o.spool_error or o.not_collected for o in outcomes):
        return 1
    if any(o.rejected for o in outcomes):
        return 2
    return 0


def send(cfg, sites, now=None, all_spooled=False, collect=None, sender=None, spool_only=False, cadence=DUE,
         collect_each=None):
    """Collect each site, spool its documents, deliver the spools. Returns [Outcome].

    cadence: minute, hour, all (both documents from one collection) or due (the minute one,
    and the hourly one when it is due); spool_only: deliver what is spooled without
    collecting (after an outage). `collect` and `collect_each` stand in for the collector's
    (tests)."""
    if not spool_only:
        from zabbix_sepa import collect as collector
        collect, collect_each = collect or collector.collect, collect_each or collector.collect_each
    sender_for = Senders(cfg, sender)
    outcomes = {}
    fresh = {}              # host -> paths of this run's spooled values
    direct = {}             # host -> [(key, value, clock)] that could not be spooled
    if spool_only:
        outcomes = {site.name: Outcome(site.name) for site in sites}
    else:
        def one(site):
            return _collect_and_spool(cfg, site, now, cadence, collect, collect_each)
        with ThreadPoolExecutor(max_workers=max(1, min(cfg.send_concurrency, len(sites)))) as pool:
            for site, (out, paths, unspooled) in zip(sites, pool.map(one, sites)):
                outcomes[site.name] = out
                if paths:
                    fresh[site.name] = paths
                if unspooled:
                    direct[site.name] = unspooled
    hosts = list(outcomes)
    if all_spooled:
        try:
            hosts += [h for h in spool_mod.hosts(cfg.spool_dir) if h not in outcomes]
        except SpoolError as exc:
            log.error("%s", exc)
            for out in outcomes.values():
                out.spool_error = True
    for host in hosts:
        out = outcomes.setdefault(host, Outcome(host))
        for key, value, clock in direct.get(host, ()):
            _send_direct(sender_for(host), out, key, value, clock)
        try:
            _flush(cfg, sender_for(host), HostSpool(cfg.spool_dir, host), out, fresh.get(host, set()),
                   others=[h for h in hosts if h != host])
        except SpoolError as exc:
            log.error("%s", exc)
            _spool_failed(out, str(exc))
            out.waiting = out.waiting or _waiting(HostSpool(cfg.spool_dir, host))
    return [outcomes[h] for h in hosts]


def _collect_and_spool(cfg, site, now, cadence, collect, collect_each):
    """One site's due documents, collected and spooled (sites run side by side, send_concurrency
    at a time): its Outcome, the paths of the values spooled, the values that could not be.
    A failure of any kind stays with the site: the others are collected and delivered."""
    out, paths, unspooled = Outcome(site.name), set(), []
    try:
        hs = HostSpool(cfg.spool_dir, site.name)
        cadences = _cadences(hs, site, cadence, now)
        docs = collect_each(site, now) if len(cadences) > 1 else {cadences[0]: collect(site, now, cadence=cadences[0])}
    except Exception as exc:            # noqa: BLE001 - isolate the site; the message says what
        log.error("%s: not collected: %s: %s", site.name, type(exc).__name__, exc)
        out.problem, out.not_collected = f"not collected: {type(exc).__name__}: {exc}", True
        return out, paths, unspooled
    for c, doc in docs.items():
        key, value = registry.master_key(c), json.dumps(doc, separators=(",", ":"))
        size = len(value.encode("utf-8"))
        if size > TEXT_LIMIT:
            log.warning("%s: the %s document is %d bytes; a Zabbix text item keeps at most %d (MySQL "
                        "history_text), so its end would be cut off: lower discovery.max_batches",
                        site.name, c, size, TEXT_LIMIT)
        try:
            paths.add(hs.put(key, value, doc["clock"]).path)
        except SpoolError as exc:
            log.error("%s; sending this value without a safety copy", exc)
            _spool_failed(out, f"{exc}; new value sent with no safety copy")
            unspooled.append((key, value, doc["clock"]))
            continue
        if c != registry.HOUR or doc.get("metrics", {}).get("sepa.collector.status") == 2:
            continue        # only the hour is due-gated; without the database, the next run tries again
        try:
            hs.mark_collected(c, doc["clock"])
        except SpoolError as exc:
            log.warning("%s; the next run collects the %s document again", exc, c)
    return out, paths, unspooled


def _cadences(hs, site, cadence, now):
    """The cadences to collect now: the one asked, or (due) the minute one and the hourly one
    when the hour's interval has turned since the last hourly document was spooled."""
    if cadence != DUE:
        return registry.document_cadences(cadence)
    from zabbix_sepa.collect import unix_clock
    clock = unix_clock(now, site.timezone) if now else int(time.time())
    due = [registry.MINUTE]
    interval = site.intervals[registry.HOUR]
    try:
        last = hs.last_collected(registry.HOUR)
    except SpoolError as exc:       # rather no hourly document than an hourly one every minute
        log.error("%s; the hourly document is not collected until it can be read", exc)
        return due
    if last is None or clock // interval != last // interval:
        due.append(registry.HOUR)
    return due


def _waiting(hs):
    try:
        return len(hs.peek())
    except SpoolError:
        return 0


def _spool_failed(out, text):
    out.spool_error = True
    out.problem = out.problem or text


def _send_direct(sender, out, key, value, clock):
    try:
        reply = acknowledged(sender.send([(out.host, key, value, clock, new_ns())]), 1, sender.where)
    except DeliveryError as exc:
        out.lost += 1
        log.error("%s: the value of clock %d was NOT delivered and could not be spooled: %s",
                  out.host, clock, exc)
        return
    _account(out, reply, 1, 0)


def _flush(cfg, sender, hs, out, fresh_paths, others):
    """Deliver the host's spool oldest first; then apply the bounds to what could not go."""
    if not hs.lock(LOCK_WAIT):
        out.waiting = len(hs.peek())
        out.problem = "another `zabbix-sepa send` is delivering this host's spool; left to it"
        log.warning("%s: %s", out.host, out.problem)
        return
    try:
        _deliver_all(sender, hs, out, fresh_paths)
        out.dropped += hs.enforce_bounds(time.time(), cfg.spool_max_age_hours * 3600,
                                         cfg.spool_max_bytes, _spool_bytes(cfg.spool_dir, others))
        out.waiting = len(hs.entries())
    finally:
        out.quarantined += hs.quarantined
        hs.unlock()


def _deliver_all(sender, hs, out, fresh_paths):
    seen = set()
    while True:         # again, for values spooled by runs that came while we sent
        entries = [e for e in hs.entries() if e.path not in seen]
        if not entries:
            return
        seen.update(e.path for e in entries)
        if not _deliver(sender, hs, out, entries, fresh_paths):
            return


def _spool_bytes(root, hosts):
    """What the spools of `hosts` hold (one that cannot be read counts 0: its own run says so)."""
    total = 0
    for host in hosts:
        try:
            total += HostSpool(root, host).size()
        except SpoolError:
            pass
    return total


def _prepare(sender, hs, host, chunk):
    """Read and encode one request's worth of entries (runs ahead of the network)."""
    loaded = [(e, hs.load(e)) for e in chunk]
    delivered = [e for e, rec in loaded if rec]
    values = [(host, rec.key, rec.value, rec.clock, rec.ns) for e, rec in loaded if rec]
    return delivered, (sender.encode(values) if values else None)


def _deliver(sender, hs, out, entries, fresh_paths):
    """Send `entries` oldest first, PER_CONNECTION per request; False when the server is not reached.

    While the server works on one request, a helper thread reads and encodes the
    next and another removes the files of the last acknowledged one: the order
    of requests stays strictly sequential, only our own disk work overlaps."""
    chunks = [entries[i:i + PER_CONNECTION] for i in range(0, len(entries), PER_CONNECTION)]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="spool") as pool:
        removals = []
        try:
            ahead = pool.submit(_prepare, sender, hs, out.host, chunks[0])
            for i in range(len(chunks)):
                delivered, payload = ahead.result()
                if i + 1 < len(chunks):
                    ahead = pool.submit(_prepare, sender, hs, out.host, chunks[i + 1])
                if payload is None:
                    continue
                try:
                    reply = acknowledged(sender.send_encoded(payload), len(delivered), sender.where)
                except DeliveryError as exc:
                    out.problem = str(exc)
                    for f in removals:
                        f.result()
                    log.warning("%s: %d value(s) not delivered, kept in the spool for the next run: %s",
                                out.host, len(hs.peek()), exc)
                    return False
                _account(out, reply, len(delivered), sum(e.path not in fresh_paths for e in delivered))
                removals.append(pool.submit(hs.remove, delivered))
        finally:
            for f in removals:
                f.result()
    return True


def _account(out, reply, count, earlier):
    out.sent += reply.processed
    out.earlier += min(earlier, reply.processed)
    if reply.failed:
        out.rejected += reply.failed
        keys = " and ".join(registry.MASTER_KEYS.values())
        log.error(
            "%s: the Zabbix server rejected %d of %d value(s) (processed %d): it knows no monitored "
            "host %r with the Zabbix trapper items %s. Check that the host exists and is "
            "enabled, that the template 'SEPA by Zabbix trapper' (of this version) is linked, that the "
            "items' 'Allowed hosts' admit this machine, and that the server's configuration cache has "
            "caught up (CacheUpdateFrequency; `zabbix_server -R config_cache_reload`). These values "
            "are dropped, not retried.", out.host, reply.failed, count, reply.processed, out.host, keys)
