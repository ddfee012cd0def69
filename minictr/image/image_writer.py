"""A new image into the store, after its layers (the layer writer's
records): its config document and a manifest into the content store, then
its record (and tag) into the metadata, in that order, so a name only ever
points at content that is all there. `commit` and a build end here.

The manifest is Docker's schema 2, or OCI's when a layer is zstd (Docker's
schema has no zstd layer type; BuildKit writes OCI for it too). The same
config over other blobs (a rebuild with another compression) is the same
image ID: its record then takes the new manifest, so the image is what the
last build made of it."""
from __future__ import annotations

from minictr.image.layer_stream import ZSTD, codec_of
from minictr.image.records import LayerRecord
from minictr.image.store import ImageStore
from minictr.oci import media_types as mt
from minictr.oci import new_image


def store_image(store: ImageStore, doc: dict, layers: list[LayerRecord], tag: str | None = None) -> str:
    """Store the image whose config document is `doc` (see
    oci.new_image.child_config) over `layers`, bottom first; its image ID
    (the config's digest). The caller holds the GC lock shared, as for
    the layers."""
    data = new_image.config_bytes(doc)
    image_id = store.content.put(data)
    descriptors = [(layer.blob_media_type, layer.blob_size, layer.blob_digest) for layer in layers]
    if any(codec_of(layer.blob_media_type) == ZSTD for layer in layers):
        manifest, media_type = new_image.oci_manifest(image_id, len(data), descriptors), mt.OCI_MANIFEST
        layers = [LayerRecord(layer.chain_id, layer.diff_id, layer.blob_digest, mt.oci_layer_type(layer.blob_media_type),
                              layer.blob_size, layer.unpacked_size) for layer in layers]
    else:
        manifest, media_type = new_image.docker_manifest(image_id, len(data), descriptors), mt.DOCKER_MANIFEST
    manifest_digest = store.content.put(manifest)
    store.records.add(image_id, manifest_digest, media_type, doc.get("created", ""), layers, tag=tag)
    store.records.set_manifest(image_id, manifest_digest, media_type, layers)
    return image_id
