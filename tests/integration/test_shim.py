"""minictr-shim (cshim/monitor_*.c) with real processes, no containers:
run mode (the shim forks the command), adopt mode (a launcher forks the
"container" then becomes the shim), tty mode, the attach protocol, the
json-file log, the exit record and the exit command."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from minictr.engine import attach, logs, shim
from minictr.engine.attach import AttachClient
from minictr.engine.shim import EXIT, STDERR, STDOUT, ShimOptions
from support.waiting import wait_for

pytestmark = pytest.mark.skipif(not os.path.exists(shim.shim_path()),
                                reason="minictr-shim not built (python cshim/build.py)")


def wait_ran(marker: Path) -> None:
    """The exit command writes "ran" into the marker (created before written)."""
    wait_for(lambda: marker.exists() and marker.read_text() == "ran\n", what="the exit command")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    return d


class Started:
    """A run-mode shim; killed at the end of the test if still there."""
    def __init__(self, proc, d: Path):
        self.proc, self.dir = proc, d

    def wait(self, timeout=10):
        return self.proc.wait(timeout=timeout)

    def log(self):
        return list(logs.read_logs(str(self.dir / "log.json")))


@pytest.fixture
def started():
    procs = []

    def start(d: Path, command, marker: Path | None = None, **kw):
        opts_kw = {k: kw.pop(k) for k in ("log_max_size", "log_max_file", "oom_file", "terminal", "stdin")
                   if k in kw}
        opts = ShimOptions(str(d), str(d / "log.json"),
                           exit_command=["sh", "-c", f"echo ran > {marker}"] if marker else [], **opts_kw)
        s = Started(shim.start(opts, command, **kw), d)
        procs.append(s.proc)
        return s
    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def frames_until_exit(client, timeout=10):
    out = []
    for kind, data in client.frames(timeout=timeout):
        out.append((kind, data))
    return out


# ---- run mode ---------------------------------------------------------------

def test_run_mode_logs_exit_and_exit_command(run_dir, tmp_path, started):
    marker = tmp_path / "marker"
    s = started(run_dir, ["sh", "-c", "echo out; echo err >&2; exit 3"], marker=marker)
    assert s.wait() == 0
    rec = shim.read_exit(str(run_dir))
    assert rec.exit_code == 3 and rec.signal is None and not rec.oom_killed and not rec.create_failed
    assert rec.finished_at.endswith("Z") and rec.started_at
    entries = s.log()
    assert sorted((e.stream, e.text) for e in entries) == [("stderr", "err\n"), ("stdout", "out\n")]
    for line in (run_dir / "log.json").read_text().splitlines():
        obj = json.loads(line)
        assert set(obj) == {"log", "stream", "time"}
        logs.parse_rfc3339_ns(obj["time"])
    wait_ran(marker)
    # the shim tidies its socket and pid file; the record stays
    assert not (run_dir / "attach").exists() and not (run_dir / "shim.pid").exists()


def test_sigkill_is_137(run_dir, started):
    s = started(run_dir, ["sh", "-c", "kill -9 $$"])
    s.wait()
    rec = shim.read_exit(str(run_dir))
    assert (rec.exit_code, rec.signal) == (137, 9)


def test_shim_pid_file_while_running(run_dir, started):
    s = started(run_dir, ["sleep", "30"])
    assert int((run_dir / "shim.pid").read_text()) == s.proc.pid
    assert shim.read_exit(str(run_dir)) is None
    kids = Path(f"/proc/{s.proc.pid}/task/{s.proc.pid}/children").read_text().split()
    os.kill(int(kids[0]), signal.SIGTERM)
    s.wait()
    assert shim.read_exit(str(run_dir)).exit_code == 128 + signal.SIGTERM


def test_json_escaping_and_partial_messages(run_dir, started):
    script = ("import sys; w = sys.stdout.write; w('a\\tb<&>\\x1b\\\"\\\\ \\u00e9 \\u2028\\n');"
              "sys.stdout.flush(); sys.stdout.buffer.write(b'bad \\xff\\n'); w('x' * 40000 + '\\n'); w('tail')")
    s = started(run_dir, [sys.executable, "-c", script])
    s.wait()
    raw = (run_dir / "log.json").read_text().splitlines()
    assert raw[0].startswith('{"log":"a\\u0009b\\u003c\\u0026\\u003e\\u001b\\"\\\\ \u00e9 \\u2028\\n"')
    texts = [e.text for e in s.log()]
    assert texts[0] == 'a\tb<&>\x1b"\\ \u00e9 \u2028\n'
    assert texts[1] == "bad \ufffd\n"
    # docker splits lines at 16 KiB: partial messages carry no "\n"
    assert [len(t) for t in texts[2:5]] == [16384, 16384, 40001 - 32768]
    assert "".join(texts[2:5]) == "x" * 40000 + "\n"
    assert texts[5] == "tail"   # an unfinished last line is written at the end


def test_grandchild_holding_the_pipe_does_not_hold_the_exit(run_dir, started):
    s = started(run_dir, ["sh", "-c", "sleep 5 & echo started; exit 2"])
    t0 = time.monotonic()
    s.wait()
    assert time.monotonic() - t0 < 3.5
    assert shim.read_exit(str(run_dir)).exit_code == 2
    assert [e.text for e in s.log()] == ["started\n"]


def test_no_output_lost_and_slow_client_dropped(run_dir, started):
    """A client that never reads must not slow the container or lose log lines."""
    s = started(run_dir, ["sh", "-c", "read go; seq 1 200000"], stdin=True)
    lazy = AttachClient(str(run_dir))
    with AttachClient(str(run_dir)) as c:
        c.send_stdin(b"go\n")
    s.wait(timeout=30)
    assert shim.read_exit(str(run_dir)).exit_code == 0
    texts = [e.text for e in s.log()]
    assert texts == [f"{i}\n" for i in range(1, 200001)]
    # the lazy client was dropped: what it got ends without the exit frame
    got = list(lazy.frames(timeout=5))
    assert got and got[-1][0] == STDOUT
    assert sum(len(d) for _, d in got) < len("".join(texts))
    lazy.close()


def test_oom_counter_rise(run_dir, tmp_path, started):
    events = tmp_path / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 0\noom 0\noom_kill 2\n")
    s = started(run_dir, ["sh", "-c", "read x"], stdin=True, oom_file=str(events))
    events.write_text("low 0\nhigh 0\nmax 1\noom 1\noom_kill 3\n")
    with AttachClient(str(run_dir)) as c:
        c.close_stdin()
    s.wait()
    assert shim.read_exit(str(run_dir)).oom_killed


def test_exit_delay(run_dir, started):
    s = started(run_dir, ["true"], exit_delay_ms=400)
    rec = shim.wait_exit(str(run_dir), timeout=10)
    assert rec.exit_code == 0
    t0 = time.monotonic()
    s.wait()
    assert time.monotonic() - t0 > 0.2


def test_run_mode_runtime_create_and_pid_file(run_dir, tmp_path, started):
    """`--runtime-pid-file`: ARGV is a runtime's create; the container is the
    process it leaves behind (reparented to the shim, a subreaper)."""
    pidfile = tmp_path / "init.pid"
    # (a background job's stdin would be /dev/null without the explicit 3<&0)
    runtime = f"exec 3<&0; (read x <&3; echo from-init; exit 6) & echo $! > {pidfile}; exit 0"
    s = started(run_dir, ["sh", "-c", runtime], runtime_pid_file=str(pidfile), stdin=True)
    init = int(pidfile.read_text())
    assert alive(init) and shim.read_exit(str(run_dir)) is None
    with AttachClient(str(run_dir)) as c:
        c.send_stdin(b"go\n")
        got = frames_until_exit(c)
    assert got == [(STDOUT, b"from-init\n"), (EXIT, b"6")]
    s.wait()
    assert shim.read_exit(str(run_dir)).exit_code == 6


def test_run_mode_create_failure(run_dir, tmp_path):
    opts = ShimOptions(str(run_dir), str(run_dir / "log.json"),
                       exit_command=["sh", "-c", f"echo ran > {tmp_path / 'marker'}"])
    with pytest.raises(shim.CreateFailed, match="no such bundle"):
        shim.start(opts, ["sh", "-c", "echo 'no such bundle' >&2; exit 1"],
                   runtime_pid_file=str(tmp_path / "never.pid"))
    rec = shim.read_exit(str(run_dir))
    assert rec.create_failed and rec.exit_code == 1
    assert (run_dir / "create-error").read_text() == "no such bundle\n"
    time.sleep(0.2)
    assert not (tmp_path / "marker").exists()   # the caller cleans up, it is there


def test_launcher_killed_shim_still_records(run_dir, tmp_path):
    """The process that started the shim dies (SIGKILL): the shim goes on."""
    marker = tmp_path / "marker"
    helper = textwrap.dedent(f"""
        import sys, time
        from minictr.engine import shim
        opts = shim.ShimOptions({str(run_dir)!r}, {str(run_dir / 'log.json')!r},
                                exit_command=["sh", "-c", "echo ran > {marker}"], stdin=True)
        p = shim.start(opts, ["sh", "-c", "read x; echo late; exit 5"])
        print(p.pid, flush=True)
        time.sleep(60)
    """)
    launcher = subprocess.Popen([sys.executable, "-c", helper], stdout=subprocess.PIPE)
    shim_pid = int(launcher.stdout.readline())
    launcher.kill()
    launcher.wait()
    assert alive(shim_pid)
    with AttachClient(str(run_dir)) as c:
        c.send_stdin(b"go\n")
        assert frames_until_exit(c)[-1] == (EXIT, b"5")
    rec = shim.wait_exit(str(run_dir), timeout=10)
    assert rec.exit_code == 5
    assert [e.text for e in logs.read_logs(str(run_dir / "log.json"))] == ["late\n"]
    wait_ran(marker)


# ---- attach ---------------------------------------------------------------------

def test_stdin_through_attach_reaches_cat(run_dir, started):
    s = started(run_dir, ["cat"], stdin=True)
    with AttachClient(str(run_dir)) as c:
        c.send_stdin(b"hello\n")
        assert c.recv_frame(timeout=10) == (STDOUT, b"hello\n")
        big = os.urandom(100_000).hex().encode() + b"\n"    # more than one frame and a pipe's worth
        c.send_stdin(big)
        got = b""
        while len(got) < len(big):
            kind, data = c.recv_frame(timeout=10)
            assert kind == STDOUT
            got += data
        assert got == big
        c.close_stdin()
        assert frames_until_exit(c) == [(EXIT, b"0")]
    s.wait()


def test_attached_client_sees_output_live_and_exit(run_dir, started):
    s = started(run_dir, ["sh", "-c", "read x; echo first; echo warn >&2; read y; echo second; exit 7"], stdin=True)
    with AttachClient(str(run_dir)) as c:
        c.send_stdin(b"a\n")
        got = {c.recv_frame(timeout=10), c.recv_frame(timeout=10)}
        assert got == {(STDOUT, b"first\n"), (STDERR, b"warn\n")}
        late = AttachClient(str(run_dir))       # no replay of earlier output
        c.send_stdin(b"b\n")
        assert frames_until_exit(c) == [(STDOUT, b"second\n"), (EXIT, b"7")]
        assert c.exit_code == 7
        assert frames_until_exit(late) == [(STDOUT, b"second\n"), (EXIT, b"7")]
        late.close()
    s.wait()
    assert shim.read_exit(str(run_dir)).exit_code == 7


def test_claimed_cleanup_suppresses_exit_command(run_dir, tmp_path, started):
    marker = tmp_path / "marker"
    s = started(run_dir, ["sh", "-c", "read x; exit 4"], marker=marker, stdin=True)
    with AttachClient(str(run_dir)) as c:
        c.claim_cleanup()
        c.send_stdin(b"x\n")
        assert frames_until_exit(c) == [(EXIT, b"4")]
        # the record is there before the exit frame; the shim waits for us
        assert shim.read_exit(str(run_dir)).exit_code == 4
        time.sleep(0.3)
        assert s.proc.poll() is None
        c.cleanup_done()
        s.wait()
    time.sleep(0.3)
    assert not marker.exists()


def test_claimer_gone_without_done_runs_exit_command(run_dir, tmp_path, started):
    marker = tmp_path / "marker"
    s = started(run_dir, ["sh", "-c", "read x; exit 4"], marker=marker, stdin=True)
    with AttachClient(str(run_dir)) as c:
        c.claim_cleanup()
        c.send_stdin(b"x\n")
        assert frames_until_exit(c) == [(EXIT, b"4")]
        time.sleep(0.2)
        assert s.proc.poll() is None and not marker.exists()
    s.wait()
    wait_ran(marker)


def test_long_dir_path(tmp_path, started):
    d = tmp_path
    while len(str(d)) < 200:
        d = d / ("deep-directory-name-" + "x" * 20)
    d.mkdir(parents=True)
    s = started(d, ["sh", "-c", "read x; echo $x; exit 9"], stdin=True)
    assert (d / "attach").is_socket()
    with AttachClient(str(d)) as c:
        c.send_stdin(b"long\n")
        assert frames_until_exit(c) == [(STDOUT, b"long\n"), (EXIT, b"9")]
    s.wait()
    assert shim.read_exit(str(d)).exit_code == 9


def test_attach_terminal_non_tty_returns_exit_code(run_dir, started):
    s = started(run_dir, ["sh", "-c", "cat; echo done >&2; exit 3"], stdin=True)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    os.write(in_w, b"piped input\n")
    os.close(in_w)                              # EOF: the container's stdin closes
    with AttachClient(str(run_dir)) as c:
        code = attach.attach_terminal(c, in_r, out_w, err_w, tty=False)
    assert code == 3
    os.close(out_w)
    os.close(err_w)
    assert os.read(out_r, 1000) == b"piped input\n"
    assert os.read(err_r, 1000) == b"done\n"
    for fd in (in_r, out_r, err_r):
        os.close(fd)
    s.wait()


# ---- tty mode ---------------------------------------------------------------

# Plays a runtime with --console-socket: makes a pty, sends the master to the
# socket (SCM_RIGHTS, as runc and cshim/console.c do), then runs the command
# on the slave as its controlling terminal.
TTY_RUNTIME = textwrap.dedent("""
    import fcntl, os, socket, sys, termios
    sock_path, cmd = sys.argv[1], sys.argv[2]
    master, slave = os.openpty()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    socket.send_fds(s, [os.ttyname(slave).encode()], [master])
    s.close()
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(slave)
    os.execvp("sh", ["sh", "-c", cmd])
