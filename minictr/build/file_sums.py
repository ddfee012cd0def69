"""The content checksums of the build context's files, remembered by
their stat (BuildKit's contenthash cache), so an unchanged rebuild does
not read every copied file again to find that nothing changed.

An entry is (path -> device, inode, size, mtime_ns, ctime_ns, sha256)
and is used only when all five stat fields are still the file's. Any
write, chmod, rename over it or `touch -d` to an old time sets the
file's ctime to the present, which nothing but a clock set back can
undo, so a changed file never matches its old entry. A file whose ctime
is less than a second old is hashed but not remembered ("racily clean",
as git's index has it): a write in the same clock tick as our read
could leave the same stat on different bytes. An entry is written only
when the file's stat after the read is the one before it.

Rows of files that are gone are dropped after a build (`forget_missing`);
the table is cleared past MAX_ROWS, as a cache may be."""
from __future__ import annotations

import hashlib
import os
import threading
import time

from minictr.state.db import transaction

MAX_ROWS = 200_000
RACY_NS = 1_000_000_000
_CHUNK = 1 << 20


def _stat_key(st: os.stat_result) -> tuple:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class FileSums:
    """The checksums of files under `root` (the context's real path), read
    from and written to the image store's database (`conn`)."""

    def __init__(self, conn, root: str):
        self.conn, self.root = conn, root.rstrip("/") + "/"
        self._known: dict[str, tuple] | None = None   # path -> (stat key, digest), as stored
        self._new: dict[str, tuple] = {}
        self._seen: set[str] = set()
        self._lock = threading.RLock()   # stages building at once share it (and its connection)

    def _rows(self) -> dict[str, tuple]:
        if self._known is None:
            upper = self.root[:-1] + chr(ord("/") + 1)   # every path that starts with root
            rows = self.conn.execute("SELECT path, dev, ino, size, mtime_ns, ctime_ns, digest FROM build_checksums "
                                     "WHERE path >= ? AND path < ?", (self.root, upper)).fetchall()
            self._known = {r[0]: (tuple(r[1:6]), r[6]) for r in rows}
        return self._known

    def digest(self, path: str, st: os.stat_result) -> bytes:
        """The sha256 (raw bytes) of a regular file's content; `st` is its lstat."""
        key = _stat_key(st)
        with self._lock:
            self._seen.add(path)
            known = self._rows().get(path)
        if known is not None and known[0] == key:
            return bytes.fromhex(known[1])
        now = time.time_ns()
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
            after = os.fstat(f.fileno())
        if _stat_key(after) == key and st.st_ctime_ns < now - RACY_NS and path.startswith(self.root):
            with self._lock:
                self._new[path] = (key, h.hexdigest())
        return h.digest()

    def save(self) -> None:
        """Writes the entries made since the last save."""
        with self._lock:
            self._save()

    def _save(self) -> None:
        if not self._new:
            return
        with transaction(self.conn):
            self.conn.executemany("INSERT OR REPLACE INTO build_checksums VALUES (?,?,?,?,?,?,?)",
                                  [(path, *key, digest) for path, (key, digest) in self._new.items()])
            if self.conn.execute("SELECT COUNT(*) FROM build_checksums").fetchone()[0] > MAX_ROWS:
                self.conn.execute("DELETE FROM build_checksums")
        self._rows().update(self._new)
        self._new = {}

    def forget_missing(self) -> None:
        """Drops the rows of files under root that no longer exist (only
        the rows this build did not look up are checked)."""
        if self._known is None:
            return
        gone = [(p,) for p in self._known if p not in self._seen and not os.path.lexists(p)]
        if gone:
            with transaction(self.conn):
                self.conn.executemany("DELETE FROM build_checksums WHERE path=?", gone)
