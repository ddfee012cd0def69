"""A container's log files as the shim leaves them: the current file P and
its rotated predecessors P.1 (newer) ... P.N (oldest), each line one entry
in docker's json-file format or the CRI format (told apart by their first
byte); and a Follower that holds P open and reads on through renames and
truncation. engine/logs.py builds `docker logs` on these."""
from __future__ import annotations

import json
import os
import re
import time
from typing import Iterator, NamedTuple

from minictr.engine import cri_log
from minictr.engine.cri_log import parse_rfc3339_ns


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


def decode(line: bytes) -> LogEntry | None:
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


def complete_lines(f) -> Iterator[bytes]:
    for line in f:
        if line.endswith(b"\n"):    # an unfinished last line is still being written
            yield line


class Follower:
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
                e = decode(line)
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
                for line in complete_lines(f):
                    e = decode(line)
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