""")


def read_until(c: AttachClient, needle: bytes, timeout=10) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while needle not in got:
        frame = c.recv_frame(timeout=max(0.01, deadline - time.monotonic()))
        assert frame is not None and frame[0] == STDOUT, (frame, got)
        got += frame[1]
    return got


def test_tty_resize_changes_stty_size(run_dir, tmp_path, started):
    sock = str(tmp_path / "console.sock")
    cmd = "read a; stty size; read b; stty size; echo err-on-tty >&2; exit 5"
    s = started(run_dir, [sys.executable, "-c", TTY_RUNTIME, sock, cmd], terminal=True, stdin=True,
                console_socket=sock)
    with AttachClient(str(run_dir)) as c:
        c.resize(30, 100)
        c.send_stdin(b"x\n")
        read_until(c, b"30 100")
        c.resize(40, 120)
        c.send_stdin(b"y\n")
        read_until(c, b"40 120")
        rest = frames_until_exit(c)
    assert rest[-1] == (EXIT, b"5")
    s.wait()
    assert not os.path.exists(sock)
    entries = s.log()
    assert {e.stream for e in entries} == {"stdout"}      # one stream on a tty
    text = "".join(e.text for e in entries)
    assert "30 100\r\n" in text and "40 120\r\n" in text and "err-on-tty\r\n" in text


def test_tty_close_stdin_sends_eof(run_dir, tmp_path, started):
    sock = str(tmp_path / "console.sock")
    s = started(run_dir, [sys.executable, "-c", TTY_RUNTIME, sock, "cat; echo cat-ended; exit 0"],
                terminal=True, stdin=True, console_socket=sock)
    with AttachClient(str(run_dir)) as c:
        c.send_stdin(b"abc\n")
        read_until(c, b"abc\r\nabc\r\n")          # the tty's echo, then cat's copy
        c.close_stdin()
        read_until(c, b"cat-ended")
        assert frames_until_exit(c)[-1] == (EXIT, b"0")
    s.wait()


def test_attach_terminal_tty_detach_keys(run_dir, tmp_path, started):
    """ctrl-p ctrl-q detaches (None, "read escape sequence"), the container
    goes on; a ctrl-p followed by something else passes both through."""
    sock = str(tmp_path / "console.sock")
    cmd = "stty -icanon -echo; dd bs=1 count=3 2>/dev/null | od -An -tx1; exit 0"
    s = started(run_dir, [sys.executable, "-c", TTY_RUNTIME, sock, cmd],
                terminal=True, stdin=True, console_socket=sock)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    os.write(in_w, b"\x10a\x10\x11ignored")
    with AttachClient(str(run_dir)) as c:
        assert attach.attach_terminal(c, in_r, out_w, err_w, tty=True) is None
    assert os.read(err_r, 100) == b"read escape sequence\n"
    time.sleep(0.2)
    assert s.proc.poll() is None                # detached: still running
    with AttachClient(str(run_dir)) as c:
        c.send_stdin(b"z")
        assert b"10 61 7a" in read_until(c, b"7a")
        assert frames_until_exit(c)[-1] == (EXIT, b"0")
    s.wait()
    for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
        os.close(fd)


ATTACH_HELPER = textwrap.dedent("""
    import os, sys, termios
    from minictr.engine import attach
    client = attach.AttachClient(sys.argv[1])
    code = attach.attach_terminal(client, 0, 1, 2, tty=True)
    canon = bool(termios.tcgetattr(0)[3] & termios.ICANON)
    os.write(1, b"\\r\\nEXIT %r canon=%r\\r\\n" % (code, canon))
