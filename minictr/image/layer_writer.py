"""A new layer written as a tar stream (by `commit`, by a build step):
the tar bytes are hashed (the diff_id) and gzip'ed (or zstd'ed) while they
come, the compressed bytes hashed too (the blob's digest) and spooled to an unnamed
temp file under the store's root. `commit()` then stores the blob and
unpacks it into its snapshot the way `load` does (the blob verified
against its digest and the unpacked stream against the diff_id once more
on the way in) and returns the layer's record.

    with LayerWriter(store, parent_chain_id) as w:
        write_tar(nodes, w)
        layer = w.commit()

Nothing gets a name before it is complete: the spool file has none (it
vanishes when closed, or when the process is killed), so leaving the
with-block without `commit()`, by an exception or on purpose, leaves
nothing behind; after `commit()` a failure leaves at most a verified,
unreferenced blob, which the image GC removes. The same content written
twice is stored once (the compressed stream is deterministic: no name,
no time in a gzip header).

A caller holds the store's GC lock (`state.locks.gc_lock`, shared) from
the first layer until the image's record is written: until then the GC
would see the new blob and snapshot as unreferenced."""
from __future__ import annotations

import os
import tempfile
import zlib

from minictr.image.layer_ingest import TeeReader, unpack_verified
from minictr.image.records import LayerRecord
from minictr.image.store import ImageStore
from minictr.oci import image_config as _ic
from minictr.oci import media_types as mt

# a layer's compression -> its blob's media type
COMPRESSIONS = {"gzip": mt.DOCKER_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD}
EMPTY_TAR = b"\0" * 1024   # the end-of-archive marker alone: docker's empty layer (diff_id sha256:5f70bf18...)


class LayerWriter:
    """A binary, write-only stream taking one layer's tar; `commit()`
    stores it. `parent_chain_id`: the chain ID of the layer below (None
    for a bottom layer)."""

    def __init__(self, store: ImageStore, parent_chain_id: str | None = None, what: str = "layer",
                 compression: str = "gzip"):
        import hashlib   # OpenSSL's set-up: only when a layer is written
        if compression not in COMPRESSIONS:
            raise ValueError(f"{what}: unknown layer compression {compression!r}")
        self.store, self.parent_chain_id, self.what = store, parent_chain_id, what
        self.media_type = COMPRESSIONS[compression]
        self._raw, self._blob = hashlib.sha256(), hashlib.sha256()
        self._z = _compressor(compression)
        self.tar_size = 0      # tar bytes taken
        self.blob_size = 0     # gzip'ed bytes spooled
        self._spool = None
        self._digests: tuple[str, str] | None = None
        self._record: LayerRecord | None = None

    # -- the stream ------------------------------------------------------

    def __enter__(self) -> "LayerWriter":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        tmpdir = os.path.join(self.store.root, "tmp")
        os.makedirs(tmpdir, mode=0o700, exist_ok=True)
        self._spool = tempfile.TemporaryFile(dir=tmpdir, prefix="layer-")

    def close(self) -> None:
        """Drop the spool file (committed or not)."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self._spool is None or self._digests is not None:
            raise ValueError(f"{self.what}: write to a layer writer that is not open or already finished")
        self._raw.update(data)
        self._out(self._z.compress(data))
        self.tar_size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def _out(self, data: bytes) -> None:
        if data:
            self._spool.write(data)
            self._blob.update(data)
            self.blob_size += len(data)

    # -- the layer -------------------------------------------------------

    @property
    def empty(self) -> bool:
        """Nothing written yet (commit() would store docker's empty layer)."""
        return self.tar_size == 0

    def finish(self) -> tuple[str, str]:
        """End the tar stream (a writer given no bytes gets an empty tar,
        docker's empty layer) and the gzip stream; (diff_id, blob
        digest). No more writes after it."""
        if self._digests is None:
            if self._spool is None:
                raise ValueError(f"{self.what}: finish of a layer writer that is not open")
            if self.empty:
                self.write(EMPTY_TAR)
            self._out(self._z.flush())
            self._spool.flush()
            self._digests = ("sha256:" + self._raw.hexdigest(), "sha256:" + self._blob.hexdigest())
        return self._digests

    def commit(self) -> LayerRecord:
        """Store the blob, unpack it into the snapshot of its chain (unless
        that exists: the same layer again) and return its record;
        finish()es first if need be."""
        if self._record is not None:
            return self._record
        if self._spool is None:
            raise ValueError(f"{self.what}: commit of a layer writer that is not open")
        diff_id, blob_digest = self.finish()
        chain_id = _ic.chain_ids(([self.parent_chain_id] if self.parent_chain_id else []) + [diff_id])[-1]
        self._spool.seek(0)
        self._record = self._store(blob_digest, diff_id, chain_id)
        return self._record

    def _store(self, blob_digest: str, diff_id: str, chain_id: str) -> LayerRecord:
        store, size = self.store, self.blob_size
        with store.content.writer(blob_digest, size, f"{self.what} {blob_digest}") as writer:
            if store.snapshots.exists(chain_id) and writer.complete:
                return LayerRecord(chain_id, diff_id, blob_digest, self.media_type, size,
                                   store.records.unpacked_size_of(chain_id))
            writer.reset()
            try:
                unpacked = unpack_verified(store, TeeReader(self._spool, writer), writer, blob_digest,
                                           self.media_type, diff_id, chain_id, self.parent_chain_id)
            except BaseException:
                writer.discard()   # our spool is going away: nothing to resume this ingest from
                raise
        if unpacked is None:
            unpacked = store.records.unpacked_size_of(chain_id)
        return LayerRecord(chain_id, diff_id, blob_digest, self.media_type, size, unpacked)


def _compressor(compression: str):
    """gzip: mtime 0 and no name in its header; zstd: level 3 (BuildKit's
    default) on one thread, with frame checksums. Both give the same blob
    for the same tar, however it is cut into writes."""
    if compression == "zstd":
        import zstandard
        return zstandard.ZstdCompressor(level=3, write_checksum=True).compressobj()
    return zlib.compressobj(6, zlib.DEFLATED, 31)   # 31: a gzip wrapper
