"""The image a stage is building, kept in memory as docker's builder keeps
it: its config document (oci.new_image's shape) and its layers, bottom
first. A step returns a new state (states are not changed in place, so a
cached step and a built one look alike). The state goes into the image
store only when a container needs it (RUN) or the build ends."""
from __future__ import annotations

import hashlib
import json

from minictr.image.image_writer import store_image
from minictr.image.records import LayerRecord
from minictr.oci import new_image, platform


class ImageState:
    __slots__ = ("doc", "layers", "key", "image_id")

    def __init__(self, doc: dict, layers: list[LayerRecord], key: str, image_id: str | None = None):
        self.doc = doc              # the image config document
        self.layers = layers
        self.key = key              # the cache key of everything up to here
        self.image_id = image_id    # in the store already (a base image, a materialized state)

    @classmethod
    def of_image(cls, store, image) -> "ImageState":
        doc = json.loads(store.content.read(image.id))
        return cls(doc, list(image.layers), image.id, image.id)

    @classmethod
    def scratch(cls) -> "ImageState":
        host = platform.host()
        # BuildKit's default PATH for an image that has none (FROM scratch)
        doc = {"architecture": host.architecture, "os": host.os,
               "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                          "WorkingDir": "/"},
               "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
        if host.variant:
            doc["variant"] = host.variant
        return cls(doc, [], "scratch")

    @property
    def config(self) -> dict:
        """The image's Config (not to be changed: make a copy)."""
        return self.doc.get("config") or {}

    @property
    def chain_ids(self) -> list[str]:
        return [layer.chain_id for layer in self.layers]

    def step(self, what: str, config: dict, created: str, created_by: str,
             layer: LayerRecord | None = None, author: str | None = None) -> "ImageState":
        """The state after one step: `config`, one history entry, one more
        layer or none (an empty_layer entry). `what` is the step's part
        of the cache key; `author` (MAINTAINER) stays once set."""
        author = self.doc.get("author", "") if author is None else author
        doc = new_image.child_config(self.doc, config, created, layer.diff_id if layer else None,
                                     created_by=created_by, author=author)
        if not doc.get("author"):
            del doc["author"]
        layers = self.layers + [layer] if layer else list(self.layers)
        return ImageState(doc, layers, chain_key(self.key, what))

    def with_config(self, config: dict, what: str) -> "ImageState":
        """A config change with no history entry (BuildKit's ONBUILD)."""
        return ImageState(dict(self.doc, config=config), self.layers, chain_key(self.key, what))

    def materialize(self, store, before=None) -> str:
        """Into the store (untagged); its image ID. `before(image_id)` runs
        first (a build leases the image before it exists, so a kill in
        between leaves nothing without an owner). The caller holds the GC lock."""
        if self.image_id is None:
            image_id = "sha256:" + hashlib.sha256(new_image.config_bytes(self.doc)).hexdigest()
            if before is not None:
                before(image_id)
            self.image_id = store_image(store, self.doc, self.layers)
        return self.image_id


def chain_key(parent: str, what: str) -> str:
    """The cache key of a step: its parent's key and what the step is."""
    return "sha256:" + hashlib.sha256(f"{parent}\n{what}".encode()).hexdigest()
