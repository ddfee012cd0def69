"""The per-container shim (`minictr-shim`, cshim/monitor_*.c), seen from Python.

The shim outlives the CLI: it reaps the container's init, writes its log
(docker's json-file, or the CRI format: `log_format`), serves attach clients on DIR/attach, records the exit in
DIR/exit and runs the exit command. This module builds its command line
(`ShimOptions.argv`), starts it in run mode (`start`), reads its exit record
(`read_exit`), and talks the attach protocol (`AttachClient`,
`attach_terminal`).

Attach protocol: a SOCK_SEQPACKET socket, one message = one frame, the first
byte its type. Shim to client: 1 stdout, 2 stderr, 3 exit (ASCII code).
Client to shim: 0 stdin data, 4 resize ("rows cols"), 5 close stdin,
6 claim cleanup (this client will clean up after the exit), 7 cleanup done.
"""
from __future__ import annotations

import os
# _socket and minictr.records, not socket and dataclasses: this module is on
# every foreground `run`, and those imports (enum, inspect) cost ~10 ms
import _socket

from minictr.records import dataclass, field

STDIN, STDOUT, STDERR, EXIT, RESIZE, CLOSE_STDIN, CLAIM, DONE = range(8)
MAX_FRAME = 65536          # the shim sends at most 32 KiB + 1 per frame
STDIN_CHUNK = 32767        # the shim reads client frames into 32 KiB
DETACH_MESSAGE = b"read escape sequence\n"   # what docker prints on ctrl-p ctrl-q


class ShimError(Exception):
    """The shim refused its arguments or could not set up."""


class CreateFailed(ShimError):
    """Run mode: ARGV (the runtime's create) failed; its stderr is the message."""


def shim_path() -> str:
    import minictr._native
    return os.path.join(os.path.dirname(minictr._native.__file__), "bin", "minictr-shim")


@dataclass
class ShimOptions:
    """What the shim is told about one container. `argv()` adds how it is
    launched: adopt mode (pid_fd=...) or run mode (command=[...])."""
    dir: str
    log_path: str | None = None
    log_format: str = "json-file"      # or "cri" (engine/cri_log.py reads it)
    log_max_size: int = 0
    log_max_file: int = 1
    exit_command: list[str] = field(default_factory=list)
    oom_file: str | None = None
    terminal: bool = False
    stdin: bool = False

    def argv(self, *, pid_fd: int | None = None, command: list[str] | None = None,
             stdin_fd: int | None = None, stdout_fd: int | None = None, stderr_fd: int | None = None,
             console_fd: int | None = None, console_socket: str | None = None,
             runtime_pid_file: str | None = None, ready_fd: int | None = None,
             exit_delay_ms: int | None = None) -> list[str]:
        if (pid_fd is None) == (command is None):
            raise ValueError("give pid_fd (adopt mode) or command (run mode), not both")
        if self.terminal and console_fd is None and console_socket is None:
            raise ValueError("terminal=True needs console_fd (adopt) or console_socket (run)")
        argv = [shim_path(), "--dir", self.dir]
        if self.log_path:
            argv += ["--log-path", self.log_path, "--log-max-size", str(self.log_max_size),
                     "--log-max-file", str(self.log_max_file)]
            if self.log_format != "json-file":    # the shim's default: json-file's argv as it was
                argv += ["--log-format", self.log_format]
        if self.oom_file:
            argv += ["--oom-file", self.oom_file]
        for i, arg in enumerate(self.exit_command):
            argv += ["--exit-command" if i == 0 else "--exit-arg", arg]
        for opt, fd in (("--pid-fd", pid_fd), ("--stdin-fd", stdin_fd), ("--stdout-fd", stdout_fd),
                        ("--stderr-fd", stderr_fd), ("--console-fd", console_fd), ("--ready-fd", ready_fd)):
            if fd is not None:
                argv += [opt, str(fd)]
        if console_socket is not None:
            argv += ["--console-socket", console_socket]
        if runtime_pid_file is not None:
            argv += ["--runtime-pid-file", runtime_pid_file]
        if exit_delay_ms:
            argv += ["--exit-delay-ms", str(exit_delay_ms)]
        if command is not None:
            if self.stdin and not self.terminal and stdin_fd is None:
                argv.append("--stdin")
            argv += ["--", *command]
        return argv


