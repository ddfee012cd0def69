"""Files inside a container's root, opened as the container would see them:
the kernel resolves every symlink (absolute ones too) inside the root
(openat2 RESOLVE_IN_ROOT), so an image's `/etc/passwd -> /host/...` or a
`cp` through a link can never reach the host's files."""
from __future__ import annotations

import os

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10


def open_in_root(root: str, path: str, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """Raises OSError (FileNotFoundError, ...) as os.open does."""
    from minictr._native._shim import ffi, lib   # loaded anyway to start a container; ctypes is not
    rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        rel = os.fsencode(path.lstrip("/") or ".")
        fd = lib.mc_openat2(rootfd, rel, flags | os.O_CLOEXEC, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        if fd < 0:
            err = ffi.errno
            raise OSError(err, os.strerror(err), path)
        return fd
    finally:
        os.close(rootfd)


def read_in_root(root: str, path: str, limit: int = 4 << 20) -> bytes | None:
    """The file's bytes, or None if it does not exist (or is not a file)."""
    try:
        fd = open_in_root(root, path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    try:
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit)
    except IsADirectoryError:
        return None
    finally:
        os.close(fd)


def mkdir_in_root(root: str, path: str) -> None:
    """mkdir -p inside the root, each missing directory 0755 and root's, as
    docker makes a container's working directory before it starts."""
    parts = [p for p in path.split("/") if p and p != "."]
    for i in range(len(parts)):
        try:
            os.close(open_in_root(root, "/".join(parts[:i + 1]), os.O_PATH | os.O_DIRECTORY, 0))
            continue
        except FileNotFoundError:
            pass
        parent = open_in_root(root, "/".join(parts[:i]) or "/", os.O_PATH | os.O_DIRECTORY, 0)
        try:
            os.mkdir(parts[i], 0o755, dir_fd=parent)
        except FileExistsError:
            pass
        finally:
            os.close(parent)
