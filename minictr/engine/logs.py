"""Reading a container's log (what minictr-shim writes), across rotation.

A log is P plus its rotated predecessors P.1 (newer) ... P.N (oldest), in
one of two formats, told apart line by line (as the kubelet tells them):
docker's json-file, {"log": text, "stream": "stdout"|"stderr", "time":
RFC3339Nano}, and the CRI format, `TIME STREAM F|P CONTENT` (engine/cri_log.py).
Either way an entry is one message: a text without a final "\\n" is a
partial one (a line longer than 16 KiB is split; output that ended without
a "\\n"); printing the texts one after another restores the output.

    read_logs(path, tail=, since=, until=, timestamps=)   what is there now
    follow_logs(path, ..., stop=)                         and what comes next
    parse_since("10m" | "2026-12-01T10:00:00Z" | "1700000000.5")
"""
from __future__ import annotations

import calendar
import datetime
import json
import math
import os
import re
import time
from collections import deque
from typing import Callable, Iterable, Iterator, NamedTuple

from minictr.engine import cri_log
from minictr.engine.cri_log import parse_rfc3339_ns   # noqa: F401 (part of this module's interface)


class LogEntry(NamedTuple):
    stream: str          # "stdout" or "stderr"
    text: str | bytes    # with its "\n" unless a partial message; bytes from a CRI log (raw, as written)
    time: str            # RFC3339Nano as stored

    @property
    def ns(self) -> int:
        """Nanoseconds since the epoch."""
        return parse_rfc3339_ns(self.time)

    @property
    def epoch(self) -> float:
        return self.ns / 1e9

    @property
    def partial(self) -> bool:
        return not self.text.endswith(b"\n" if isinstance(self.text, bytes) else "\n")

    def stamped(self, ns: int) -> "LogEntry":
        """docker logs -t: the text after the entry's time."""
        if isinstance(self.text, bytes):
            return self._replace(text=format_timestamp(ns).encode() + b" " + self.text)
        return self._replace(text=f"{format_timestamp(ns)} {self.text}")


def format_timestamp(ns: int) -> str:
    """docker logs -t: RFC3339Nano with all nine digits, UTC."""
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def rotated_files(path: str) -> list[str]:
    """P.N ... P.1 that exist (oldest first); P itself not included."""
    d, base = os.path.split(path)
    pat = re.compile(re.escape(base) + r"\.(\d+)$")
    found = []
    try:
        names = os.listdir(d or ".")
    except FileNotFoundError:
        return []
    for name in names:
        m = pat.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(d, name)))
    return [p for _, p in sorted(found, reverse=True)]


