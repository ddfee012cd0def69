"""The build's layers in the compression it was asked for (--compression,
-o type=image,compression=...). A step's layer is written so; a cached
step's layer that an earlier build wrote otherwise is converted (the same
tar, a new blob), so what the image is made of does not depend on what
was cached. BuildKit keeps such a cached blob unless force-compression is
set; here a cache hit gives the same image a fresh build does. With
force-compression the base image's layers are converted too. A conversion
is cached by the blob it came from, so it happens once."""
from __future__ import annotations

from minictr.build.cache import NO_LAYER, BuildCache
from minictr.build.state import ImageState, chain_key
from minictr.image.records import LayerRecord


def as_asked(store, cache: BuildCache, layer: LayerRecord, parent_chain_id: str | None,
             compression: str) -> LayerRecord:
    """`layer`, or its conversion into `compression`."""
    if compression in layer.blob_media_type:   # ...tar+gzip, ...tar.gzip, ...tar+zstd: as asked already
        return layer
    from minictr.image import layer_convert   # the layer writer and codecs: a cached layer in another compression
    if layer_convert.in_compression(layer, compression):
        return layer
    key = chain_key(layer.blob_digest, f"compression={compression}")
    hit = cache.get(key)
    if hit is not None and hit[0] is not NO_LAYER:
        return hit[0]
    converted = layer_convert.convert(store, layer, parent_chain_id, compression)
    cache.put(key, converted, f"{layer.blob_digest} as {compression}")
    return converted


def cache_hit(store, cache: BuildCache, key: str, state: ImageState, compression: str) -> tuple | None:
    """BuildCache.get's answer for the step after `state`, its layer in `compression`."""
    hit = cache.get(key)
    if hit is None or hit[0] is NO_LAYER:
        return hit
    parent = state.layers[-1].chain_id if state.layers else None
    return as_asked(store, cache, hit[0], parent, compression), hit[1]


def forced(store, cache: BuildCache, state: ImageState, compression: str) -> ImageState:
    """force-compression: the image with every layer in `compression`, the
    base image's too (a new image, unless there was nothing to convert)."""
    layers, parent = [], None
    for layer in state.layers:
        layers.append(as_asked(store, cache, layer, parent, compression))
        parent = layer.chain_id
    if [layer.blob_digest for layer in layers] == [layer.blob_digest for layer in state.layers]:
        return state
    return ImageState(state.doc, layers, state.key)
