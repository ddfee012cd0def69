"""The documents of a new image made on top of a parent (`commit`, a build
step): its config (the parent's platform, the new Config, the parent's
diff_ids and history with one more of each) and the Docker manifest (or,
for zstd layers, the OCI manifest) that points at it. Plain data in, JSON
bytes out; the image store keeps them."""
from __future__ import annotations

import json

from minictr.oci import media_types as mt

_PLATFORM_KEYS = ("architecture", "os", "variant", "os.version")


def history_entry(created: str, created_by: str = "", author: str = "", comment: str = "",
                  empty_layer: bool = False) -> dict:
    """One line of `docker history`; empty_layer: a step that changed only
    the config (no layer of its own)."""
    entry = {"created": created, "created_by": created_by}
    if author:
        entry["author"] = author
    if comment:
        entry["comment"] = comment
    if empty_layer:
        entry["empty_layer"] = True
    return entry


def child_config(parent: dict, config: dict, created: str, diff_id: str | None, created_by: str = "",
                 author: str = "", comment: str = "", container: str = "") -> dict:
    """The image config document of a child of `parent` (a parsed image
    config document): `config` as its Config, `diff_id` as its one new
    layer (None: no layer, an empty_layer history entry), `container` the
    container it was committed from (docker records it; a build need not).
    The keys come in docker's order, so the same inputs give the same
    image ID."""
    diff_ids = list((parent.get("rootfs") or {}).get("diff_ids") or [])
    if diff_id is not None:
        diff_ids.append(diff_id)
    history = list(parent.get("history") or [])
    history.append(history_entry(created, created_by, author, comment, empty_layer=diff_id is None))
    doc = {key: parent[key] for key in _PLATFORM_KEYS if parent.get(key)}
    doc["author"] = author
    doc["config"] = config
    if container:
        doc["container"] = container
    doc.update({"created": created, "history": history, "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    return doc


def config_bytes(doc: dict) -> bytes:
    """The config as stored: compact JSON (its sha256 is the image ID)."""
    return json.dumps(doc, separators=(",", ":")).encode()


def docker_manifest(config_digest: str, config_size: int, layers: list[tuple[str, int, str]]) -> bytes:
    """A Docker v2 schema 2 manifest; layers are (media type, size,
    digest), bottom first."""
    return json.dumps({
        "schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.DOCKER_CONFIG, "size": config_size, "digest": config_digest},
        "layers": [{"mediaType": media_type, "size": size, "digest": digest} for media_type, size, digest in layers],
    }, indent=3).encode()


def oci_manifest(config_digest: str, config_size: int, layers: list[tuple[str, int, str]]) -> bytes:
    """An OCI image manifest (what an image with zstd layers needs: Docker's
    schema 2 has no zstd layer type); layers as for docker_manifest, their
    media types in OCI's spelling."""
    return json.dumps({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": mt.oci_layer_type(media_type), "digest": digest, "size": size}
                   for media_type, size, digest in layers],
    }, indent=2).encode()
