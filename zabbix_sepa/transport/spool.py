"""A durable queue of values not yet acknowledged by Zabbix, one directory per host.

Every value is written here *before* it is sent (write to a temporary name,
fsync, rename, fsync the directory) and its file is removed only after the
server acknowledged it. A crash at any point therefore leaves the file or
the delivered value; if it leaves both (acknowledged, not yet removed), the
next run sends the same (host, key, clock, ns 0) again, which a Zabbix 6.0
history table (primary key itemid, clock, ns) does not store twice.

File names sort by clock: `<clock, 11 digits>-<random>.json`. A file that
cannot be read back is renamed `*.bad` and reported, never deleted.
"""
import errno
import fcntl
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass

log = logging.getLogger(__name__)

SUFFIX = ".json"
TMP_PREFIX = ".tmp-"
LOCK = ".lock"


class SpoolError(Exception):
    """The spool directory cannot be used; str() names it and the cause."""


@dataclass(frozen=True)
class Entry:
    path: str
    clock: int
    size: int


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class HostSpool:
    """The values waiting for one host, oldest first."""

    def __init__(self, root, host):
        self.host = host
        self.dir = os.path.join(root, host)   # host names are [0-9A-Za-z_. -], not . or ..
        self._lock_fd = None

    def _ensure(self):
        try:
            os.makedirs(self.dir, mode=0o750, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"cannot create spool directory {self.dir}: {exc.strerror}") from None

    def put(self, key, value, clock):
        """Store one value durably; returns its Entry."""
        self._ensure()
        record = json.dumps({"host": self.host, "key": key, "clock": int(clock), "value": value},
                            separators=(",", ":")).encode("utf-8")
        name = f"{int(clock):011d}-{uuid.uuid4().hex}{SUFFIX}"
        tmp = os.path.join(self.dir, TMP_PREFIX + name)
        final = os.path.join(self.dir, name)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                view = memoryview(record)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, final)
            _fsync_dir(self.dir)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise SpoolError(f"cannot write to spool directory {self.dir}: {exc.strerror}") from None
        return Entry(final, int(clock), len(record))

    def entries(self):
        """Spooled values, oldest clock first (ties in file-name order)."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SpoolError(f"cannot read spool directory {self.dir}: {exc.strerror}") from None
        out = []
        for name in sorted(names):
            if not name.endswith(SUFFIX) or name.startswith("."):
                continue
            path = os.path.join(self.dir, name)
            try:
                clock = int(name.split("-", 1)[0])
                size = os.stat(path).st_size
            except (ValueError, OSError):
                self._quarantine(path, "its name does not start with a clock")
                continue
            out.append(Entry(path, clock, size))
        return out

    def load(self, entry):
        """(key, value, clock) of an entry, or None after quarantining an unreadable file."""
        try:
            with open(entry.path, "rb") as fh:
                record = json.loads(fh.read().decode("utf-8"))
            return record["key"], record["value"], int(record["clock"])
        except FileNotFoundError:
            return None     # delivered and removed by a run that held the lock before us
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._quarantine(entry.path, f"cannot be read back ({exc.__class__.__name__})")
            return None

    def remove(self, entries):
        for e in entries:
            try:
                os.unlink(e.path)
            except FileNotFoundError:
                pass
        if entries:
            _fsync_dir(self.dir)

    def _quarantine(self, path, why):
        bad = path + ".bad"
        try:
            os.rename(path, bad)
        except OSError:
            bad = path
        log.error("spool %s: %s %s; kept as %s for inspection, not sent", self.host,
                  os.path.basename(path), why, bad)

    def enforce_bounds(self, now, max_age_s, max_bytes, others_bytes=0):
        """Drop, oldest first, what is older than max_age_s or beyond max_bytes.

        `others_bytes` is what the other hosts' spools hold: the byte bound is
        for the whole spool directory. Returns the number of values dropped."""
        entries = self.entries()
        too_old = [e for e in entries if e.clock < now - max_age_s]     # a prefix: sorted by clock
        keep = entries[len(too_old):]
        total = others_bytes + sum(e.size for e in keep)
        too_many = []
        while keep and total > max_bytes:
            e = keep.pop(0)
            too_many.append(e)
            total -= e.size
        if too_old:
            log.warning("spool %s: dropped %d value(s) older than spool_max_age_hours (%g h), "
                        "clocks %s..%s", self.host, len(too_old), max_age_s / 3600,
                        _iso(too_old[0].clock), _iso(too_old[-1].clock))
        if too_many:
            log.warning("spool %s: dropped the %d oldest value(s), clocks %s..%s, to stay within "
                        "spool_max_bytes (%d)", self.host, len(too_many), _iso(too_many[0].clock),
                        _iso(too_many[-1].clock), max_bytes)
        self.remove(too_old + too_many)
        self._clean_tmp(now)
        return len(too_old) + len(too_many)

    def _clean_tmp(self, now):
        """Half-written files of a run that died before its rename never reached Zabbix nor the
        spool; they are removed after an hour."""
        try:
            names = os.listdir(self.dir)
        except OSError:
            return
        for name in names:
            if name.startswith(TMP_PREFIX):
                path = os.path.join(self.dir, name)
                try:
                    if os.stat(path).st_mtime < now - 3600:
                        os.unlink(path)
                except OSError:
                    pass

    def size(self):
        return sum(e.size for e in self.entries())

    # -- one flusher at a time per host ------------------------------------------

    def lock(self, timeout):
        """Exclusive lock on this host's spool; False if another run holds it past `timeout`."""
        self._ensure()
        fd = os.open(os.path.join(self.dir, LOCK), os.O_RDWR | os.O_CREAT, 0o640)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_fd = fd
                return True
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.05)

    def unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def hosts(root):
    """Host directories present under the spool root (also of sites no longer configured)."""
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SpoolError(f"cannot read spool directory {root}: {exc.strerror}") from None
    return [name for name in sorted(names) if os.path.isdir(os.path.join(root, name))]


def _iso(clock):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(clock))
