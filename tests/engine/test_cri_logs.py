"""A container whose log_format is "cri" (ContainerSpec, the engine API; the
CLI has no flag for it): real busybox, real kernel. Its log file parses with
engine/cri_log.py into exactly what it printed, streams and order kept, and
`minictr logs` (-f, --tail, --since, -t) prints what it prints for the same
program in a json-file container."""
from __future__ import annotations

import re
import subprocess
import sys

from minictr.engine import cri_log, layout, shim

# Driven through the engine as a CRI server or kubelet will, in a process of
# its own (the CLI's environment: the test's root, no bridge needed).
# It prints the exit code from the shim's exit record (written after the log's
# last entry), not engine.wait's: that can say 137 for a moment between the
# init's death and the record (seen with json-file containers as well).
RUN = r"""
import sys
from minictr.engine import shim
from minictr.engine.containers import Engine
from minictr.engine.spec import ContainerSpec
root, name, fmt, tty, wait, script = sys.argv[1:]
engine = Engine(root)
try:
    spec = ContainerSpec(image="busybox", cmd=["sh", "-c", script], network="none", log_format=fmt,
                         tty=tty == "1")
    rec = engine.start(engine.create(spec, name=name))
    if wait == "1":
        print(shim.wait_exit(engine.paths(rec.id).run_dir, timeout=30).exit_code)
        engine.wait(rec)
    else:
        print(rec.id)
finally:
    engine.close()
"""

# Pauses between writes keep the order across the two pipes (the shim reads
# whichever is ready; with a pause only one is).
SCRIPT = ("echo out1; sleep 0.05; echo err1 >&2; sleep 0.05; printf 'tab\\there\\r\\n'; sleep 0.05; "
          "dd if=/dev/zero bs=1000 count=40 2>/dev/null | tr '\\0' x; echo; sleep 0.05; "
          "printf 'nul:\\000:end\\n' >&2; sleep 0.05; printf 'caf\\303\\251 \\342\\202\\254\\n'; sleep 0.05; "
          "echo err2 >&2; sleep 0.05; printf 'no newline at the end'")
LINES = [("stdout", b"out1\n"), ("stderr", b"err1\n"), ("stdout", b"tab\there\r\n"), ("stdout", b"x" * 40000 + b"\n"),
         ("stderr", b"nul:\x00:end\n"), ("stdout", "café €\n".encode()), ("stderr", b"err2\n"),
         ("stdout", b"no newline at the end")]
STDOUT = b"".join(data for stream, data in LINES if stream == "stdout")
STDERR = b"".join(data for stream, data in LINES if stream == "stderr")


