"""The sandbox image: one layer holding the pause program as `/pause`,
made in the image store from the installed binary the first time a pod
needs it (no registry, as containerd's `sandbox_image` would need). Its
tag names the binary's digest, so a rebuilt pause gets a new image and
the old one stays until no sandbox uses it."""
from __future__ import annotations

import hashlib
import io
import os

from minictr.image.image_writer import store_image
from minictr.image.layer_writer import LayerWriter
from minictr.image.tar_writer import DIR, FILE, Node, write_tar
from minictr.oci import new_image, platform
from minictr.pods.pause import pause_path
from minictr.state.locks import gc_lock

REPOSITORY = "localhost/minictr/pause"
EPOCH = "1970-01-01T00:00:00Z"   # a fixed time: the same binary gives the same image ID


def ensure(store) -> str:
    """The pause image's reference, made if the store lacks it."""
    with open(pause_path(), "rb") as f:
        data = f.read()
    ref = f"{REPOSITORY}:{hashlib.sha256(data).hexdigest()[:12]}"
    if store.records.find(ref) is not None:
        return ref
    with gc_lock(store.root, shared=True):
        with LayerWriter(store, None, what="pause layer") as writer:
            write_tar([Node("etc", DIR, 0o755), Node("pause", FILE, 0o755, size=len(data),
                                                     opener=lambda: io.BytesIO(data))], writer)
            layer = writer.commit()
        host = platform.host()
        parent = {"architecture": host.architecture, "os": host.os, "rootfs": {"type": "layers", "diff_ids": []}}
        if host.variant:
            parent["variant"] = host.variant
        doc = new_image.child_config(parent, {"Entrypoint": ["/pause"], "WorkingDir": "/"}, EPOCH,
                                     layer.diff_id, created_by=f"COPY {os.path.basename(pause_path())} /pause")
        del doc["author"]
        store_image(store, doc, [layer], tag=ref)
    return ref
