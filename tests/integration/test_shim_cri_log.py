"""minictr-shim --log-format cri with real processes, no containers: where
lines are cut (P/F at 16 KiB, as containerd), raw content, the end without
a newline, rotation, and a bad format refused."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from minictr.engine import cri_log, logs, shim
from minictr.engine.shim import ShimOptions

pytestmark = pytest.mark.skipif(not os.path.exists(shim.shim_path()),
                                reason="minictr-shim not built (python cshim/build.py)")

MAX = 16 * 1024


def run_shim(d: Path, program: str, **kw) -> list[cri_log.Record]:
    """Run `python -c program` under a cri-format shim; the log's records."""
    opts = ShimOptions(str(d), str(d / "ctr.log"), log_format="cri", **kw)
    proc = shim.start(opts, [sys.executable, "-c", program])
    try:
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with open(d / "ctr.log", "rb") as f:
        return list(cri_log.parse_records(f))


# The writer pauses inside lines, so the shim meets them cut across reads.
WRITER = r"""
import os, sys, time
def w(fd, data, pause=0.0):
    os.write(fd, data)
    time.sleep(pause)
w(1, b"out1\n", 0.02)
w(2, b"err1\n", 0.02)
w(1, b"a" * 16384 + b"\n")                 # exactly the limit: one F
w(1, b"b" * 16385 + b"\n")                 # one byte more: P, then F of one byte
w(1, b"c" * 40000, 0.05)                   # P P, then the rest waits for its newline
w(1, b"\n")
w(1, b"d" * 16384, 0.05)                   # a full buffer, then the newline alone: one F
w(1, b"\n")
w(1, b"e" * 16384, 0.05)                   # a full buffer, then more content: P
w(1, b"e\n")
w(1, b"raw \x00 \xff\xfe \\ \" \r\n")    # nothing escaped, the CR kept
w(2, b"half a line", 0.05)                 # finished in a later read
w(2, b", the rest\n")
w(1, b"\n")                                # an empty line
w(1, b"no newline at the end")
"""

STDOUT = (b"out1\n" + b"a" * 16384 + b"\n" + b"b" * 16385 + b"\n" + b"c" * 40000 + b"\n" + b"d" * 16384 + b"\n"
          + b"e" * 16385 + b"\n" + b"raw \x00 \xff\xfe \\ \" \r\n" + b"\n" + b"no newline at the end")
STDERR = b"err1\n" + b"half a line, the rest\n"


def test_cri_records_cut_as_containerd_and_read_back_exactly(tmp_path):
    records = run_shim(tmp_path, WRITER)
    assert b"".join(r.data for r in records if r.stream == "stdout") == STDOUT
    assert b"".join(r.data for r in records if r.stream == "stderr") == STDERR
    shape = [(r.stream, "P" if r.partial else "F", len(r.content)) for r in records]
    assert shape == [
        ("stdout", "F", 4), ("stderr", "F", 4),
        ("stdout", "F", MAX),
        ("stdout", "P", MAX), ("stdout", "F", 1),
        ("stdout", "P", MAX), ("stdout", "P", MAX), ("stdout", "F", 40000 - 2 * MAX),
        ("stdout", "F", MAX),
        ("stdout", "P", MAX), ("stdout", "F", 1),
        ("stdout", "F", len(b"raw \x00 \xff\xfe \\ \" \r")),
        ("stderr", "F", len(b"half a line, the rest")),
        ("stdout", "F", 0),
        ("stdout", "P", len(b"no newline at the end")),      # the stream ended without "\n"
    ]
    assert [(line.stream, line.data) for line in cri_log.lines(records)] == [
        ("stdout", b"out1\n"), ("stderr", b"err1\n"), ("stdout", b"a" * 16384 + b"\n"),
        ("stdout", b"b" * 16385 + b"\n"), ("stdout", b"c" * 40000 + b"\n"), ("stdout", b"d" * 16384 + b"\n"),
        ("stdout", b"e" * 16385 + b"\n"), ("stdout", b"raw \x00 \xff\xfe \\ \" \r\n"),
        ("stderr", b"half a line, the rest\n"), ("stdout", b"\n"), ("stdout", b"no newline at the end")]
    # times: RFC 3339 in UTC, not going backwards
    stamps = [r.ns for r in records]
    assert stamps == sorted(stamps) and all(r.time.endswith("Z") for r in records)
    # the engine's reader gives the same bytes
    entries = list(logs.read_logs(str(tmp_path / "ctr.log")))
    assert b"".join(e.text for e in entries if e.stream == "stdout") == STDOUT
    assert b"".join(e.text for e in entries if e.stream == "stderr") == STDERR


def test_both_streams_end_without_a_newline(tmp_path):
    records = run_shim(tmp_path, "import os; os.write(1, b'out'); os.write(2, b'err'); os.write(1, b' more')")
    assert sorted((r.stream, r.partial, r.content) for r in records) == [
        ("stderr", True, b"err"), ("stdout", True, b"out more")]


def test_a_flood_of_short_lines(tmp_path):
    records = run_shim(tmp_path, "import sys\nfor i in range(20000): print(i)")
    assert [r.content for r in records] == [str(i).encode() for i in range(20000)]
    assert not any(r.partial for r in records)


def test_cri_log_rotates_as_json_file(tmp_path):
    records = run_shim(tmp_path, "import sys\nfor i in range(1, 301): print(i)", log_max_size=1000, log_max_file=3)
    p = tmp_path / "ctr.log"
    rotated = [Path(f"{p}.1"), Path(f"{p}.2")]
    assert all(f.exists() for f in rotated) and not Path(f"{p}.3").exists()
    for f in rotated:                                  # each file whole records, about max-size
        with open(f, "rb") as fh:
            assert list(cri_log.parse_records(fh))
        assert 1000 <= f.stat().st_size < 1100
    numbers = [int(e.text) for e in logs.read_logs(str(p))]
    assert numbers == list(range(numbers[0], 301)) and numbers[0] > 1     # the oldest went
    assert [r.content for r in records] == [str(n).encode() for n in range(numbers[-1] - len(records) + 1, 301)]


def test_an_unknown_log_format_is_refused(tmp_path):
    opts = ShimOptions(str(tmp_path), str(tmp_path / "ctr.log"), log_format="syslog")
    with pytest.raises(shim.ShimError, match="--log-format: 'syslog' is neither 'json-file' nor 'cri'"):
        shim.start(opts, ["true"])
    assert not (tmp_path / "ctr.log").exists()
