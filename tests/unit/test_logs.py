"""minictr.engine.logs: docker json-file logs read across rotation, followed
through rotation and truncation, and docker's --since/--until values."""
from __future__ import annotations

import calendar
import json
import os
import threading
import time

import pytest

from minictr.engine import logs
from minictr.engine.logs import LogEntry, follow_logs, parse_since, read_logs

T0 = calendar.timegm((2026, 12, 1, 10, 0, 0, 0, 0, 0))


def stamp(sec: float, ns: int = 0) -> str:
    whole = int(sec)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    nanos = ns or int(round((sec - whole) * 1e9))
    return base + (f".{nanos:09d}".rstrip("0") if nanos else "") + "Z"


def line(text: str, sec: float, stream: str = "stdout") -> str:
    return json.dumps({"log": text, "stream": stream, "time": stamp(sec)}) + "\n"


def write(path, entries) -> None:
    with open(path, "a") as f:
        for text, sec, *stream in entries:
            f.write(line(text, sec, *stream))


@pytest.fixture
def rotated(tmp_path):
    """log.2 (oldest) .. log.1 .. log: lines 0-8, one per second."""
    p = tmp_path / "ctr-json.log"
    write(f"{p}.2", [(f"l{i}\n", T0 + i) for i in range(0, 3)])
    write(f"{p}.1", [(f"l{i}\n", T0 + i) for i in range(3, 6)])
    write(p, [(f"l{i}\n", T0 + i, "stderr" if i == 7 else "stdout") for i in range(6, 9)])
    return p


def texts(entries):
    return [e.text for e in entries]


def test_reads_rotated_files_oldest_first(rotated):
    entries = list(read_logs(str(rotated)))
    assert texts(entries) == [f"l{i}\n" for i in range(9)]
    assert entries[7].stream == "stderr" and entries[0].stream == "stdout"
    assert entries[0].epoch == T0 and entries[0].time == stamp(T0)


def test_rotation_numbers_sort_numerically(tmp_path):
    p = tmp_path / "log"
    for n in range(11, 0, -1):                        # log.11 oldest ... log.1 newest
        write(f"{p}.{n}", [(f"f{n}\n", T0 + 100 - n)])
    write(p, [("now\n", T0 + 100)])
    assert texts(read_logs(str(p))) == [f"f{n}\n" for n in range(11, 0, -1)] + ["now\n"]


def test_tail_spans_files(rotated):
    assert texts(read_logs(str(rotated), tail=4)) == ["l5\n", "l6\n", "l7\n", "l8\n"]
    assert texts(read_logs(str(rotated), tail=0)) == []
    assert len(list(read_logs(str(rotated), tail=100))) == 9


def test_since_until(rotated):
    assert texts(read_logs(str(rotated), since=T0 + 4, until=T0 + 6)) == ["l4\n", "l5\n", "l6\n"]
    # tail first, then since (as docker's reader)
    assert texts(read_logs(str(rotated), tail=2, since=T0 + 2)) == ["l7\n", "l8\n"]
    assert texts(read_logs(str(rotated), tail=5, since=T0 + 6)) == ["l6\n", "l7\n", "l8\n"]


def test_nanosecond_times_and_timestamps(tmp_path):
    p = tmp_path / "log"
    with open(p, "w") as f:
        f.write(json.dumps({"log": "a\n", "stream": "stdout", "time": "2026-12-01T10:00:00.123456789Z"}) + "\n")
        f.write(json.dumps({"log": "b\n", "stream": "stdout", "time": "2026-12-01T10:00:01.5Z"}) + "\n")
        f.write(json.dumps({"log": "c\n", "stream": "stdout", "time": "2026-12-01T12:00:02+02:00"}) + "\n")
    entries = list(read_logs(str(p)))
    assert entries[0].ns == T0 * 10**9 + 123456789
    assert entries[2].epoch == T0 + 2
    # docker logs -t: RFC3339Nano with all nine digits
    assert texts(read_logs(str(p), timestamps=True)) == [
        "2026-12-01T10:00:00.123456789Z a\n", "2026-12-01T10:00:01.500000000Z b\n",
        "2026-12-01T10:00:02.000000000Z c\n"]


def test_partial_messages_and_damaged_lines(tmp_path):
    p = tmp_path / "log"
    write(p, [("x" * 16384, T0), ("y\n", T0 + 0.5)])
    with open(p, "a") as f:
        f.write("{not json}\n")
        f.write('{"log":"no time"}\n')
        write_line = line("ok\n", T0 + 1)
        f.write(write_line)
        f.write(line("unfinished\n", T0 + 2)[:20])    # still being written
    entries = list(read_logs(str(p)))
    assert texts(entries) == ["x" * 16384, "y\n", "ok\n"]
    assert entries[0].partial and not entries[1].partial


