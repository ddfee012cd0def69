"""Unpack step, part 2: every path of a layer resolved inside the directory
it is unpacked into (the snapshot's temp dir), so no entry can create or
write anything outside it.

Parent directories are opened from the root one component at a time with
O_NOFOLLOW and kept open (path -> dir fd), so an entry costs a dict lookup
plus the *at syscalls on its leaf; a leaf is never followed (O_NOFOLLOW,
AT_SYMLINK_NOFOLLOW, linkat without AT_SYMLINK_FOLLOW).

Policy for a directory component that is a symlink (which no tar of a real
filesystem produces, but a crafted one can): it is followed only through
openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), which the kernel resolves
atomically and refuses (EXDEV) as soon as the walk would leave the root. So
a relative link that stays inside (`lib -> usr/lib`, then `lib/x`) is
followed, like docker's FollowSymlinkInScope and containerd's RootPath; an
absolute link (`evil -> /`) or one that climbs out (`evil -> ../..`) is
never followed for a write and the entry is refused. Unlike those two, we do
not reinterpret an absolute target as relative to the root: the entry is
refused rather than written somewhere its author did not name.

A dir fd, once open, stays inside the root: we never rename, and nothing
else writes into a snapshot being unpacked.
"""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
import stat

SYS_OPENAT2 = 437                    # the same number on every architecture
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_BENEATH = 0x08
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_OPEN_DIRS = 1024                 # cached dir fds; tar order keeps the working set small


class Refused(Exception):
    """An entry would leave the root or cannot be placed; the message says why."""


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = None


def openat2(dirfd: int, path: bytes, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2) through the syscall: the kernel walks `path` from dirfd
    under the RESOLVE_* rules. Raises OSError."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    how = _OpenHow(flags, mode if flags & (os.O_CREAT | os.O_TMPFILE) else 0, resolve)
    fd = _libc.syscall(SYS_OPENAT2, dirfd, path, ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


def open_beneath(dirfd: int, path: bytes, flags: int) -> int:
    return openat2(dirfd, path, flags | os.O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)


def _show(path: bytes) -> str:
    return path.decode("utf-8", "backslashreplace")


class LayerRoot:
    """The directory a layer is unpacked into. Paths are relative bytes
    without '.', '..' or empty components (b"" is the root itself)."""

    def __init__(self, dest: str | bytes):
        self.fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._dirs: dict[bytes, int] = {b"": self.fd}
        self._via_symlink: set[bytes] = set()

    def dir(self, path: bytes, create: bool = True) -> int:
        """An open fd of directory `path`; missing directories are made
        (mode 0755, as docker and tar do for parents a layer leaves out)
        unless create is False (then FileNotFoundError)."""
        fd = self._dirs.get(path)
        if fd is not None:
            return fd
        if len(self._dirs) > MAX_OPEN_DIRS:
            self._close_cached()
        head, _, name = path.rpartition(b"/")
        pfd = self.dir(head, create)
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(name, 0o755, dir_fd=pfd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
        except NotADirectoryError:   # a symlink (O_NOFOLLOW|O_DIRECTORY gives ENOTDIR) or a file
            fd = self._through_symlink(path, pfd, name)
        self._dirs[path] = fd
        return fd

    def _through_symlink(self, path: bytes, pfd: int, name: bytes) -> int:
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            raise Refused(f"{_show(path)!r} is not a directory")
        target = os.readlink(name, dir_fd=pfd)
        try:
            fd = open_beneath(self.fd, path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            if e.errno == errno.EXDEV:
                raise Refused(f"{_show(path)!r} is a symlink to {_show(target)!r}, which leads outside "
                              f"the layer root") from None
            if e.errno == errno.ENOSYS:
                raise Refused(f"{_show(path)!r} is a symlink and this kernel has no openat2 to follow "
                              f"it safely") from None
            raise Refused(f"{_show(path)!r} is a symlink to {_show(target)!r}, which does not lead to a "
                          f"directory inside the layer ({e.strerror})") from None
        self._via_symlink.add(path)
        return fd

    def remove(self, pfd: int, name: bytes, path: bytes) -> None:
        """Remove what is at `path` (whatever it is, a whole tree for a
        directory), so an entry can take its place."""
        try:
            os.unlink(name, dir_fd=pfd)
        except IsADirectoryError:
            self.forget(path)
            shutil.rmtree(name, dir_fd=pfd)
        self.forget(path)

    def forget(self, path: bytes) -> None:
        """Drop cached fds of `path`, below it, and of any resolved through a symlink."""
        under = path + b"/"
        for key in [k for k in self._dirs if k and (k == path or k.startswith(under) or k in self._via_symlink)]:
            os.close(self._dirs.pop(key))
        self._via_symlink.clear()

    def _close_cached(self) -> None:
        for key, fd in self._dirs.items():
            if key:
                os.close(fd)
        self._dirs = {b"": self.fd}
        self._via_symlink.clear()

    def close(self) -> None:
        self._close_cached()
        os.close(self.fd)
