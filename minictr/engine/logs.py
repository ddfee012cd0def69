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
import math
import re
import time
from collections import deque
from typing import Callable, Iterable, Iterator

from minictr.engine.cri_log import parse_rfc3339_ns   # noqa: F401 (part of this module's interface)
from minictr.engine.log_files import (LogEntry, Follower, complete_lines, decode, format_timestamp,  # noqa: F401
                                      rotated_files)


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


def _history(follower: "Follower") -> Iterator[LogEntry]:
    """Rotated files older than the current one, then the current one (and
    whatever a rotation meanwhile put after it)."""
    for f in follower.older_files():
        with f:
            for line in complete_lines(f):
                e = decode(line)
                if e:
                    yield e
    yield from follower.drain()


def read_logs(path: str, tail: int | None = None, since: float | None = None, until: float | None = None,
              timestamps: bool = False) -> Iterator[LogEntry]:
    """The entries of the log and its rotated files, oldest first. `tail`
    keeps the last N (then since/until filter them, as docker does);
    since/until are epoch seconds; timestamps prefixes each text with the
    entry's time as `docker logs -t` does."""
    follower = Follower(path)
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
    follower = Follower(path)
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