def test_missing_log_is_empty(tmp_path):
    assert list(read_logs(str(tmp_path / "none"))) == []


def test_follow_through_rotation(tmp_path):
    p = tmp_path / "log"
    write(p, [("old\n", T0)])
    done = threading.Event()

    def writer():
        n = 0
        for rnd in range(5):
            for _ in range(20):
                write(p, [(f"{n}\n", T0 + 1 + n)])
                n += 1
                if n % 7 == 0:
                    time.sleep(0.01)
            # rotate as the shim does: log.1 -> log.2, log -> log.1, new log
            if os.path.exists(f"{p}.1"):
                os.replace(f"{p}.1", f"{p}.2")
            os.replace(p, f"{p}.1")
            open(p, "w").close()
        write(p, [("last\n", T0 + 500)])
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    got = texts(follow_logs(str(p), stop=done.is_set, interval=0.005))
    t.join()
    assert got == ["old\n"] + [f"{i}\n" for i in range(100)] + ["last\n"]


def test_follow_truncation_and_partial_writes(tmp_path):
    p = tmp_path / "log"
    write(p, [("a\n", T0)])
    done = threading.Event()

    def writer():
        time.sleep(0.05)
        whole = line("b\n", T0 + 1)
        with open(p, "a") as f:                 # a line in two writes
            f.write(whole[:10])
            f.flush()
            time.sleep(0.05)
            f.write(whole[10:])
        time.sleep(0.05)
        with open(p, "r+") as f:                # max-file 1: the shim truncates
            f.truncate(0)
        time.sleep(0.05)
        write(p, [("c\n", T0 + 2)])
        time.sleep(0.05)
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    got = texts(follow_logs(str(p), stop=done.is_set, interval=0.005))
    t.join()
    assert got == ["a\n", "b\n", "c\n"]


def test_follow_tail_zero_and_until(tmp_path):
    p = tmp_path / "log"
    write(p, [("before\n", T0)])
    stop = threading.Event()

    def writer():
        time.sleep(0.05)
        write(p, [("new\n", T0 + 1), ("past\n", T0 + 10), ("never\n", T0 + 11)])

    t = threading.Thread(target=writer)
    t.start()
    # until ends the follow by itself at the first later entry
    got = texts(follow_logs(str(p), tail=0, until=T0 + 5, stop=stop.is_set, interval=0.005))
    t.join()
    assert got == ["new\n"]


def test_follow_waits_for_the_file(tmp_path):
    p = tmp_path / "log"
    done = threading.Event()

    def writer():
        time.sleep(0.05)
        write(p, [("born\n", T0)])
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    assert texts(follow_logs(str(p), stop=done.is_set, interval=0.005)) == ["born\n"]
    t.join()


NOW = T0 + 0.75


@pytest.mark.parametrize("value, expected", [
    ("10m", T0 - 600),
    ("1h30m", T0 - 5400),
    ("1.5h", T0 - 5400),
    ("90s", T0 - 90),
    ("300ms", T0),                      # whole seconds, as docker
    ("2026-12-01T10:00:00Z", T0),
    ("2026-12-01T10:00:00.25Z", T0 + 0.25),
    ("2026-12-01T12:00:00+02:00", T0),
    ("2026-12-01T09:00:00-01:00", T0),
    ("1764583200", 1764583200.0),
    ("1764583200.123456789", 1764583200.123456789),
    ("0", 0.0),
    (1764583200, 1764583200.0),
])
def test_parse_since(value, expected):
    assert parse_since(value, now=NOW) == pytest.approx(expected)


def test_parse_since_local_times(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert parse_since("2026-12-01") == T0 - 10 * 3600
        assert parse_since("2026-12-01T10:00") == T0
        assert parse_since("2026-12-01T10") == T0
        assert parse_since("2026-12-01T10:00:00") == T0
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("value", ["yesterday", "10x", "2026-13-45", "12:00", ""])
def test_parse_since_rejects(value):
    with pytest.raises(ValueError, match="failed to parse value as time or duration"):
        parse_since(value)


def test_entry_is_a_triple():
    e = LogEntry("stdout", "hi\n", "2026-12-01T10:00:00Z")
    stream, text, when = e
    assert (stream, text, when) == ("stdout", "hi\n", "2026-12-01T10:00:00Z")
    assert logs.format_timestamp(e.ns) == "2026-12-01T10:00:00.000000000Z"
