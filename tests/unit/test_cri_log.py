"""minictr.engine.cri_log: the CRI log format (`TIME STREAM F|P CONTENT`)
parsed strictly, with errors naming the line; fragments joined into lines;
and engine.logs reading a CRI log as it reads a json-file one."""
from __future__ import annotations

import calendar
import json
import time

import pytest

from minictr.engine import cri_log, logs
from minictr.engine.cri_log import CriLogError, Line, Record, format_record, lines, parse_line, parse_records
from minictr.engine.errors import InvalidOption
from minictr.engine.shim import ShimOptions
from minictr.engine.spec import ContainerSpec

T = "2016-10-06T00:17:09.669794202Z"


# ---- one record ----------------------------------------------------------------

def test_parses_the_kubelet_example():
    assert parse_line(b"2016-10-06T00:17:09.669794202Z stdout F log content 1\n") == \
        Record(T, "stdout", False, b"log content 1")
    rec = parse_line(b"2016-10-06T00:17:09.669794203Z stderr P log content 2")
    assert (rec.stream, rec.partial, rec.content, rec.data) == ("stderr", True, b"log content 2", b"log content 2")
    assert rec.ns == calendar.timegm((2016, 10, 6, 0, 17, 9, 0, 0, 0)) * 10**9 + 669794203


@pytest.mark.parametrize("stamp", ["2016-10-06T00:17:09Z", "2016-10-06T00:17:09.6Z", "2016-10-06T02:17:09.5+02:00",
                                   "2016-10-05T19:17:09.123456789-05:00", "2016-02-29T23:59:59Z"])
def test_timestamps_go_accepts(stamp):
    assert parse_line(f"{stamp} stdout F x".encode()).time == stamp


def test_offsets_count():
    assert parse_line(b"2016-10-06T02:17:09+02:00 stdout F x").ns == parse_line(b"2016-10-06T00:17:09Z stdout F x").ns


def test_content_is_raw_bytes():
    """No escaping: spaces, tabs, NULs, CRs, backslashes, quotes, invalid UTF-8 and
    what looks like another record all stay as they are."""
    content = b'  two spaces\tand a tab \x00 nul \r cr \\ "q" \xff\xfe bad utf-8 ' + T.encode() + b" stdout F x"
    assert parse_line(f"{T} stdout F ".encode() + content + b"\n").content == content
    assert parse_line(f"{T} stdout F ".encode() + b"ends in cr\r\n").content == b"ends in cr\r"
    assert parse_line(f"{T} stdout F ".encode() + b"\n").content == b""     # an empty line
    assert parse_line(f"{T} stdout P ".encode()).data == b""


def test_extra_tags_are_ignored_as_the_kubelet_does():
    assert parse_line(f"{T} stdout P:future:tags x".encode()).partial
    assert not parse_line(f"{T} stdout F:x y".encode()).partial


@pytest.mark.parametrize("line, reason", [
    (b"", "no space after the timestamp"),
    (b"garbage", "no space after the timestamp"),
    (b"yesterday stdout F x", "bad timestamp 'yesterday'"),
    (b"2016-10-06 00:17:09Z stdout F x", "bad timestamp '2016-10-06'"),
    (b"2016-10-06T00:17:09 stdout F x", "bad timestamp '2016-10-06T00:17:09': not RFC 3339"),
    (b"2016-10-06t00:17:09z stdout F x", "not RFC 3339"),
    (b"2016-10-06T00:17:09.1234567890Z stdout F x", "not RFC 3339"),
    (b"2016-13-06T00:17:09Z stdout F x", "month out of range"),
    (b"2016-00-06T00:17:09Z stdout F x", "month out of range"),
    (b"2015-02-29T00:17:09Z stdout F x", "day out of range"),
    (b"2016-10-06T24:00:00Z stdout F x", "time of day out of range"),
    (b"2016-10-06T00:17:60Z stdout F x", "time of day out of range"),
    (b"2016-10-06T00:17:09+24:00 stdout F x", "offset out of range"),
    (T.encode() + b" stdin F x", "unknown stream 'stdin' (want stdout or stderr)"),
    (T.encode() + b" STDOUT F x", "unknown stream 'STDOUT'"),
    (T.encode() + b"  stdout F x", "unknown stream ''"),
    (T.encode() + b" stdout", "no space after the stream 'stdout': the log tag is missing"),
    (T.encode() + b" stdout F", "no space after the log tag 'F'"),
    (T.encode() + b" stdout hello", "no space after the log tag 'hello'"),
    (T.encode() + b" stdout X content", "unknown log tag 'X' (want F or P)"),
    (T.encode() + b" stdout f content", "unknown log tag 'f'"),
    (T.encode() + b" stdout  content", "unknown log tag ''"),
    (T.encode() + b" stdout F a\nb", "a newline inside one record"),
])
def test_malformed_records_say_why_and_where(line, reason):
    with pytest.raises(CriLogError) as exc:
        parse_line(line, 12)
    assert str(exc.value).startswith("line 12: ") and reason in str(exc.value)
    assert exc.value.lineno == 12 and isinstance(exc.value, ValueError)


