"""A new image into the store, after its layers (the layer writer's
records): its config document and a Docker manifest into the content
store, then its record (and tag) into the metadata, in that order, so a
name only ever points at content that is all there. `commit` and a build
end here."""
from __future__ import annotations

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
    manifest = new_image.docker_manifest(image_id, len(data), [(layer.blob_media_type, layer.blob_size,
                                                                layer.blob_digest) for layer in layers])
    manifest_digest = store.content.put(manifest)
    store.records.add(image_id, manifest_digest, mt.DOCKER_MANIFEST, doc.get("created", ""), layers, tag=tag)
    return image_id
