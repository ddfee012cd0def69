"""The attach side of the shim's protocol (engine/shim.py describes the
frames): a client connection to DIR/attach, and the loop that joins it to
a terminal or to pipes, with docker's ctrl-p ctrl-q detach."""
from __future__ import annotations

# _socket, not socket: this module is on every foreground `run`, and
# socket's imports (enum, selectors) cost ~2 ms
import _socket
import os
import select

from minictr.engine.shim import (CLAIM, CLOSE_STDIN, DETACH_MESSAGE, DONE, EXIT, MAX_FRAME, RESIZE, STDERR, STDIN,
                                 STDIN_CHUNK, STDOUT, read_exit)
from minictr.runtime import signals


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

    saved = None
    if tty and stdin_fd is not None and os.isatty(stdin_fd):
        import termios  # a terminal's attach only
        import tty as ttymod  # a terminal's attach only
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
            import threading  # ~1 ms; only an attach that forwards stdin runs a thread
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
    import termios  # a terminal's attach only
    termios.tcsetattr(fd, termios.TCSADRAIN, saved)
