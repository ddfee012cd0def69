"""The per-container shim (`minictr-shim`, cshim/monitor_*.c), seen from Python.

The shim outlives the CLI: it reaps the container's init, writes its log
(docker's json-file, or the CRI format: `log_format`), serves attach clients on DIR/attach, records the exit in
DIR/exit and runs the exit command. This module builds its command line
(`ShimOptions.argv`), starts it in run mode (`start`), reads its exit record
(`read_exit`); engine/attach.py talks the attach protocol (`AttachClient`,
`attach_terminal`).

Attach protocol: a SOCK_SEQPACKET socket, one message = one frame, the first
byte its type. Shim to client: 1 stdout, 2 stderr, 3 exit (ASCII code).
Client to shim: 0 stdin data, 4 resize ("rows cols"), 5 close stdin,
6 claim cleanup (this client will clean up after the exit), 7 cleanup done.
"""
from __future__ import annotations

import os
import select
import time

import minictr._native
from minictr import jsonio
# minictr.records, not dataclasses: this module is on every `run`, and
# dataclasses' imports (inspect) cost ~10 ms
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
    import subprocess  # --runtime containers only (~3 ms)
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
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        rec = read_exit(dir)
        if rec is not None or (deadline is not None and time.monotonic() >= deadline):
            return rec
        time.sleep(interval)