def _decode(line: bytes) -> LogEntry | None:
    if line[:1].isdigit():    # a CRI record starts with its time; a json-file entry with "{"
        try:
            rec = cri_log.parse_line(line)
        except cri_log.CriLogError:
            return None       # damaged, as below
        return LogEntry(rec.stream, rec.data, rec.time)
    try:
        obj = json.loads(line)
        return LogEntry(obj.get("stream", "stdout"), obj["log"], obj["time"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None   # a damaged line (a crash mid-write): skip it, as readers of docker's logs must


def _lines_of(f) -> Iterator[bytes]:
    for line in f:
        if line.endswith(b"\n"):    # an unfinished last line is still being written
            yield line


def _filter(entries: Iterable[LogEntry], since: float | None, until: float | None,
            timestamps: bool) -> Iterator[LogEntry]:
    since_ns = None if since is None else int(since * 1e9)
    until_ns = None if until is None else int(until * 1e9)
    for e in entries:
        if since_ns is not None or until_ns is not None or timestamps:
            ns = e.ns
            if since_ns is not None and ns < since_ns:
                continue
            if until_ns is not None and ns > until_ns:
                return
            if timestamps:
                e = e.stamped(ns)
        yield e


def _tail(entries: Iterator[LogEntry], tail: int | None) -> Iterable[LogEntry]:
    if tail is None or tail < 0:
        return entries
    if tail == 0:
        for _ in entries:
            pass
        return []
    return deque(entries, maxlen=tail)


def _history(follower: "_Follower") -> Iterator[LogEntry]:
    """Rotated files older than the current one, then the current one (and
    whatever a rotation meanwhile put after it)."""
    for f in follower.older_files():
        with f:
            for line in _lines_of(f):
                e = _decode(line)
                if e:
                    yield e
    yield from follower.drain()


def read_logs(path: str, tail: int | None = None, since: float | None = None, until: float | None = None,
              timestamps: bool = False) -> Iterator[LogEntry]:
    """The entries of the log and its rotated files, oldest first. `tail`
    keeps the last N (then since/until filter them, as docker does);
    since/until are epoch seconds; timestamps prefixes each text with the
    entry's time as `docker logs -t` does."""
    follower = _Follower(path)
    try:
        yield from _filter(_tail(_history(follower), tail), since, until, timestamps)
    finally:
        follower.close()


def follow_logs(path: str, tail: int | None = None, since: float | None = None, until: float | None = None,
                timestamps: bool = False, stop: Callable[[], bool] = lambda: False,
                interval: float = 0.05) -> Iterator[LogEntry]:
    """read_logs, then new entries as they are written (following the file
    through rotation and truncation) until stop() is true and everything
    written up to then has been read; or until an entry is past `until`."""
    since_ns = None if since is None else int(since * 1e9)
    until_ns = None if until is None else int(until * 1e9)
    follower = _Follower(path)
    try:
        batch: Iterable[LogEntry] = _tail(_history(follower), tail)
        while True:
            for e in batch:
                ns = e.ns if since_ns is not None or until_ns is not None or timestamps else 0
                if since_ns is not None and ns < since_ns:
                    continue
                if until_ns is not None and ns > until_ns:
                    return
                yield e.stamped(ns) if timestamps else e
            stopping = stop()
            batch = list(follower.drain())
            if stopping and not batch:
                return
            if not batch:
                time.sleep(interval)
    finally:
        follower.close()


class _Follower:
    """The current log file, held open: new lines, then through renames."""

    def __init__(self, path: str):
        self.path = path
        self.buf = b""
        try:
            self.f = open(path, "rb")
        except FileNotFoundError:
            self.f = None

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None

    def _read_new(self) -> Iterator[LogEntry]:
        while True:
            chunk = self.f.read(65536)
            if not chunk:
                return
            data = self.buf + chunk
            lines = data.split(b"\n")
            self.buf = lines.pop()          # an unfinished line waits for the rest
            for line in lines:
                e = _decode(line)
                if e:
                    yield e

    def drain(self) -> Iterator[LogEntry]:
        if self.f is None:
            try:
                self.f = open(self.path, "rb")
            except FileNotFoundError:
                return
            self.buf = b""
        yield from self._read_new()
        mine = os.fstat(self.f.fileno())
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return      # between a rotation's rename and the new file: next time
        if st.st_ino == mine.st_ino:
            if st.st_size < self.f.tell():  # truncated (max-file 1): start over
                self.f.seek(0)
                self.buf = b""
                yield from self._read_new()
            return
        # Rotated: anything written to ours before the rename is read here;
        # then the files rotated after it, then the new current file.
        yield from self._read_new()
        between, current = self._chain(mine.st_ino)
        self.f.close()
        self.f, self.buf = current, b""
        for f in between:
            with f:
                for line in _lines_of(f):
                    e = _decode(line)
                    if e:
                        yield e
        if self.f is not None:
            yield from self._read_new()

    def older_files(self) -> list:
        """The rotated files older than the one we hold, oldest first, open."""
        if self.f is None:      # no current file when we looked: all rotated ones are history
            newer, current, older = self._snapshot(-1)
            self.f, self.buf = current, b""
            return newer + older
        newer, current, older = self._snapshot(os.fstat(self.f.fileno()).st_ino)
        for f in newer + ([current] if current is not None else []):
            f.close()   # drain() will meet them again as it follows
        return older

    def _chain(self, ours: int):
        """(files rotated after ours, oldest first; the current P or None)."""
        newer, current, older = self._snapshot(ours)
        for f in older:
            f.close()
        return newer, current

    def _snapshot(self, ours: int):
        """Open P, P.1, P.2 ... and keep the set only if no rotation moved a
        name meanwhile (the shim may be rotating as we look). Splits it at
        our file (inode `ours`): (newer than ours, oldest first; the current
        P unless it is ours, or None; older than ours, oldest first). If ours
        is not among them, all rotated files count as older when ours is
        still P, else as newer. Rotated files never change again."""
        for attempt in range(1000):
            # by number, not by the listing: a directory read racing a rename
            # can miss the renamed file (a rotation shifts every name by one)
            top = max((int(p.rsplit(".", 1)[1]) for p in rotated_files(self.path)), default=0)
            names = [self.path] + [f"{self.path}.{i}" for i in range(1, top + 3)]
            held: list[tuple[str, object]] = []
            for name in names:
                try:
                    held.append((name, open(name, "rb")))
                except FileNotFoundError:
                    held.append((name, None))

            def same(name, f) -> bool:
                try:
                    ino = os.stat(name).st_ino
                except FileNotFoundError:
                    return f is None
                return f is not None and ino == os.fstat(f.fileno()).st_ino
            # P missing: a rotation between its rename and the new file (a
            # moment); taking that view would lose our place in the chain
            gap = held[0][1] is None and top > 0 and attempt < 200
            if not gap and all(same(name, f) for name, f in held):
                files = [f for _, f in held[1:] if f is not None]      # P.1, P.2 ... newest first
                inos = [os.fstat(f.fileno()).st_ino for f in files]
                current = held[0][1]
                if current is not None and os.fstat(current.fileno()).st_ino == ours:
                    current.close()
                    return [], None, list(reversed(files))
                if ours in inos:
                    k = inos.index(ours)
                    files[k].close()
                    return list(reversed(files[:k])), current, list(reversed(files[k + 1:]))
                return list(reversed(files)), current, []
            for _, f in held:
                if f is not None:
                    f.close()
            time.sleep(0.001)
        return [], None, []


_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[Tt](\d\d)(?::(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?)?"
                   r"([Zz]|[+-]\d\d:\d\d)?$")


def _parse_duration(value: str) -> float | None:
    """Go's time.ParseDuration, in seconds; None if it is not one."""
    s = value
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if not s:
        return None
    total, pos = 0.0, 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def parse_since(value: str | float | int, now: float | None = None) -> float:
    """docker's --since/--until: a duration before now ("10m", "1h30m"), an
    RFC 3339 time or date (local time when it has no zone), or a Unix
    timestamp ("1700000000", "1700000000.123456789"). Epoch seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    value = value.strip()
    now = time.time() if now is None else now
    if value != "0":
        d = _parse_duration(value)
        if d is not None:
            return float(math.floor(now - d))   # whole seconds, as docker
    m = _DATE.match(value)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        h, mi, s = (int(m.group(i) or 0) for i in (4, 5, 6))
        frac = int((m.group(7) or "").ljust(9, "0") or 0) / 1e9
        try:
            datetime.datetime(y, mo, d, h, mi, s)     # ranges: no 13th month
        except ValueError:
            raise ValueError(f"failed to parse value as time or duration: {value!r}") from None
        zone = m.group(8)
        if zone is None:
            secs = time.mktime((y, mo, d, h, mi, s, 0, 0, -1))
        else:
            secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
            if zone not in ("Z", "z"):
                offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
                secs -= offset if zone[0] == "+" else -offset
        return secs + frac
    if "-" not in value and re.fullmatch(r"\d+(\.\d{1,9})?", value):
        return float(value)
    raise ValueError(f"failed to parse value as time or duration: {value!r}")
