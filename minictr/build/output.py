"""`--output`: where a build's result goes besides the image store, as
docker build's exporters take it:

    type=docker,dest=FILE   a docker archive (what `docker load` takes)
    type=oci,dest=FILE      an OCI image layout in a tar
    type=local,dest=DIR     the image's files in a directory
    DIR                     the same as type=local,dest=DIR"""
from __future__ import annotations

import os
import shutil

from minictr.build.errors import BuildError
from minictr.build.tree import read_only_tree

_FORMATS = {"docker": "docker-archive", "oci": "oci-archive"}


def parse(text: str) -> tuple[str, str]:
    """(type, dest) of one --output value."""
    if "=" not in text:
        return "local", text
    fields = dict(part.partition("=")[::2] for part in text.split(","))
    kind, dest = fields.get("type", ""), fields.get("dest", "")
    if kind not in ("docker", "oci", "local", "tar"):
        raise BuildError(f"--output {text!r}: type must be docker, oci or local")
    if not dest:
        raise BuildError(f"--output {text!r}: dest= is needed")
    return kind, dest


def write(store, image_id: str, kind: str, dest: str, scratch: str) -> None:
    if kind in _FORMATS:
        from minictr.image.save import save
        tmp = f"{dest}.minictr-tmp"
        try:
            with open(tmp, "wb") as f:
                save(store, [image_id], f, _FORMATS[kind])
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return
    if kind == "tar":
        raise BuildError("--output type=tar is not supported yet: use type=local or type=docker")
    record = store.records.get(image_id)
    os.makedirs(dest, exist_ok=True)
    with read_only_tree(store.snapshots, [layer.chain_id for layer in record.layers], scratch) as root:
        shutil.copytree(root, dest, symlinks=True, dirs_exist_ok=True)