def start(opts: ShimOptions, command: list[str], *, runtime_pid_file: str | None = None,
          console_socket: str | None = None, timeout: float = 30.0, **kw):
    """Run mode: start the shim running `command` and wait until it is ready
    (the attach socket listens; with runtime_pid_file, the create succeeded).
    Returns the shim's Popen (ours to wait for). Raises ShimError on bad
    arguments, CreateFailed with the runtime's stderr if the create failed."""
    import select
    import subprocess
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    try:
        argv = opts.argv(command=command, ready_fd=ready_w, runtime_pid_file=runtime_pid_file,
                         console_socket=console_socket, **kw)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, pass_fds=(ready_w,), start_new_session=True)
    except BaseException:
        os.close(ready_r)
        raise
    finally:
        os.close(ready_w)
    try:
        ready, _, _ = select.select([ready_r], [], [], timeout)
        ok = bool(ready) and os.read(ready_r, 1) != b""
    finally:
        os.close(ready_r)
    if ok:
        proc.stderr.close()
        return proc
    if not ready:
        proc.kill()
    err = proc.stderr.read().decode(errors="replace").strip()
    proc.stderr.close()
    rc = proc.wait()
    create_error = os.path.join(opts.dir, "create-error")
    if os.path.exists(create_error):
        with open(create_error, errors="replace") as f:
            raise CreateFailed(f.read().strip() or f"create failed (exit {rc})")
    raise ShimError(err or f"minictr-shim exited {rc} before it was ready")


@dataclass(frozen=True)
class ExitRecord:
    """DIR/exit: docker's exit code (128+signal when killed)."""
    exit_code: int
    signal: int | None
    oom_killed: bool
    finished_at: str
    started_at: str | None = None
    create_failed: bool = False


def read_exit(dir: str) -> ExitRecord | None:
    """The shim's exit record, or None while the container runs (the file is
    written whole by rename, never seen half-written)."""
    from minictr import jsonio
    try:
        with open(os.path.join(dir, "exit"), "rb") as f:
            data = jsonio.loads(f.read())
    except FileNotFoundError:
        return None
    return ExitRecord(exit_code=int(data["exit_code"]), signal=data.get("signal"),
                      oom_killed=bool(data.get("oom_killed")), finished_at=data.get("finished_at") or "",
                      started_at=data.get("started_at"), create_failed=bool(data.get("create_failed")))


def wait_exit(dir: str, timeout: float | None = None, interval: float = 0.01) -> ExitRecord | None:
    """Poll for the exit record; None if it did not come within timeout."""
    import time
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        rec = read_exit(dir)
        if rec is not None or (deadline is not None and time.monotonic() >= deadline):
            return rec
        time.sleep(interval)


