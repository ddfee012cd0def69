"""Image records as the CRI's Image message, field by field as containerd
fills it: the config digest as id, normalized tags and name@digest
references, the size of every blob the image is made of (manifests,
config, compressed layers), and the config's User as uid or username."""
from __future__ import annotations

import json

from minictr.cri.v1 import api_pb2 as pb
from minictr.image.errors import NotFound
from minictr.image.views import config_of
from minictr.pods.pause_image import REPOSITORY as PAUSE_REPOSITORY


def _blob_size(store, digest: str) -> int:
    try:
        return store.content.size(digest)
    except (NotFound, ValueError):
        return 0   # an image built or loaded here may lack a registry's manifest


def image_size(store, record) -> int:
    """containerd's images.Size: what a pull stored for this platform, the
    index it came through (one; the others are the same image's) included."""
    size = sum(layer.blob_size for layer in record.layers)
    size += _blob_size(store, record.id) + _blob_size(store, record.manifest_digest)
    tops = sorted({ref.rsplit("@", 1)[1] for ref in record.repo_digests} - {record.manifest_digest})
    if tops:
        size += _blob_size(store, tops[0])
    return size


def user_of(config_user: str) -> tuple[int | None, str]:
    """The image's User (`uid`, `name`, `uid:gid`…) as (uid, username): a
    number is a uid, anything else a name; neither when it is unset."""
    user = config_user.split(":", 1)[0]
    if not user:
        return None, ""
    try:
        return int(user), ""
    except ValueError:
        return None, user


def to_image(store, record) -> pb.Image:
    config = config_of(store, record)
    uid, username = user_of(str(config.config.get("User") or ""))
    image = pb.Image(id=record.id, repo_tags=record.tags, repo_digests=record.repo_digests,
                     size=image_size(store, record), username=username,
                     pinned=any(t.startswith(PAUSE_REPOSITORY + ":") for t in record.tags))   # as containerd pins its sandbox image
    if uid is not None:
        image.uid.value = uid
    return image


def verbose_info(store, record) -> dict[str, str]:
    """ImageStatus's info when verbose: containerd's one key, "info", a JSON
    object with the top layer's chain ID and the image config."""
    config = config_of(store, record)
    chain = config.chain_ids()
    return {"info": json.dumps({"chainID": chain[-1] if chain else "", "imageSpec": config.doc})}
