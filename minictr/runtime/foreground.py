"""`run` and `exec` without --detach: the runtime stays in front of the
process, forwards signals to it, proxies a terminal if one was asked for,
and exits with its status (128+signal when killed, as a shell reports it).
"""
from __future__ import annotations

import os
import sys

from minictr.runtime import signals


def become_subreaper() -> None:
    """So the container's process, a grandchild, is reparented to us."""
    from minictr._native._shim import lib
    lib.mc_set_child_subreaper()


def exit_code(wait_status: int) -> int:
    if os.WIFEXITED(wait_status):
        return os.WEXITSTATUS(wait_status)
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return 255


def wait_forwarding(pid: int, pty_master: int | None = None) -> int:
    """Reap everything reparented to us until `pid` exits; return its code."""
    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    previous = {}
    for sig in signals.FORWARDED:
        try:
            previous[sig] = signals.set_handler(sig, forward)
        except (OSError, ValueError):
            pass
    if pty_master is not None:
        previous[signals.SIGWINCH] = signals.set_handler(signals.SIGWINCH, lambda *_: copy_winsize(pty_master))
    try:
        while True:
            try:
                child, wstatus = os.waitpid(-1, 0)
            except ChildProcessError:
                return 255
            if child == pid:
                return exit_code(wstatus)
    finally:
        for sig, handler in previous.items():
            try:
                signals.set_handler(sig, handler)
            except (OSError, ValueError, TypeError):
                pass


def console_pair():
    """Our end and the end handed to the container (like --console-socket)."""
    import socket  # only with a terminal: kept off the plain start path
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return ours, theirs.detach()


def receive_master(sock) -> int:
    import array
    import socket
    fds = array.array("i")
    _msg, ancdata, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:fds.itemsize])
    if not fds:
        raise OSError("no pty master received from the container")
    return fds[0]


def copy_winsize(master: int) -> None:
    import fcntl
    import termios
    try:
        size = fcntl.ioctl(sys.stdin.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)
    except OSError:
        pass


class TerminalProxy:
    """Copies stdin -> pty master -> stdout while the process runs."""

    def __init__(self, master: int):
        self.master = master
        self.saved_tty = None
        import threading
        self.out_thread = threading.Thread(target=self._pump_out, daemon=True)
        self.in_thread = threading.Thread(target=self._pump_in, daemon=True)

    def start(self) -> None:
        import termios
        import tty
        if os.isatty(0):
            self.saved_tty = termios.tcgetattr(0)
            tty.setraw(0)
            copy_winsize(self.master)
        self.out_thread.start()
        self.in_thread.start()

    def _pump_out(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            os.write(1, data)

    def _pump_in(self) -> None:
        while True:
            try:
                data = os.read(0, 65536)
            except OSError:
                return
            if not data:
                return
            try:
                os.write(self.master, data)
            except OSError:
                return

    def finish(self) -> None:
        self.out_thread.join(timeout=2)
        if self.saved_tty is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, self.saved_tty)
        try:
            os.close(self.master)
        except OSError:
            pass
