"""File locks (flock) between minictr processes that share a root.

The image GC lock: pulls, loads and builds hold it shared while they add
blobs and snapshots not yet recorded in the database; garbage collection
holds it exclusively, so it never deletes what a running pull just wrote."""
from __future__ import annotations

import fcntl
import os


class FileLock:
    def __init__(self, path: str, shared: bool = False):
        self.path, self.shared, self.fd = path, shared, -1

    def __enter__(self) -> "FileLock":
        if self.fd >= 0:
            return self   # taken already by try_acquire
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
        return self

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds a conflicting one; False otherwise."""
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            os.close(self.fd)
            self.fd = -1
            return False

    def __exit__(self, *exc) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def gc_lock(root: str, shared: bool) -> FileLock:
    return FileLock(os.path.join(root, "locks", "image-gc.lock"), shared=shared)
