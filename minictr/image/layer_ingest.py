"""One layer blob into the store in one pass: its bytes go through an
ingest writer (hashed, kept as the blob) and on through the decompressor
into a new snapshot. The snapshot gets its real name only once the blob
matched its digest and the unpacked stream its diff_id. Pull feeds it from
the network, load from an archive member."""
from __future__ import annotations

from minictr.image.content import IngestWriter
from minictr.image.errors import DigestMismatch, ImageError
from minictr.image.layer_stream import open_layer
from minictr.image.snapshots import SnapshotError
from minictr.image.store import ImageStore
from minictr.image.unpack import unpack_layer
from minictr import explain

_CHUNK = 1 << 20


def drain(source) -> None:
    """Read what the decompressor left (gzip trailer, tar padding past the
    end marker) so every byte of the blob is hashed."""
    while source.read(_CHUNK):
        pass


def unpack_verified(store: ImageStore, source, writer: IngestWriter, blob_digest: str, media_type: str,
                    diff_id: str, chain_id: str, parent_chain_id: str | None, on_verify=None) -> int | None:
    """Returns the bytes of file content unpacked (docker's layer size), or
    None when the snapshot existed already (the same layer compressed
    differently): then only the blob is stored. `source` yields the blob's
    bytes and writes them to `writer` itself."""
    if store.snapshots.exists(chain_id):
        drain(source)
        writer.commit()
        return None
    result = {}

    def fill(tmpdir: str) -> None:
        parents = store.snapshots.lowerdirs(_unpacked_ancestors(store, parent_chain_id))
        stream = open_layer(source, media_type, what=f"layer {blob_digest}")
        try:
            res = unpack_layer(stream, tmpdir, layer=blob_digest, parents=parents)
        except ImageError:
            _blame_the_blob(source, writer)
            raise
        drain(source)
        if on_verify:
            on_verify()
        writer.commit()
        if res.diff_id != diff_id:
            raise DigestMismatch(f"uncompressed content of layer {blob_digest} (the config's diff_id)",
                                 diff_id, res.diff_id)
        explain.step(f"unpack layer {blob_digest}", f"{res.entries} tar entries ({res.whiteouts} whiteouts) "
                     "into a temp dir; the tar's sha256 is the config's diff_id")
        result["size"] = res.content_bytes
    store.snapshots.prepare(chain_id, parent_chain_id, fill)
    return result.get("size")   # None: a concurrent preparer made the snapshot first


def _blame_the_blob(source, writer: IngestWriter) -> None:
    """Bad layer data is usually a blob that is not what its digest says
    (corrupted in storage or on the way): read the rest and let the digest
    check speak (DigestMismatch), which says more than a gzip error."""
    try:
        drain(source)
    except (ImageError, OSError):
        return
    writer.commit()


def _unpacked_ancestors(store: ImageStore, chain_id: str | None) -> list[str]:
    """The lower layers already unpacked, bottom first (with layers
    unpacked in parallel, some may not be there yet: a hard link into one
    of those is the rare case that then fails with the entry named)."""
    out = []
    while chain_id and store.snapshots.exists(chain_id):
        out.append(chain_id)
        try:
            chain_id = store.snapshots.parent(chain_id)
        except SnapshotError:
            break
    return out[::-1]


class TeeReader:
    """Bytes read from `source` are written to `writer` on their way."""

    def __init__(self, source, writer: IngestWriter):
        self.source, self.writer = source, writer

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n if n and n > 0 else _CHUNK)
        if data:
            self.writer.write(data)
        return data

    def readable(self) -> bool:
        return True
