"""The content store: blobs addressed by digest under `blobs/sha256/`.

Everything enters through one path (containerd's ingester): bytes go to
`ingest/<hex>` while being hashed, the digest is checked, and only then
is the file renamed to its real name. A killed download leaves an ingest
file, which the next writer of the same digest resumes (re-hashing what is
already there) and `prune_ingest` removes; never a wrong blob under a real
name. An ingest is locked (flock) while written, so two pulls of the same
layer do not write into one file.
"""
from __future__ import annotations

import fcntl
import os

from minictr.image.errors import DigestMismatch, ImageError, NotFound
from minictr.oci import digest as _digest
from minictr import explain

_CHUNK = 1 << 20


class ContentStore:
    def __init__(self, root: str):
        self.root = root
        self.blobs = os.path.join(root, "blobs")
        self.ingest_dir = os.path.join(root, "ingest")
        for d in (root, self.blobs, os.path.join(self.blobs, "sha256"), self.ingest_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)

    def path(self, digest: str) -> str:
        algo, hexpart = _digest.parse(digest)
        return os.path.join(self.blobs, algo, hexpart)

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in the content store") from None

    def read(self, digest: str) -> bytes:
        """A small blob (manifest, config), verified on the way out."""
        try:
            with open(self.path(digest), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in the content store") from None
        actual = _digest.of_bytes(data, _digest.parse(digest)[0])
        if actual != digest:
            raise DigestMismatch(f"stored blob {self.path(digest)}", digest, actual)
        return data

    def open(self, digest: str):
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in the content store") from None

    def put(self, data: bytes, digest: str | None = None) -> str:
        """Store bytes in hand; checks them against `digest` when given."""
        digest = digest or _digest.of_bytes(data)
        if self.has(digest):
            return digest
        with self.writer(digest, len(data)) as w:
            w.write(data)
        return digest

    def writer(self, digest: str, size: int | None = None, what: str = "") -> "IngestWriter":
        return IngestWriter(self, digest, size, what or f"blob {digest}")

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def age(self, digest: str) -> float:
        """Seconds since the blob was written (0 if it is gone)."""
        import time
        try:
            return time.time() - os.lstat(self.path(digest)).st_mtime
        except FileNotFoundError:
            return 0.0

    def list(self) -> list[str]:
        out = []
        for algo in os.listdir(self.blobs):
            out += [f"{algo}:{name}" for name in os.listdir(os.path.join(self.blobs, algo))]
        return out

    def prune_ingest(self, older_than: float = 0) -> list[str]:
        """Remove unfinished ingests nobody is writing (and, with older_than,
        untouched for that many seconds: younger ones may still be resumed);
        returns their names."""
        import time
        removed = []
        now = time.time()
        for name in os.listdir(self.ingest_dir):
            path = os.path.join(self.ingest_dir, name)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            if older_than and now - os.fstat(fd).st_mtime < older_than:
                os.close(fd)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # a live writer holds it
            try:
                os.unlink(path)
                removed.append(name)
            finally:
                os.close(fd)
        return removed


class IngestWriter:
    """Write (or resume) one blob; `commit()` verifies and renames it.

    Used as a context manager, commit happens on a clean exit; on an
    exception the partial data is kept for a later resume unless the data
    itself was proven wrong (digest or size mismatch), which discards it."""

    def __init__(self, store: ContentStore, digest: str, size: int | None, what: str):
        self.store, self.digest, self.expected_size, self.what = store, digest, size, what
        algo, hexpart = _digest.parse(digest)
        self.ingest_path = os.path.join(store.ingest_dir, hexpart)
        import hashlib   # OpenSSL's set-up: only when a blob is written
        self.hash = hashlib.new(algo)
        self.offset = 0
        self.committed = False
        self.fd = self._open_locked()
        if not store.has(digest):
            self._rehash_existing()

    def _open_locked(self) -> int:
        """Open and lock the ingest file, making sure the locked inode is
        still the one at the ingest path (a writer before us may have
        renamed it into the store or discarded it while we waited)."""
        while True:
            fd = os.open(self.ingest_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if self.store.has(self.digest):
                return fd
            try:
                if os.stat(self.ingest_path).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)

    def _rehash_existing(self) -> None:
        """Resume: hash what a previous (killed) writer left."""
        size = os.fstat(self.fd).st_size
        if self.expected_size is not None and size > self.expected_size:
            os.ftruncate(self.fd, 0)
            size = 0
        done = 0
        while done < size:
            chunk = os.pread(self.fd, min(_CHUNK, size - done), done)
            if not chunk:
                break
            self.hash.update(chunk)
            done += len(chunk)
        self.offset = done
        os.lseek(self.fd, done, os.SEEK_SET)

    @property
    def complete(self) -> bool:
        """The blob is already stored (nothing to write)."""
        return self.store.has(self.digest)

    def write(self, data) -> None:
        self.hash.update(data)
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.offset += len(data)
        if self.expected_size is not None and self.offset > self.expected_size:
            self.discard()
            raise ImageError(f"{self.what}: more than the {self.expected_size} bytes its descriptor declares")

    def reset(self) -> None:
        """Start over (the server ignored a Range request)."""
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        import hashlib
        self.hash = hashlib.new(_digest.parse(self.digest)[0])
        self.offset = 0

    def commit(self) -> str:
        if self.committed:
            return self.store.path(self.digest)
        if self.complete:  # someone else stored it: drop our (empty) ingest
            self._close(remove=self._owns_ingest_path())
            self.committed = True
            return self.store.path(self.digest)
        actual = f"{_digest.parse(self.digest)[0]}:{self.hash.hexdigest()}"
        if self.expected_size is not None and self.offset != self.expected_size:
            self.discard()
            raise ImageError(f"{self.what}: got {self.offset} bytes, its descriptor declares {self.expected_size}")
        if actual != self.digest:
            self.discard()
            raise DigestMismatch(self.what, self.digest, actual)
        os.fsync(self.fd)
        os.rename(self.ingest_path, self.store.path(self.digest))
        if explain.enabled():
            label = self.what[:-len(self.digest)].strip() if self.what.endswith(self.digest) else self.what
            explain.step(f"rename(ingest/{os.path.basename(self.ingest_path)}, blobs/{actual.replace(':', '/')})",
                         f"{label or 'blob'}: its {self.offset} bytes hash to the digest it was asked by")
        self.committed = True
        self._close(remove=False)
        return self.store.path(self.digest)

    def _owns_ingest_path(self) -> bool:
        try:
            return os.stat(self.ingest_path).st_ino == os.fstat(self.fd).st_ino
        except FileNotFoundError:
            return False

    def discard(self) -> None:
        self._close(remove=self.fd >= 0 and self._owns_ingest_path())

    def _close(self, remove: bool) -> None:
        if self.fd < 0:
            return
        if remove:
            try:
                os.unlink(self.ingest_path)
            except FileNotFoundError:
                pass
        os.close(self.fd)  # releases the flock
        self.fd = -1

    def __enter__(self) -> "IngestWriter":
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self._close(remove=False)
