"""The server's unix socket: claimed before the bind (gRPC unlinks whatever
is at the path, so a live server's socket is checked for first), and
removed at shutdown only if it is still the one this process bound."""
from __future__ import annotations

import os
import socket
import stat

from minictr.cri.config import CriConfigError

_SUN_PATH_MAX = 107   # sockaddr_un.sun_path holds 108 bytes, NUL included


def claim(path: str) -> None:
    """Make `path` free to bind: refuse a live server or a non-socket
    there, remove a socket nobody answers on (left by a killed server)."""
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise CriConfigError(f"--listen {path}: longer than the {_SUN_PATH_MAX} bytes a unix socket path may have")
    os.makedirs(os.path.dirname(path) or ".", mode=0o711, exist_ok=True)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise CriConfigError(f"--listen {path}: the path exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)   # stale
        return
    except OSError as e:
        raise CriConfigError(f"--listen {path}: cannot tell whether a server is listening there: {e}") from None
    finally:
        probe.close()
    raise CriConfigError(f"--listen {path}: another server is listening on this socket")


class BoundSocket:
    """The socket file this process bound, remembered by inode."""

    def __init__(self, path: str, mode: int = 0o660):
        self.path = path
        os.chmod(path, mode)   # root and the socket's group, as containerd's
        self.inode = os.lstat(path).st_ino

    def release(self) -> None:
        try:
            if os.lstat(self.path).st_ino == self.inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
