"""A stored layer's blob in another compression: the same tar (the same
diff_id, so the same chain ID and snapshot), a new blob beside the old
one. What BuildKit does at export when the image is asked for in a
compression a layer's blob is not in (a cached step's, a base image's
with force-compression)."""
from __future__ import annotations

from minictr.image.errors import ImageError
from minictr.image.layer_stream import READ_CHUNK, codec_of, open_layer
from minictr.image.layer_writer import COMPRESSIONS, LayerWriter
from minictr.image.records import LayerRecord
from minictr.image.store import ImageStore


def in_compression(layer: LayerRecord, compression: str) -> bool:
    return codec_of(layer.blob_media_type) == codec_of(COMPRESSIONS[compression])


def convert(store: ImageStore, layer: LayerRecord, parent_chain_id: str | None, compression: str) -> LayerRecord:
    """The layer's record with its blob in `compression` (stored; the
    snapshot is the one there is). The caller holds the GC lock shared."""
    what = f"layer {layer.blob_digest}"
    with store.content.open(layer.blob_digest) as blob, \
            LayerWriter(store, parent_chain_id, what=f"{what} as {compression}", compression=compression) as writer:
        tar = open_layer(blob, layer.blob_media_type, what=what)
        while chunk := tar.read(READ_CHUNK):
            writer.write(chunk)
        diff_id, _ = writer.finish()
        if diff_id != layer.diff_id:   # the blob does not hold the layer its record says
            raise ImageError(f"{what}: its tar is {diff_id}, its record says {layer.diff_id}")
        return writer.commit()