def engine_run(mc, name: str, fmt: str, script: str, tty: bool = False, wait: bool = True) -> str:
    mc.leftovers.append(name)
    res = subprocess.run([sys.executable, "-c", RUN, str(mc.root), name, fmt, "1" if tty else "0",
                          "1" if wait else "0", script], env=mc.env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def logs_bytes(mc, *args: str, timeout: float = 30) -> tuple[bytes, bytes]:
    res = subprocess.run([str(mc.venv_minictr), "logs", *args], env=mc.env, capture_output=True, timeout=timeout)
    assert res.returncode == 0, res.stderr
    return res.stdout, res.stderr


def log_path(mc, name: str) -> str:
    return mc.inspect_container(name)["LogPath"]


def records_of(mc, name: str) -> list[cri_log.Record]:
    with open(log_path(mc, name), "rb") as f:
        return list(cri_log.parse_records(f))


def remove(mc, *names: str) -> None:
    mc("rm", "-f", *names, check=True)
    for name in names:
        mc.leftovers.remove(name)


def test_cri_log_reads_back_what_the_container_printed(mc):
    assert engine_run(mc, "crilog", "cri", SCRIPT) == "0"
    records = records_of(mc, "crilog")
    assert [(line.stream, line.data) for line in cri_log.lines(records)] == LINES
    assert b"".join(r.data for r in records if r.stream == "stdout") == STDOUT
    assert b"".join(r.data for r in records if r.stream == "stderr") == STDERR
    assert [(r.partial, len(r.content)) for r in records if r.content.startswith(b"x")] == \
        [(True, 16384), (True, 16384), (False, 40000 - 2 * 16384)]
    assert records[-1].partial and records[-1].content == b"no newline at the end"
    with open(log_path(mc, "crilog"), "rb") as f:
        assert not f.read(1).startswith(b"{")                       # not json-file
    assert logs_bytes(mc, "crilog") == (STDOUT, STDERR)
    remove(mc, "crilog")


def test_minictr_logs_prints_the_same_for_cri_and_json_file(mc):
    script = SCRIPT.replace("printf 'nul:\\000:end\\n'", "printf 'nul:\\000:end \\377 not utf-8\\n'")
    for name, fmt in (("twin-cri", "cri"), ("twin-json", "json-file")):
        assert engine_run(mc, name, fmt, script) == "0"
    with open(log_path(mc, "twin-json"), "rb") as f:
        assert f.read(1) == b"{"
    cri_out, cri_err = logs_bytes(mc, "twin-cri")
    json_out, json_err = logs_bytes(mc, "twin-json")
    assert cri_out == json_out == STDOUT
    # the one difference: invalid UTF-8, which json-file cannot hold (docker's \ufffd); CRI keeps the byte
    assert cri_err == STDERR.replace(b"end\n", b"end \xff not utf-8\n")
    assert json_err == STDERR.replace(b"end\n", "end \ufffd not utf-8\n".encode())
    for n in range(0, 12):          # --tail counts the same entries (a long line's fragments each)
        cri_tail, json_tail = logs_bytes(mc, "--tail", str(n), "twin-cri"), logs_bytes(mc, "--tail", str(n), "twin-json")
        assert cri_tail[0] == json_tail[0], n
        assert cri_tail[1].replace(b"\xff", "\ufffd".encode()) == json_tail[1], n
    cri_stamped, _ = logs_bytes(mc, "-t", "twin-cri")
    json_stamped, _ = logs_bytes(mc, "-t", "twin-json")
    for stamped in (cri_stamped, json_stamped):
        first, _, rest = stamped.partition(b" ")
        assert first.endswith(b"Z") and b"T" in first and rest.startswith(b"out1\n")
        assert cri_log.parse_rfc3339_ns(first.decode())
    stamp = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ")      # each entry's, fragments' too
    assert len(stamp.findall(cri_stamped)) == len(stamp.findall(json_stamped)) == 7
    assert stamp.sub(b"", cri_stamped) == stamp.sub(b"", json_stamped) == STDOUT
    assert logs_bytes(mc, "--since", "2000-01-01T00:00:00Z", "twin-cri") == (cri_out, cri_err)
    assert logs_bytes(mc, "--since", "2099-01-01T00:00:00Z", "twin-cri") == (b"", b"")
    assert logs_bytes(mc, "--until", "2000-01-01T00:00:00Z", "twin-cri") == (b"", b"")
    remove(mc, "twin-cri", "twin-json")


def test_logs_follow_a_running_cri_container(mc):
    cid = engine_run(mc, "critick", "cri", "for i in 1 2 3; do echo tick$i; echo tock$i >&2; sleep 0.3; done",
                     wait=False)
    out, err = logs_bytes(mc, "-f", "critick", timeout=20)
    assert (out, err) == (b"tick1\ntick2\ntick3\n", b"tock1\ntock2\ntock3\n")
    assert shim.wait_exit(layout.ContainerPaths(str(mc.root), cid).run_dir, timeout=20).exit_code == 0
    remove(mc, "critick")


def test_a_tty_container_writes_stdout_records(mc):
    """One stream through the pty (as containerd's CRI logs a tty): stdout,
    with the terminal's CR LF."""
    assert engine_run(mc, "critty", "cri", "printf 'a\\nb'; echo err >&2", tty=True) == "0"
    records = records_of(mc, "critty")
    assert {r.stream for r in records} == {"stdout"}
    assert b"".join(r.data for r in records) == b"a\r\nberr\r\n"
    remove(mc, "critty")
