"""`--output`: where a build's result goes besides the image store, as
docker build's exporters take it:

    type=docker,dest=FILE   a docker archive (what `docker load` takes)
    type=oci,dest=FILE      an OCI image layout in a tar
    type=local,dest=DIR     the image's files in a directory
    DIR                     the same as type=local,dest=DIR
    type=image              the image store (where the image goes anyway)

type=image, docker and oci also take compression=gzip|zstd and
force-compression=true|false (the image's layers: there is one image)."""
from __future__ import annotations

import os
import shutil

from minictr.build.errors import BuildError
from minictr.build.tree import read_only_tree

_FORMATS = {"docker": "docker-archive", "oci": "oci-archive"}


class Output:
    """One --output value, read."""

    def __init__(self, kind: str, dest: str, compression: str = "", force_compression: bool | None = None):
        self.kind, self.dest = kind, dest
        self.compression, self.force_compression = compression, force_compression


def parse(text: str) -> Output:
    if "=" not in text:
        return Output("local", text)
    fields = dict(part.partition("=")[::2] for part in text.split(","))
    kind, dest = fields.get("type", ""), fields.get("dest", "")
    if kind not in ("docker", "oci", "local", "tar", "image"):
        raise BuildError(f"--output {text!r}: type must be image, docker, oci or local")
    if not dest and kind != "image":
        raise BuildError(f"--output {text!r}: dest= is needed")
    compression, force = fields.get("compression", ""), fields.get("force-compression")
    if (compression or force is not None) and kind not in ("image", "docker", "oci"):
        raise BuildError(f"--output {text!r}: compression is for type=image, docker or oci")
    if compression:
        check_compression(compression, f"--output {text!r}")
    if force not in (None, "true", "false"):
        raise BuildError(f"--output {text!r}: force-compression must be true or false")
    return Output(kind, dest, compression, None if force is None else force == "true")


def check_compression(name: str, where: str) -> None:
    from minictr.image.layer_writer import COMPRESSIONS
    if name not in COMPRESSIONS:
        raise BuildError(f"{where}: compression {name!r} is not supported: expected {' or '.join(COMPRESSIONS)}")


def apply_compression(outputs: list[Output], opts) -> None:
    """The outputs' compression= into the build's options (the one image
    has one); two that differ are an error, before anything is built."""
    for out in outputs:
        if out.compression:
            if opts.compression and opts.compression != out.compression:
                raise BuildError(f"compression {out.compression} (--output) and {opts.compression}: "
                                 "the image has one compression")
            opts.compression = out.compression
        if out.force_compression is not None:
            opts.force_compression = opts.force_compression or out.force_compression
    if opts.compression:
        check_compression(opts.compression, "--compression")


def write(store, image_id: str, kind: str, dest: str, scratch: str) -> None:
    if kind == "image":
        return   # the build stored it
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