""")


def test_attach_terminal_on_a_real_tty(run_dir, tmp_path, started):
    """docker attach from a terminal: raw mode while attached (ctrl-c goes
    to the container), the size at start and on SIGWINCH, the terminal
    restored and the exit code returned at the end."""
    import fcntl
    import select
    import struct
    import termios
    sock = str(tmp_path / "console.sock")
    cmd = "read a; stty size; read b; stty size; echo sleeping; exec sleep 30"
    s = started(run_dir, [sys.executable, "-c", TTY_RUNTIME, sock, cmd], terminal=True, stdin=True,
                console_socket=sock)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 25, 81, 0, 0))
    helper = subprocess.Popen([sys.executable, "-c", ATTACH_HELPER, str(run_dir)],
                              stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    seen = b""

    def expect(needle: bytes):
        nonlocal seen
        deadline = time.monotonic() + 10
        while needle not in seen:
            r, _, _ = select.select([master], [], [], max(0, deadline - time.monotonic()))
            assert r, f"no {needle!r} in {seen!r}"
            seen += os.read(master, 4096)
    try:
        wait_for(lambda: not termios.tcgetattr(slave)[3] & termios.ICANON, what="raw mode")
        os.write(master, b"a\r")
        expect(b"25 81")
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
        helper.send_signal(signal.SIGWINCH)
        time.sleep(0.2)
        os.write(master, b"b\r")
        expect(b"40 132")
        expect(b"sleeping")
        # raw here: ctrl-c is no SIGINT for the attached CLI but a byte, which
        # the container's own tty turns into its SIGINT: 128+2
        os.write(master, b"\x03")
        expect(b"EXIT 130 canon=True")
        assert helper.wait(timeout=10) == 0
    finally:
        if helper.poll() is None:
            helper.kill()
            helper.wait()
        os.close(master)
        os.close(slave)
    s.wait()


# ---- adopt mode -------------------------------------------------------------

# Plays the engine's native launcher (cshim/launch.c): session leader and
# child subreaper, makes the container's stdio, forks the "container", tells
# the test its pid, then execs the shim with its ends of everything.
ADOPT_LAUNCHER = textwrap.dedent("""
    import ctypes, fcntl, json, os, socket, sys, termios
    cfg = json.loads(sys.argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    os.setsid()
    libc.prctl(36, 1, 0, 0, 0)                     # PR_SET_CHILD_SUBREAPER
    extra, theirs = [], []
    if cfg["tty"]:
        ours, peer = socket.socketpair()
        extra += ["--console-fd", str(ours.fileno())]
        keep = [ours.fileno()]
    else:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe()
        extra += ["--stdout-fd", str(out_r), "--stderr-fd", str(err_r), "--stdin-fd", str(in_w)]
        keep = [out_r, err_r, in_w]
    if cfg.get("intermediate"):                    # like a runtime's stage 1: forks the init,
        rep_r, rep_w = os.pipe()                   # reports its pid, exits a little later
    pid = os.fork()
    if pid == 0 and cfg.get("intermediate"):
        init = os.fork()
        if init:
            os.write(rep_w, b"%d\\n" % init)
            import time
            time.sleep(cfg["intermediate"])
            os._exit(0)
    if pid == 0:
        if cfg["tty"]:
            master, slave = os.openpty()
            socket.send_fds(peer, [b"/dev/pts/x"], [master])
            os.close(master)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            stdio = [slave] * 3
        else:
            stdio = [in_r, out_w, err_w]
        for i, fd in enumerate(stdio):
            os.dup2(fd, i)
        os.closerange(3, 1024)
        os.execvp("sh", ["sh", "-c", cfg["cmd"]])
    if cfg["tty"]:
        peer.close()
    else:
        for fd in (out_w, err_w, in_r):
            os.close(fd)
    for fd in keep + [cfg["pid_fd"]]:
        os.set_inheritable(fd, True)
    if cfg.get("intermediate"):
        pid = int(os.read(rep_r, 32))
    os.write(1, b"%d\\n" % pid)
    argv = cfg["shim"] + ["--pid-fd", str(cfg["pid_fd"])] + extra
    os.execv(argv[0], argv)
""")


class Adopted:
    def __init__(self, proc, container_pid, pid_w, d):
        self.proc, self.container_pid, self.pid_w, self.dir = proc, container_pid, pid_w, d

    def send_pid(self, pid=None):
        os.write(self.pid_w, b"%d\n" % (pid or self.container_pid))
        self.close_pid()

    def close_pid(self):
        if self.pid_w >= 0:
            os.close(self.pid_w)
            self.pid_w = -1


@pytest.fixture
def adopt():
    made = []

    def launch(d: Path, cmd: str, tty=False, marker: Path | None = None, intermediate: float = 0):
        pid_r, pid_w = os.pipe()
        opts = ShimOptions(str(d), str(d / "log.json"),
                           exit_command=["sh", "-c", f"echo ran > {marker}"] if marker else [])
        argv = opts.argv(pid_fd=pid_r)[:-2]         # the launcher adds --pid-fd
        cfg = {"cmd": cmd, "tty": tty, "pid_fd": pid_r, "shim": argv, "intermediate": intermediate}
        proc = subprocess.Popen([sys.executable, "-c", ADOPT_LAUNCHER, json.dumps(cfg)],
                                stdout=subprocess.PIPE, pass_fds=(pid_r,))
        os.close(pid_r)
        container = int(proc.stdout.readline())
        proc.stdout.close()
        wait_for(lambda: (d / "attach").exists(), what="the attach socket")
        a = Adopted(proc, container, pid_w, d)
        made.append(a)
        return a
    yield launch
    for a in made:
        a.close_pid()
        if a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait()


def test_adopt_mode(run_dir, tmp_path, adopt):
    marker = tmp_path / "marker"
    a = adopt(run_dir, "read x; echo got $x; echo e >&2; exit 12", marker=marker)
    assert int((run_dir / "shim.pid").read_text()) == a.proc.pid   # the launcher became the shim
    with AttachClient(str(run_dir)) as c:
        a.send_pid()
        c.send_stdin(b"in\n")
        got = frames_until_exit(c)
    assert sorted(got) == [(STDOUT, b"got in\n"), (STDERR, b"e\n"), (EXIT, b"12")]
    assert a.proc.wait(timeout=10) == 0
    rec = shim.read_exit(str(run_dir))
    assert rec.exit_code == 12 and not rec.create_failed
    wait_ran(marker)


def test_adopt_container_exits_before_its_pid_arrives(run_dir, adopt):
    a = adopt(run_dir, "echo quick; exit 4")
    wait_for(lambda: not alive(a.container_pid), what="the container to be reaped")
    assert shim.read_exit(str(run_dir)) is None      # its pid is not known yet
    a.send_pid()
    a.proc.wait(timeout=10)
    assert shim.read_exit(str(run_dir)).exit_code == 4
    assert [e.text for e in logs.read_logs(str(run_dir / "log.json"))] == ["quick\n"]


def test_adopt_init_still_under_its_forking_stage(run_dir, adopt):
    """The pid arrives while the process that forked the init still lives
    (as a runtime's stage 1 reports the pid, then exits): the init comes to
    the shim later, and so does its real exit status."""
    a = adopt(run_dir, "exit 9", intermediate=0.5)
    a.send_pid()
    a.proc.wait(timeout=10)
    rec = shim.read_exit(str(run_dir))
    assert rec.exit_code == 9 and not rec.create_failed


def test_adopt_pid_not_a_descendant(run_dir, adopt):
    """A pid the shim can never reap: its end is seen (pidfd), its status is
    unknown: 255."""
    a = adopt(run_dir, "exit 0")
    stranger = subprocess.Popen(["sleep", "0.3"])
    a.send_pid(stranger.pid)
    stranger.wait()
    a.proc.wait(timeout=10)
    assert shim.read_exit(str(run_dir)).exit_code == 255


def test_adopt_eof_without_pid_kills_the_orphans(run_dir, tmp_path, adopt):
    marker = tmp_path / "marker"
    a = adopt(run_dir, "sleep 100 & sleep 100", marker=marker)
    assert alive(a.container_pid)
    a.close_pid()                                    # the launcher died mid-create
    a.proc.wait(timeout=10)
    assert not alive(a.container_pid)
    rec = shim.read_exit(str(run_dir))
    assert rec.create_failed and (rec.exit_code, rec.signal) == (137, 9)
    wait_ran(marker)


def test_adopt_tty_console_fd(run_dir, adopt):
    a = adopt(run_dir, "read a; stty size; exit 3", tty=True)
    with AttachClient(str(run_dir)) as c:
        a.send_pid()
        c.resize(33, 77)
        c.send_stdin(b"go\n")
        read_until(c, b"33 77")
        assert frames_until_exit(c)[-1] == (EXIT, b"3")
    a.proc.wait(timeout=10)


# ---- bad input ----------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--dir", "/tmp", "--frobnicate", "--", "true"], "unknown option '--frobnicate'"),
    (["--", "true"], "--dir is required"),
    (["--dir", "/tmp", "--stdout-fd", "987", "--", "true"], "--stdout-fd 987: Bad file descriptor"),
    (["--dir", "/tmp", "--stdout-fd", "one", "--", "true"], "--stdout-fd: not a file descriptor number: 'one'"),
    (["--dir", "/tmp", "--log-max-size"], "--log-max-size needs a value"),
    (["--dir", "/tmp"], "need --pid-fd (adopt mode) or a command after '--' (run mode)"),
    (["--dir", "/nonexistent/dir", "--", "true"], "--dir /nonexistent/dir: No such file or directory"),
    (["--dir", "/tmp", "--exit-arg", "x", "--", "true"], "--exit-arg must follow --exit-command"),
])
def test_bad_input(args, message):
    r = subprocess.run([shim.shim_path(), *args], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert r.stderr == f"minictr-shim: {message}\n"


def test_start_reports_bad_arguments(run_dir):
    opts = ShimOptions(str(run_dir / "missing"), None)
    with pytest.raises(shim.ShimError, match="--dir .*missing: No such file or directory"):
        shim.start(opts, ["true"])


# ---- memory ---------------------------------------------------------------------

def rss_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "RssAnon", "RssFile"):
            out[k] = int(v.split()[0])
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["Pss"] = int(line.split()[1])
    except OSError:
        pass
    return out


FAKE_RUNTIME = """#!/bin/sh
# stands in for runc under conmon: "create ... --pid-file P ID" starts a sleeper
while [ $# -gt 0 ]; do
    [ "$1" = --pid-file ] && { pidfile=$2; shift; }
    shift
done
sleep 30 </dev/null >/dev/null 2>&1 &
echo $! > "$pidfile"
"""


def conmon_rss(tmp_path: Path) -> dict[str, int] | None:
    """conmon (podman's monitor) holding the same idle process, started the
    way podman starts it but with a stand-in runtime."""
    import shutil
    conmon = shutil.which("conmon")
    if not conmon:
        return None
    d = tmp_path / "conmon"
    for sub in ("bundle", "exit", "sock"):
        (d / sub).mkdir(parents=True)
    (d / "bundle" / "config.json").write_text("{}")
    runtime = d / "runtime"
    runtime.write_text(FAKE_RUNTIME)
    runtime.chmod(0o755)
    pidfile = d / "ctr.pid"
    subprocess.run([conmon, "--api-version", "1", "-c", "rss", "-u", "rss", "-n", "rss", "-r", str(runtime),
                    "-b", str(d / "bundle"), "-p", str(pidfile), "-l", f"k8s-file:{d / 'ctr.log'}",
                    "--exit-dir", str(d / "exit"), "--socket-dir-path", str(d / "sock")],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
    ctr = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="conmon's container"))
    try:
        monitor = int(Path(f"/proc/{ctr}/stat").read_text().rsplit(")", 1)[1].split()[1])
        time.sleep(0.2)
        return rss_kb(monitor)
    finally:
        os.kill(ctr, signal.SIGKILL)


def test_idle_rss_figure(run_dir, tmp_path, started, capsys):
    """The figures (no threshold): an idle monitor holding a running process,
    ours and conmon's. RssFile is mostly the shared libc; Pss splits it."""
    s = started(run_dir, ["sleep", "30"])
    time.sleep(0.2)
    ours = rss_kb(s.proc.pid)
    theirs = conmon_rss(tmp_path)
    with capsys.disabled():
        print(f"\nidle RSS kB: minictr-shim {ours}; conmon {theirs or 'not installed'}")
    kid = int(Path(f"/proc/{s.proc.pid}/task/{s.proc.pid}/children").read_text().split()[0])
    os.kill(kid, signal.SIGKILL)
    s.wait()


# ---- log rotation -------------------------------------------------------------

def test_rotation_keeps_n_files_read_in_order(run_dir, started):
    s = started(run_dir, ["seq", "1", "300"], log_max_size=1000, log_max_file=3)
    s.wait()
    p = run_dir / "log.json"
    assert p.exists() and Path(f"{p}.1").exists() and Path(f"{p}.2").exists()
    assert not Path(f"{p}.3").exists()                   # at most 3 files in all
    one_entry = len((Path(f"{p}.2")).read_text().splitlines()[0]) + 1
    for f in (Path(f"{p}.1"), Path(f"{p}.2")):           # rotated once max-size was reached
        assert 1000 <= f.stat().st_size < 1000 + one_entry
    numbers = [int(e.text) for e in s.log()]
    assert numbers == list(range(numbers[0], 301)) and numbers[0] > 1


def test_max_file_one_truncates(run_dir, started):
    s = started(run_dir, ["seq", "1", "100"], log_max_size=500, log_max_file=1)
    s.wait()
    p = run_dir / "log.json"
    assert not Path(f"{p}.1").exists() and p.stat().st_size < 500 + 100
    numbers = [int(e.text) for e in s.log()]
    assert numbers[-1] == 100 and numbers == list(range(numbers[0], 101))


def test_follow_while_the_shim_rotates(run_dir, started):
    s = started(run_dir, ["sh", "-c", "read go; seq 1 3000"], log_max_size=2000, log_max_file=200, stdin=True)
    with AttachClient(str(run_dir)) as c:
        c.send_stdin(b"go\n")
    got = [int(e.text) for e in logs.follow_logs(str(run_dir / "log.json"),
                                                   stop=lambda: s.proc.poll() is not None, interval=0.001)]
    assert got == list(range(1, 3001))
    assert len(logs.rotated_files(str(run_dir / "log.json"))) > 10