class AttachClient:
    """One connection to a shim's attach socket. Output frames are live (no
    replay of what came before connecting)."""

    def __init__(self, dir: str, timeout: float | None = None):
        self.dir = dir
        self.exit_code: int | None = None
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        self.sock.settimeout(timeout)
        path = os.path.join(dir, "attach")
        try:
            if len(os.fsencode(path)) < 100:
                self.sock.connect(path)
            else:   # sun_path holds 108 bytes: reach the directory through our fd on it
                dfd = os.open(dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    self.sock.connect(f"/proc/self/fd/{dfd}/attach")
                finally:
                    os.close(dfd)
        except BaseException:
            self.sock.close()
            raise
        self.sock.settimeout(None)

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv_frame(self, timeout: float | None = None) -> tuple[int, bytes] | None:
        """The next frame, None when the shim closed the connection; raises
        TimeoutError after timeout seconds without one."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(MAX_FRAME)
        finally:
            self.sock.settimeout(None)
        if not data:
            return None
        kind, payload = data[0], data[1:]
        if kind == EXIT:
            self.exit_code = int(payload or b"255")
        return kind, payload

    def frames(self, timeout: float | None = None):
        """(kind, payload) until the exit frame (included) or the shim's end."""
        while True:
            frame = self.recv_frame(timeout)
            if frame is None:
                return
            yield frame
            if frame[0] == EXIT:
                return

    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_stdin(self, data: bytes) -> None:
        for i in range(0, len(data), STDIN_CHUNK):
            self._send(bytes([STDIN]) + data[i:i + STDIN_CHUNK])

    def close_stdin(self) -> None:
        self._send(bytes([CLOSE_STDIN]))

    def resize(self, rows: int, cols: int) -> None:
        self._send(bytes([RESIZE]) + f"{rows} {cols}".encode())

    def claim_cleanup(self) -> None:
        """This client cleans up after the exit: the shim will not run its
        exit command if cleanup_done() follows (it will if we vanish)."""
        self._send(bytes([CLAIM]))

    def cleanup_done(self) -> None:
        self._send(bytes([DONE]))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "AttachClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Escape:
    """docker's escape proxy: bytes matching the start of the detach keys
    are held back; the whole sequence detaches, a mismatch lets them through."""

    def __init__(self, keys: bytes):
        self.keys = keys
        self.held = bytearray()

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            if b == self.keys[len(self.held)]:
                self.held.append(b)
                if len(self.held) == len(self.keys):
                    return bytes(out), True
                continue
            out += self.held
            self.held.clear()
            if b == self.keys[0]:
                self.held.append(b)
                if len(self.keys) == 1:
                    return bytes(out), True
            else:
                out.append(b)
        return bytes(out), False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _terminal_size(*fds: int | None) -> tuple[int, int] | None:
    for fd in fds:
        if fd is not None:
            try:
                size = os.get_terminal_size(fd)
                return size.lines, size.columns
            except OSError:
                pass
    return None


def attach_terminal(client: AttachClient, stdin_fd: int | None, stdout_fd: int, stderr_fd: int,
                    tty: bool, detach_keys: bytes = b"\x10\x11",
                    detach_message: bytes | None = DETACH_MESSAGE) -> int | None:
    """docker attach: proxy our stdio to the container until it exits (its
    exit code is returned) or the detach keys are typed (None; the container
    keeps running, and like docker we print "read escape sequence", after
    which docker's CLI exits 1). With a tty: stdin in raw mode, one resize
    at start and one per SIGWINCH, detach keys honoured. Stdin EOF closes the
    container's stdin."""
    import select

    from minictr.runtime import signals
    saved = None
    if tty and stdin_fd is not None and os.isatty(stdin_fd):
        import termios
        import tty as ttymod
        saved = termios.tcgetattr(stdin_fd)
        ttymod.setraw(stdin_fd, termios.TCSANOW)
    winch_r = winch_w = -1
    old_handler = None
    escape = _Escape(detach_keys if tty else b"")
    try:
        if tty:
            size = _terminal_size(stdout_fd, stdin_fd)
            if size:
                client.resize(*size)
            import threading
            if threading.current_thread() is threading.main_thread():
                winch_r, winch_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)

                def on_winch(signum, frame):
                    try:
                        os.write(winch_w, b"w")
                    except OSError:
                        pass
                old_handler = signals.set_handler(signals.SIGWINCH, on_winch)
        poller = select.poll()
        poller.register(client.fileno(), select.POLLIN)
        if stdin_fd is not None:
            poller.register(stdin_fd, select.POLLIN)
        if winch_r >= 0:
            poller.register(winch_r, select.POLLIN)
        while True:
            try:
                events = poller.poll()
            except InterruptedError:
                continue
            for fd, ev in events:
                if fd == client.fileno():
                    frame = client.recv_frame()
                    if frame is None:       # the shim is gone without an exit frame
                        rec = read_exit(client.dir)
                        if rec is None:
                            raise ConnectionError(f"the shim of {client.dir} went away")
                        return rec.exit_code
                    kind, payload = frame
                    if kind == STDOUT:
                        _write_all(stdout_fd, payload)
                    elif kind == STDERR:
                        _write_all(stderr_fd, payload)
                    elif kind == EXIT:
                        return client.exit_code
                elif fd == winch_r:
                    try:
                        os.read(winch_r, 64)
                    except BlockingIOError:
                        pass
                    size = _terminal_size(stdout_fd, stdin_fd)
                    if size:
                        client.resize(*size)
                elif fd == stdin_fd:
                    data = os.read(stdin_fd, STDIN_CHUNK)
                    if not data:
                        poller.unregister(stdin_fd)
                        client.close_stdin()
                        continue
                    data, detached = escape.feed(data)
                    if data:
                        client.send_stdin(data)
                    if detached:
                        if saved is not None:
                            _restore_terminal(stdin_fd, saved)
                            saved = None
                        if detach_message:
                            _write_all(stderr_fd, detach_message)
                        return None
    finally:
        if saved is not None:
            _restore_terminal(stdin_fd, saved)
        if old_handler is not None:
            signals.set_handler(signals.SIGWINCH, old_handler)
        for fd in (winch_r, winch_w):
            if fd >= 0:
                os.close(fd)


def _restore_terminal(fd: int, saved) -> None:
    import termios
    termios.tcsetattr(fd, termios.TCSADRAIN, saved)
