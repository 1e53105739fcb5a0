"""A durable queue of values not yet acknowledged by Zabbix, one directory per host.

Every value is written here *before* it is sent (write to a temporary name,
fsync, rename, fsync the directory) and its file is removed only after the
server acknowledged it. A crash at any point therefore leaves the file or
the delivered value; if it leaves both (acknowledged, not yet removed), the
next run sends the same (host, key, clock, ns) again, which a Zabbix 6.0+
history table (primary key itemid, clock, ns) does not store twice.

Each value gets its own ns when it is spooled (the sub-second part of the
time it was spooled), kept in its file, so two values of the same second are
two values in Zabbix and a re-delivered one is still the same.

File names sort by clock, then ns: `<clock, 11 digits>-<ns, 9 digits>-<random>.json`
(files of older versions: `<clock>-<random>.json`, ns 0). Only regular files
are read, never waiting on a FIFO; an entry that cannot be read back (not a
regular file, damaged, not a record we wrote) is renamed `*.bad` and
reported, never deleted, and the others are delivered.
"""
import errno
import fcntl
import json
import logging
import os
import pwd
import re
import stat
import time
import uuid
from dataclasses import dataclass

log = logging.getLogger(__name__)

SUFFIX = ".json"
BAD = ".bad"
TMP_PREFIX = ".tmp-"
LOCK = ".lock"
NAME = re.compile(r"(\d{1,11})-[^/]*\.json")
MAX_CLOCK = 2**31 - 1           # Zabbix history clocks are 32-bit
MAX_NS = 10**9 - 1


class SpoolError(Exception):
    """The spool directory cannot be used; str() names it, the cause and the fix."""


@dataclass(frozen=True)
class Entry:
    path: str
    clock: int
    size: int


@dataclass(frozen=True)
class Record:
    key: str
    value: str
    clock: int
    ns: int


def new_ns():
    """A value's ns: the sub-second part of now, so values of one second keep their order."""
    return time.time_ns() % 10**9


def parse_record(data):
    """The Record in a spool file's bytes; ValueError (or RecursionError) says why it is none."""
    record = json.loads(data.decode("utf-8"))
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    key, value, clock, ns = (record.get(k) for k in ("key", "value", "clock", "ns"))
    ns = 0 if ns is None else ns            # files of versions before ns was kept
    if not isinstance(key, str) or not isinstance(value, str):
        raise ValueError("key or value is not text")
    for name, number, top in (("clock", clock, MAX_CLOCK), ("ns", ns, MAX_NS)):
        if type(number) is not int or not 0 <= number <= top:
            raise ValueError(f"{name} is not an integer of 0..{top}")
    return Record(key, value, clock, ns)


def user():
    """The name of the account this process runs as."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def ownership_fix(root):
    return f"was it made by a run as root? fix: chown -R {user()}: {root}"


def unusable(action, path, exc, root):
    """The SpoolError for an OSError; a permission problem names the user and the fix."""
    text = f"cannot {action} {path}: {exc.strerror or exc}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        text += f" (user {user()}); {ownership_fix(root)}"
    return SpoolError(text)


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_regular(path):
    """The bytes of `path` if it is a regular file (not following a symlink, never waiting
    on a FIFO); OSError or ValueError otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


