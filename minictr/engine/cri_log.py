"""The CRI log format: what containerd's CRI (and minictr-shim with
`--log-format cri`) writes for a container and the kubelet reads back
(`kubectl logs`). One record per line:

    2016-10-06T00:17:09.669794202Z stdout F log content
    <RFC 3339 time> <stdout|stderr> <tag> <content>\\n

The content is raw bytes (no escaping: anything but "\\n", NULs and "\\r"
included) without the output line's "\\n". The tag is F (a full line) or P
(a fragment: the line went on past 16 KiB, or the stream ended without a
"\\n"); a tag may carry more ":"-separated tags after the first, which
readers ignore (the kubelet's forward compatibility). Printing each record's
`data` in order restores the output; `lines` joins fragments into whole
lines.

    parse_line(b"...")         one record, or CriLogError naming the line
    parse_records(lines)       the records of a file's lines
    lines(records)             whole lines of output, P fragments joined
    format_record(...)         one record's bytes, as the shim writes them

This module is the format only (no files followed, no rotation): the log
reader (engine/logs.py) uses it for containers whose log_format is "cri".
"""
from __future__ import annotations

import calendar
import re
from typing import Iterable, Iterator, NamedTuple

STREAMS = ("stdout", "stderr")
FULL, PARTIAL = "F", "P"
MAX_TIMESTAMP = 35        # 2016-10-06T00:17:09.669794202+00:00 is 35 bytes


class CriLogError(ValueError):
    """A line that is not a CRI log record; the message names the line."""

    def __init__(self, lineno: int | None, reason: str):
        self.lineno = lineno
        self.reason = reason
        super().__init__(f"line {lineno}: {reason}" if lineno is not None else reason)


class Record(NamedTuple):
    """One line of a CRI log file."""
    time: str            # RFC 3339 as stored
    stream: str          # "stdout" or "stderr"
    partial: bool        # P: the output line goes on in the stream's next record
    content: bytes       # without the output line's "\n"

    @property
    def ns(self) -> int:
        return parse_rfc3339_ns(self.time)

    @property
    def data(self) -> bytes:
        """What the container wrote: the content, with its "\\n" if full."""
        return self.content if self.partial else self.content + b"\n"


class Line(NamedTuple):
    """One line of output: a stream's P records and the F that ends them."""
    time: str            # the last record's (when the line was complete)
    stream: str
    content: bytes       # without the "\n"
    complete: bool       # False: the stream ended (or the input did) before a "\n"

    @property
    def data(self) -> bytes:
        return self.content + b"\n" if self.complete else self.content


_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d\d):(\d\d))$")
_RFC3339_GO = re.compile(_RFC3339.pattern.replace("[Tt]", "T").replace("[Zz]", "Z"))   # Go's: upper case
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def parse_rfc3339_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time (Go's RFC3339Nano,
    any number of fraction digits up to nine, Z or an offset)."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    if m.group(8):
        offset = int(m.group(9)) * 3600 + int(m.group(10)) * 60
        secs -= offset if m.group(8) == "+" else -offset
    frac = (m.group(7) or "").ljust(9, "0")
    return secs * 1_000_000_000 + int(frac or 0)


def _time_error(text: str) -> str | None:
    """Why text is not a time Go's time.Parse(RFC3339Nano) accepts, or None."""
    m = _RFC3339_GO.match(text)
    if not m:
        return "not RFC 3339 (as 2016-10-06T00:17:09.669794202Z)"
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= mo <= 12:
        return "month out of range"
    if not 1 <= d <= (_DAYS[mo - 1] if mo != 2 or leap else 28):
        return "day out of range"
    if h > 23 or mi > 59 or s > 59:
        return "time of day out of range"
    if m.group(8) and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return "time zone offset out of range"
    return None


def _shown(field: bytes, limit: int = 40) -> str:
    """A field for an error message: quoted, escaped, cut short."""
    return repr(field[:limit])[1:] + ("..." if len(field) > limit else "")


def parse_line(line: bytes, lineno: int | None = None) -> Record:
    """One record; `line` with or without its "\\n". Raises CriLogError,
    naming `lineno` when given, for anything the kubelet would not read
    (and for a first tag other than F or P)."""
    if line.endswith(b"\n"):
        line = line[:-1]
    if b"\n" in line:
        raise CriLogError(lineno, "a newline inside one record")
    stamp, sep, rest = line.partition(b" ")
    if not sep:
        raise CriLogError(lineno, "no space after the timestamp: not a CRI log record")
    if len(stamp) > MAX_TIMESTAMP or not stamp.isascii():
        raise CriLogError(lineno, f"bad timestamp {_shown(stamp)}: not RFC 3339")
    time = stamp.decode("ascii")
    why = _time_error(time)
    if why:
        raise CriLogError(lineno, f"bad timestamp {_shown(stamp)}: {why}")
    stream, sep, rest = rest.partition(b" ")
    if not sep:
        raise CriLogError(lineno, f"no space after the stream {_shown(stream)}: the log tag is missing")
    if stream not in (b"stdout", b"stderr"):
        raise CriLogError(lineno, f"unknown stream {_shown(stream)} (want stdout or stderr)")
    tags, sep, content = rest.partition(b" ")
    if not sep:
        raise CriLogError(lineno, f"no space after the log tag {_shown(tags)} (want 'F ' or 'P ' before the content)")
    tag = tags.split(b":", 1)[0]
    if tag not in (b"F", b"P"):
        raise CriLogError(lineno, f"unknown log tag {_shown(tags)} (want F or P)")
    return Record(time, stream.decode("ascii"), tag == b"P", content)


def parse_records(lines: Iterable[bytes], first_lineno: int = 1) -> Iterator[Record]:
    """The records of a file's lines (a binary file object, or its content
    split after each "\\n"). Raises CriLogError at the first bad line, and
    for a last line without its "\\n" (a record cut short)."""
    lineno = first_lineno - 1
    for lineno, line in enumerate(lines, first_lineno):
        if not line.endswith(b"\n"):
            raise CriLogError(lineno, "truncated: the last record has no newline")
        yield parse_line(line, lineno)


def lines(records: Iterable[Record], max_bytes: int | None = None) -> Iterator[Line]:
    """Whole lines of output, in the order they were completed: each
    stream's P records joined with the F that ends them. Fragments left at
    the end come as incomplete lines (the stream ended without a "\\n").
    With max_bytes, a line that grows past it is given out incomplete at
    that point, and the rest follows as another line (hostile input cannot
    make a reader hold unbounded memory)."""
    pending: dict[str, list[bytes]] = {}
    sizes: dict[str, int] = {}
    last_time: dict[str, str] = {}
    for rec in records:
        parts = pending.setdefault(rec.stream, [])
        parts.append(rec.content)
        sizes[rec.stream] = sizes.get(rec.stream, 0) + len(rec.content)
        last_time[rec.stream] = rec.time
        over = max_bytes is not None and sizes[rec.stream] > max_bytes
        if rec.partial and not over:
            continue
        del pending[rec.stream]
        sizes[rec.stream] = 0
        yield Line(rec.time, rec.stream, b"".join(parts), not rec.partial)
    for stream, parts in pending.items():      # in the order these lines began
        yield Line(last_time[stream], stream, b"".join(parts), False)


def format_record(time: str, stream: str, partial: bool, content: bytes) -> bytes:
    """One record's bytes, as minictr-shim and containerd write them."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}")
    if b"\n" in content:
        raise ValueError("a record's content cannot hold a newline")
    return b"%s %s %s %s\n" % (time.encode("ascii"), stream.encode(), b"P" if partial else b"F", content)
