"""`push`: an image's blobs and manifest, byte for byte as stored, to a
registry repository. Layers the registry has already are skipped (HEAD);
a layer the image was pulled with from another repository of the same
registry is mounted from there instead of uploaded (cross-repo mount);
the config goes after the layers and the manifest last, so a reader never
sees a manifest whose blobs are missing."""
from __future__ import annotations

import os

from minictr.image.errors import ImageError
from minictr.image.progress import Progress, layer_id
from minictr.image.store import ImageStore
from minictr.oci import reference as _ref

_WORDS = {"exists": "Layer already exists", "mounted": "Mounted from {}", "uploaded": "Pushed"}


class PushResult:
    def __init__(self, ref: _ref.Reference, digest: str, size: int):
        self.ref, self.digest, self.size = ref, digest, size


def push(store: ImageStore, client, text: str, progress: Progress | None = None,
         chunk_size: int | None = None) -> PushResult:
    progress = progress or Progress()
    try:
        ref = _ref.parse(text)
    except _ref.InvalidReference as e:
        raise ImageError(str(e)) from None
    record = store.records.find(str(ref)) or store.records.find(text)
    if record is None:
        raise ImageError(f"An image does not exist locally with the tag: {ref.familiar_name}")
    progress.message(f"The push refers to repository [{ref.name}]")
    manifest_bytes = store.content.read(record.manifest_digest)
    sources = [d.split("@", 1)[0] for d in record.repo_digests]
    mount_from = next((s.split("/", 1)[1] for s in sources
                       if s.split("/", 1)[0] == ref.registry and s.split("/", 1)[1] != ref.repository), None)
    for layer in reversed(record.layers):
        progress.layer(layer_id(layer.blob_digest), "Preparing")
    for layer in reversed(record.layers):
        lid = layer_id(layer.blob_digest)
        progress.layer(lid, "Pushing", 0, layer.blob_size)
        how = _push_blob(store, client, ref, layer.blob_digest, mount_from, chunk_size)
        progress.layer(lid, _WORDS[how].format(mount_from))
    _push_blob(store, client, ref, record.id, None, chunk_size)
    digest = client.put_manifest(ref.registry, ref.repository, ref.tag or ref.digest or _ref.DEFAULT_TAG,
                                 manifest_bytes, record.manifest_media_type)
    store.records.add(record.id, record.manifest_digest, record.manifest_media_type, record.created,
                      record.layers, repo_digest=(ref.name, digest))
    progress.message(f"{ref.tag or _ref.DEFAULT_TAG}: digest: {digest} size: {len(manifest_bytes)}")
    return PushResult(ref, digest, len(manifest_bytes))


def _push_blob(store: ImageStore, client, ref: _ref.Reference, digest: str, mount_from: str | None,
               chunk_size: int | None) -> str:
    size = store.content.size(digest)
    with store.content.open(digest) as f:
        how = client.push_blob(ref.registry, ref.repository, digest, f, size, chunk_size=chunk_size,
                               mount_from=mount_from)
    return how


def chunk_size_from_env() -> int | None:
    """MINICTR_PUSH_CHUNK_SIZE=N: upload blobs in PATCH chunks of N bytes
    (as docker streams them) instead of one PUT."""
    value = os.environ.get("MINICTR_PUSH_CHUNK_SIZE", "")
    if not value:
        return None
    if not value.isdigit() or int(value) <= 0:
        raise ImageError(f"MINICTR_PUSH_CHUNK_SIZE: expected a positive number of bytes, got {value!r}")
    return int(value)