def test_hostile_headers_are_shown_short_and_escaped():
    with pytest.raises(CriLogError) as exc:
        parse_line(b"\x00\x1b[31m\xff" + b"9" * 100000 + b" stdout F x", 1)
    message = str(exc.value)
    assert len(message) < 120 and "\\x00\\x1b[31m\\xff" in message and message.endswith("not RFC 3339")
    with pytest.raises(CriLogError, match="no space after the timestamp"):
        parse_line(b"\x00" * 1_000_000)
    with pytest.raises(CriLogError, match=r"unknown stream '\\x00std'"):
        parse_line(T.encode() + b" \x00std F x")
    with pytest.raises(CriLogError, match="bad timestamp"):
        parse_line("2016-10-06T00:17:09.66979420２Z stdout F x".encode())   # a non-ASCII digit


def test_error_without_a_line_number():
    with pytest.raises(CriLogError) as exc:
        parse_line(b"nonsense")
    assert exc.value.lineno is None and str(exc.value).startswith("no space")


# ---- a file's records ------------------------------------------------------------

def test_records_of_a_file_name_the_bad_line(tmp_path):
    p = tmp_path / "0.log"
    p.write_bytes(f"{T} stdout F one\n{T} stderr F two\n{T} stdot F three\n".encode())
    with open(p, "rb") as f:
        got = []
        with pytest.raises(CriLogError, match=r"^line 3: unknown stream 'stdot'"):
            for rec in parse_records(f):
                got.append(rec.content)
    assert got == [b"one", b"two"]


def test_a_cut_last_record_is_truncated():
    with pytest.raises(CriLogError, match=r"^line 2: truncated"):
        list(parse_records([f"{T} stdout F one\n".encode(), f"{T} stdout F tw".encode()]))
    with pytest.raises(CriLogError, match=r"^line 7: truncated"):
        list(parse_records([b"2016-10-06T00:1"], first_lineno=7))
    assert list(parse_records([])) == []


def test_records_split_only_at_newlines(tmp_path):
    """A CR, a NUL or a form feed is content (str.splitlines would cut there)."""
    p = tmp_path / "0.log"
    p.write_bytes(f"{T} stdout F a\rb\x00c\x0cd\x1ce\x85f\n".encode("latin-1"))
    with open(p, "rb") as f:
        (rec,) = parse_records(f)
    assert rec.content == "a\rb\x00c\x0cd\x1ce\x85f".encode("latin-1")


# ---- lines: fragments joined -------------------------------------------------------

def rec(stream, partial, content, t=T):
    return Record(t, stream, partial, content)


def test_fragments_join_per_stream_in_the_order_lines_complete():
    records = [rec("stdout", True, b"a" * 3), rec("stderr", False, b"err"), rec("stdout", True, b"b"),
               rec("stdout", False, b"c", t="2016-10-06T00:17:10Z"), rec("stderr", True, b"left"),
               rec("stdout", True, b"no newline")]
    assert list(lines(records)) == [
        Line(T, "stderr", b"err", True),
        Line("2016-10-06T00:17:10Z", "stdout", b"aaabc", True),   # the time of its last record
        Line(T, "stderr", b"left", False),                        # the streams ended without "\n"
        Line(T, "stdout", b"no newline", False),
    ]
    # each stream's output is the same whether read by record or by line
    for stream in ("stdout", "stderr"):
        assert b"".join(r.data for r in records if r.stream == stream) == \
            b"".join(line.data for line in lines(records) if line.stream == stream)


def test_max_bytes_bounds_what_a_reader_holds():
    """Endless P records (hostile or just huge output) come out in pieces."""
    records = [rec("stdout", True, b"x" * 10) for _ in range(1000)] + [rec("stdout", False, b"end")]
    got = list(lines(records, max_bytes=100))
    assert all(len(line.content) <= 110 for line in got)
    assert [line.complete for line in got[:-1]] == [False] * (len(got) - 1) and got[-1].complete
    assert b"".join(line.data for line in got) == b"x" * 10000 + b"end\n"


def test_format_record_round_trips_any_content():
    content = bytes(b for b in range(256) if b != 10)
    for partial in (False, True):
        line = format_record(T, "stderr", partial, content)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert parse_line(line) == Record(T, "stderr", partial, content)
    with pytest.raises(ValueError):
        format_record(T, "stdin", False, b"x")
    with pytest.raises(ValueError):
        format_record(T, "stdout", False, b"a\nb")


# ---- engine.logs reads a CRI log ---------------------------------------------------