class HostSpool:
    """The values waiting for one host, oldest first."""

    def __init__(self, root, host):
        self.root, self.host = root, host
        self.dir = os.path.join(root, host)   # host names are [0-9A-Za-z_. -], not . or ..
        self.quarantined = 0                  # entries renamed *.bad by this object
        self._lock_fd = None

    def _ensure(self):
        try:
            os.makedirs(self.dir, mode=0o750, exist_ok=True)
        except OSError as exc:
            raise unusable("create spool directory", self.dir, exc, self.root) from None

    def last_collected(self, cadence):
        """The clock of the last document of `cadence` spooled for this host, or None."""
        try:
            with open(os.path.join(self.dir, f".collected-{cadence}")) as fh:
                return int(fh.read().strip())
        except FileNotFoundError:
            return None
        except ValueError:
            return None                     # a torn write: collect again
        except OSError as exc:
            raise unusable("read", os.path.join(self.dir, f".collected-{cadence}"), exc, self.root) from None

    def mark_collected(self, cadence, clock):
        """Remember that a document of `cadence` with this clock is spooled (`send --cadence due`)."""
        path = os.path.join(self.dir, f".collected-{cadence}")
        try:
            with open(path + ".tmp", "w") as fh:
                fh.write(f"{int(clock)}\n")
            os.replace(path + ".tmp", path)
        except OSError as exc:
            raise unusable("write", path, exc, self.root) from None

    def redirect(self, group):
        """Where the host's values went last in proxy group `group` (address, port, revision),
        as remembered by remember_redirect; None when nothing (or another group) is."""
        path = os.path.join(self.dir, ".redirect")
        try:
            with open(path) as fh:
                saved = json.load(fh)
            if saved["group"] == group:
                return str(saved["address"]), int(saved["port"]), int(saved["revision"])
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError, OSError):
            pass                            # unreadable: start again from the group's proxies
        return None

    def remember_redirect(self, group, redirect):
        """Keep (address, port, revision) for redirect(); None forgets it. Best effort: a memory
        that cannot be written costs one redirect per run, nothing else."""
        path = os.path.join(self.dir, ".redirect")
        try:
            if redirect is None:
                os.unlink(path)
                return
            self._ensure()
            address, port, revision = redirect
            with open(path + ".tmp", "w") as fh:
                json.dump({"group": group, "address": address, "port": port, "revision": revision}, fh)
            os.replace(path + ".tmp", path)
        except (OSError, SpoolError):
            pass

    def put(self, key, value, clock, ns=None):
        """Store one value durably (with a new ns unless given); returns its Entry."""
        self._ensure()
        clock, ns = int(clock), new_ns() if ns is None else int(ns)
        record = json.dumps({"host": self.host, "key": key, "clock": clock, "ns": ns, "value": value},
                            separators=(",", ":")).encode("utf-8")
        name = f"{clock:011d}-{ns:09d}-{uuid.uuid4().hex}{SUFFIX}"
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
            raise unusable("write to spool directory", self.dir, exc, self.root) from None
        return Entry(final, clock, len(record))

    def _listing(self):
        """(name, path, lstat or None) of every spool-file name present, in name order."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise unusable("read spool directory", self.dir, exc, self.root) from None
        out = []
        for name in sorted(names):
            if not name.endswith(SUFFIX) or name.startswith("."):
                continue
            path = os.path.join(self.dir, name)
            try:
                st = os.lstat(path)
            except OSError:
                st = None           # removed meanwhile
            out.append((name, path, st))
        return out

    def entries(self):
        """Spooled values, oldest clock first (then ns); what is no spool file is quarantined.

        For the run that holds the lock; others use peek()."""
        out = []
        for name, path, st in self._listing():
            if st is None:
                continue
            if not stat.S_ISREG(st.st_mode):
                self._quarantine(path, "is not a regular file")
            elif not NAME.fullmatch(name):
                self._quarantine(path, "has a name that does not start with a clock")
            else:
                out.append(Entry(path, int(NAME.fullmatch(name).group(1)), st.st_size))
        return out

    def peek(self):
        """The spooled values as entries() sees them, without touching anything."""
        return [Entry(path, int(NAME.fullmatch(name).group(1)), st.st_size)
                for name, path, st in self._listing()
                if st is not None and stat.S_ISREG(st.st_mode) and NAME.fullmatch(name)]

    def load(self, entry):
        """The Record of an entry, or None after quarantining an unreadable file."""
        try:
            return parse_record(_read_regular(entry.path))
        except FileNotFoundError:
            return None     # delivered and removed by a run that held the lock before us
        except (OSError, ValueError, RecursionError) as exc:
            why = str(exc) if isinstance(exc, ValueError) and len(str(exc)) < 80 else exc.__class__.__name__
            self._quarantine(entry.path, f"cannot be read back ({why})")
            return None

    def remove(self, entries):
        try:
            for e in entries:
                try:
                    os.unlink(e.path)
                except FileNotFoundError:
                    pass
            if entries:
                _fsync_dir(self.dir)
        except OSError as exc:
            raise unusable("remove delivered values from", self.dir, exc, self.root) from None

    def _quarantine(self, path, why):
        bad = path + BAD
        try:
            os.rename(path, bad)
            self.quarantined += 1
        except OSError:
            bad = path
        log.error("spool %s: %s %s; kept as %s for inspection, not sent", self.host,
                  os.path.basename(path), why, bad)

    def bad_files(self):
        """How many quarantined (*.bad) files the directory holds."""
        try:
            return sum(name.endswith(BAD) for name in os.listdir(self.dir))
        except OSError:
            return 0

    def enforce_bounds(self, now, max_age_s, max_bytes, others_bytes=0):
        """Drop, oldest first, what is older than max_age_s or beyond max_bytes.

        Meant for values that could not be delivered: a dropped value is lost,
        and logged as an error. `others_bytes` is what the other hosts' spools
        hold: the byte bound is for the whole spool directory. Returns the
        number of values dropped."""
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
            log.error("spool %s: dropped %d value(s) older than spool_max_age_hours (%g h), "
                      "clocks %s..%s: LOST", self.host, len(too_old), max_age_s / 3600,
                      _iso(too_old[0].clock), _iso(too_old[-1].clock))
        if too_many:
            log.error("spool %s: dropped the %d oldest value(s), clocks %s..%s, to stay within "
                      "spool_max_bytes (%d): LOST", self.host, len(too_many), _iso(too_many[0].clock),
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
                    if os.lstat(path).st_mtime < now - 3600:
                        os.unlink(path)
                except OSError:
                    pass

    def size(self):
        return sum(e.size for e in self.peek())

    # -- one flusher at a time per host ------------------------------------------

    def lock(self, timeout):
        """Exclusive lock on this host's spool; False if another run holds it past `timeout`.

        SpoolError when the lock file cannot be opened (e.g. made by root)."""
        self._ensure()
        path = os.path.join(self.dir, LOCK)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o640)
        except OSError as exc:
            raise unusable("open the spool lock", path, exc, self.root) from None
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
        raise unusable("read spool directory", root, exc, root) from None
    return [name for name in sorted(names) if os.path.isdir(os.path.join(root, name))]


def not_writable(root):
    """The first path of the spool that this user cannot use as `send` needs, or None:
    the root and host directories (write, enter, list) and the hosts' lock files."""
    def denied(path, mode):
        try:
            return not os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)
        except OSError:
            return True
    if denied(root, os.R_OK | os.W_OK | os.X_OK):
        return root
    for host in hosts(root):
        directory = os.path.join(root, host)
        if denied(directory, os.R_OK | os.W_OK | os.X_OK):
            return directory
        lock = os.path.join(directory, LOCK)
        if os.path.lexists(lock) and denied(lock, os.R_OK | os.W_OK):
            return lock
    return None


def _iso(clock):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(clock))
