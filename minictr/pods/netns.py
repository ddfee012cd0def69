"""A pod's network namespace, kept alive by a name rather than a process.

As containerd and CNI do, each pod gets a persistent named netns: a fresh
namespace (unshare(CLONE_NEWNET) in a short-lived thread, so the caller
never leaves the host's) bind-mounted on an empty file
`<root>/<name>` (default /run/minictr/netns). The path is what CNI_NETNS
names and what the pause container joins; the namespace outlives any
process, so CNI DEL still finds the pod's interfaces after the pause
process died or minictr restarted. Remove after CNI DEL: the bridge plugin
reads the pod's addresses from inside the netns to undo its NAT rules.
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import threading

from minictr import explain
from minictr.pods.errors import NetnsError

DEFAULT_ROOT = "/run/minictr/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 0x2
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_MAX_STACKED = 16   # mounts removed from one path before giving up


def _libc():
    from minictr._native._shim import ffi, lib  # cffi module: loaded by whoever runs containers anyway
    return ffi, lib


def _nsfs_dev() -> int:
    return os.stat("/proc/self/ns/net").st_dev


class NetnsStore:
    """The named network namespaces under one root directory."""

    def __init__(self, root: str = DEFAULT_ROOT):
        self.root = root

    def path(self, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise NetnsError(f"netns name {name!r}: use letters, digits, '_', '.', '-' (at most 128)")
        return os.path.join(self.root, name)

    def exists(self, name: str) -> bool:
        """True if `name` is a mounted namespace (not a leftover empty file)."""
        return _is_netns(self.path(name))

    def names(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.root) if _NAME.fullmatch(n))
        except FileNotFoundError:
            return []

    def create(self, name: str) -> str:
        """A new, empty network namespace at path(name); an existing one is
        returned as it is, so a retried sandbox start is harmless."""
        return self._bind(name, None)

    def adopt(self, name: str, pid: int) -> str:
        """Name the network namespace process `pid` is in (a pause process
        started with its own netns) by binding /proc/PID/ns/net."""
        return self._bind(name, f"/proc/{pid}/ns/net")

    def remove(self, name: str) -> None:
        """Unmount and delete; nothing there is not an error."""
        path = self.path(name)
        with self._locked():
            _unmount_all(path)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise NetnsError(f"{path}: cannot remove the netns file: {e.strerror}") from None

    def sweep(self, keep=()) -> list[str]:
        """Remove every namespace not in `keep` (the sandboxes still known),
        as left by a crash between creating a netns and recording its pod."""
        removed = []
        for name in self.names():
            if name not in keep:
                self.remove(name)
                removed.append(name)
        return removed

    def _bind(self, name: str, source: str | None) -> str:
        path = self.path(name)
        os.makedirs(self.root, mode=0o755, exist_ok=True)
        with self._locked():
            if _is_netns(path):
                return path
            explain.step(f"mount --bind {source or 'unshare(CLONE_NEWNET)'} {path}",
                         "the pod's network namespace, kept by a name so CNI and the pause container find it")
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o444)
            os.close(fd)
            try:
                _mount_netns(source, path)
            except OSError as e:
                _unlink_quietly(path)
                what = f"bind {source}" if source else "create a network namespace"
                raise NetnsError(f"{path}: cannot {what}: {e.strerror}") from None
        return path

    def _locked(self):
        return _DirLock(self.root)


class _DirLock:
    """flock on <root>/.lock: two starts of one sandbox must not both mount."""

    def __init__(self, root: str):
        self.root, self.fd = root, -1

    def __enter__(self):
        os.makedirs(self.root, mode=0o755, exist_ok=True)
        self.fd = os.open(os.path.join(self.root, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def _is_netns(path: str) -> bool:
    try:
        return os.stat(path).st_dev == _nsfs_dev()
    except OSError:
        return False


def _mount_netns(source: str | None, target: str) -> None:
    """Bind `source` (or, for None, a fresh netns of a throwaway thread) on target."""
    failure: list[OSError] = []

    def run() -> None:
        ffi, lib = _libc()
        src = source
        if src is None:
            if lib.unshare(CLONE_NEWNET) != 0:
                failure.append(OSError(ffi.errno, os.strerror(ffi.errno)))
                return
            src = "/proc/thread-self/ns/net"
        if lib.mount(src.encode(), target.encode(), ffi.NULL, MS_BIND, ffi.NULL) != 0:
            failure.append(OSError(ffi.errno, os.strerror(ffi.errno)))

    # the thread that unshared ends with its namespace held by the mount only
    thread = threading.Thread(target=run, name="minictr-netns")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _unmount_all(path: str) -> None:
    ffi, lib = _libc()
    for _ in range(_MAX_STACKED):
        if lib.umount2(path.encode(), MNT_DETACH) != 0:
            err = ffi.errno
            if err in (errno.EINVAL, errno.ENOENT):   # not (or no longer) a mount point
                return
            raise NetnsError(f"{path}: cannot unmount the netns: {os.strerror(err)}")
    raise NetnsError(f"{path}: still mounted after {_MAX_STACKED} unmounts")


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