T0 = calendar.timegm((2026, 12, 1, 10, 0, 0, 0, 0, 0))


def stamp(sec: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec))


def cri(path, entries) -> None:
    with open(path, "ab") as f:
        for stream, partial, content, sec in entries:
            f.write(format_record(stamp(sec), stream, partial, content))


def test_read_logs_of_a_cri_log_across_rotation(tmp_path):
    p = tmp_path / "ctr.log"
    cri(f"{p}.1", [("stdout", False, b"l0", T0), ("stdout", True, b"l1-", T0 + 1)])
    cri(p, [("stdout", False, b"end", T0 + 2), ("stderr", False, b"oops\x00\xff", T0 + 3),
            ("stdout", True, b"no newline", T0 + 4)])
    entries = list(logs.read_logs(str(p)))
    assert [(e.stream, e.text) for e in entries] == [
        ("stdout", b"l0\n"), ("stdout", b"l1-"), ("stdout", b"end\n"), ("stderr", b"oops\x00\xff\n"),
        ("stdout", b"no newline")]
    assert [e.partial for e in entries] == [False, True, False, False, True]
    assert [e.epoch for e in entries] == [T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4]
    assert [e.text for e in logs.read_logs(str(p), tail=2)] == [b"oops\x00\xff\n", b"no newline"]
    assert [e.text for e in logs.read_logs(str(p), since=T0 + 2, until=T0 + 3)] == [b"end\n", b"oops\x00\xff\n"]
    assert [e.text for e in logs.read_logs(str(p), timestamps=True)][0] == b"2026-12-01T10:00:00.000000000Z l0\n"


def test_read_logs_skips_damaged_cri_lines_as_damaged_json_ones(tmp_path):
    p = tmp_path / "ctr.log"
    p.write_bytes(f"{stamp(T0)} stdout F good\n{stamp(T0)} stdin F bad\n2026-13-01T00:00:00Z stdout F bad\n"
                  f"{stamp(T0)} stderr F also good\n{stamp(T0)} stdout F unfinish".encode())
    assert [e.text for e in logs.read_logs(str(p))] == [b"good\n", b"also good\n"]


def test_follow_logs_of_a_cri_log(tmp_path):
    p = tmp_path / "ctr.log"
    cri(p, [("stdout", False, b"first", T0)])
    followed = logs.follow_logs(str(p), interval=0.005, stop=lambda: True)
    assert [e.text for e in followed] == [b"first\n"]
    with open(p, "ab") as f:
        f.write(format_record(stamp(T0 + 1), "stderr", False, b"second")[:-1])   # not yet whole
    calls = []

    def stop():
        calls.append(1)
        if len(calls) == 3:
            with open(p, "ab") as f:
                f.write(b"\n")
        return len(calls) > 3
    assert [(e.stream, e.text) for e in logs.follow_logs(str(p), tail=0, stop=stop, interval=0.001)] == \
        [("stderr", b"second\n")]


def test_a_json_file_log_reads_as_before(tmp_path):
    """Told apart by the first byte: json-file entries are unchanged str texts."""
    p = tmp_path / "ctr-json.log"
    p.write_text(json.dumps({"log": "hi\n", "stream": "stdout", "time": stamp(T0)}) + "\n")
    (entry,) = logs.read_logs(str(p))
    assert entry == logs.LogEntry("stdout", "hi\n", stamp(T0)) and not entry.partial
    assert logs.parse_rfc3339_ns is cri_log.parse_rfc3339_ns


# ---- the per-container choice --------------------------------------------------------

def test_spec_defaults_to_json_file_and_old_records_load():
    assert ContainerSpec(image="busybox").log_format == "json-file"
    old = ContainerSpec(image="busybox").to_dict()
    del old["log_format"]                    # a record written before the field
    assert ContainerSpec.from_dict(old).log_format == "json-file"
    spec = ContainerSpec(image="busybox", log_format="cri")
    assert ContainerSpec.from_dict(json.loads(json.dumps(spec.to_dict()))).log_format == "cri"


def test_spec_refuses_an_unknown_log_format():
    with pytest.raises(InvalidOption, match="unknown log format 'journald': use one of json-file, cri"):
        ContainerSpec(image="busybox", log_format="journald")


def test_shim_argv_names_the_format_only_for_cri():
    plain = ShimOptions("/run/x", "/var/x.log").argv(pid_fd=3)
    assert "--log-format" not in plain     # json-file: the argv as it always was
    assert ShimOptions("/run/x", "/var/x.log", log_format="json-file").argv(pid_fd=3) == plain
    cri_argv = ShimOptions("/run/x", "/var/x.log", log_format="cri").argv(pid_fd=3)
    assert cri_argv[cri_argv.index("--log-format") + 1] == "cri"
    assert "--log-format" not in ShimOptions("/run/x", None, log_format="cri").argv(pid_fd=3)   # no log at all
