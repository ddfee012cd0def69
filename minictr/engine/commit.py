"""`commit`: a container's changes become a new image. Its upper dir is
written as one OCI layer (overlay whiteouts back to `.wh.` entries, opaque
directories to `.wh..wh..opq`) into the image store's layer writer
(image/layer_writer.py: gzip'ed while both digests are taken, then stored
and unpacked into a snapshot as `load` does, verified once more on the way
in). The config is the container's (the image's plus the run's command,
env, ...) with the -c changes on top (oci/config_changes.py), a history
entry and the new diff_id (oci/new_image.py); the config, manifest and
record go through the image store (image/image_writer.py), so the image
runs, lists, saves and pushes like a pulled one.

Nothing gets a name before it is complete: a failure leaves at most an
unreferenced blob or snapshot, which the image GC removes."""
from __future__ import annotations

import io
import json
import os
import posixpath

from minictr.clock import now_rfc3339
from minictr.engine import bundle
from minictr.engine import diff as _diff
from minictr.engine.errors import EngineError
from minictr.engine.export import node_of
from minictr.engine.in_root import RESOLVE_NO_MAGICLINKS
from minictr.image.image_writer import store_image
from minictr.image.layer_writer import LayerWriter
from minictr.image.pull import parse_reference
from minictr.image.tar_writer import FILE, Node, write_tar
from minictr.image.unpack_root import openat2
from minictr.oci import new_image
from minictr.oci.config_changes import InvalidChange, apply_changes, parse_changes
from minictr.state.locks import gc_lock


class Committed:
    def __init__(self, image_id: str, tag: str | None, empty: bool):
        self.image_id, self.tag, self.empty = image_id, tag, empty


# -- the container's config ------------------------------------------------------

def container_config(image_config: dict, spec) -> dict:
    """What docker commits: the image's config with the run's overrides."""
    config = dict(image_config)
    if spec.entrypoint is not None:
        config["Entrypoint"] = [a for a in spec.entrypoint if a] or None
        config["Cmd"] = list(spec.cmd) if spec.cmd else None
    elif spec.cmd:
        config["Cmd"] = list(spec.cmd)
    merged: dict[str, str] = {}
    for item in list(image_config.get("Env") or []) + list(spec.env):
        merged[item.partition("=")[0]] = item
    if merged:
        config["Env"] = list(merged.values())
    for key, value in (("WorkingDir", spec.workdir), ("User", spec.user), ("StopSignal", spec.stop_signal)):
        if value:
            config[key] = value
    if spec.labels:
        config["Labels"] = {**(image_config.get("Labels") or {}), **spec.labels}
    if spec.publish:
        ports = dict(image_config.get("ExposedPorts") or {})
        for p in spec.publish:
            ports[f"{p.container_port}/{p.proto}"] = {}
        config["ExposedPorts"] = ports
    return {k: v for k, v in config.items() if v is not None}


# -- the layer -------------------------------------------------------------------

def layer_nodes(engine, rec, changes: list):
    """The changes (diff's entries) as tar entries in OCI form, read from
    the upper dir."""
    upper = engine.paths(rec.id).upper
    opaque = {e.path for e in changes if e.opaque}
    RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS = 0x08, 0x04
    root = os.open(upper, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    links: dict = {}
    try:
        for entry in changes:
            name = entry.path.lstrip("/")
            parent, base = posixpath.split(name)
            if entry.kind == _diff.DELETED:
                if posixpath.dirname(entry.path) in opaque:
                    continue   # the opaque marker hides it already
                yield _empty(posixpath.join(parent, ".wh." + base))
                continue
            try:
                fd = openat2(root, os.fsencode(name), os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC,
                             RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
            except FileNotFoundError:
                continue
            try:
                node = node_of(fd, name, os.fstat(fd), links)
                if node is not None:
                    yield node
            finally:
                os.close(fd)
            if entry.opaque:
                yield _empty(posixpath.join(name, ".wh..wh..opq"))
    finally:
        os.close(root)


def _empty(name: str) -> Node:
    return Node(name, FILE, mode=0, size=0, opener=lambda: io.BytesIO(b""))


# -- the whole -------------------------------------------------------------------

def commit(engine, rec, reference: str = "", message: str = "", author: str = "", changes=(),
           pause: bool = True) -> Committed:
    try:
        parsed = parse_changes(list(changes))
    except InvalidChange as e:
        raise EngineError(str(e)) from None
    tag = None
    if reference:
        ref = parse_reference(reference)
        if ref.digest:
            raise EngineError(f"invalid reference format: commit cannot name a digest ({reference})")
        tag = str(ref)
    store = engine.images
    image = store.records.get(rec.image_id)
    parent_doc = json.loads(store.content.read(image.id))
    parent_config = parent_doc.get("config") or {}
    try:
        config = apply_changes(container_config(parent_config, rec.spec), parsed)
    except InvalidChange as e:
        raise EngineError(str(e)) from None
    try:
        created_by = " ".join(bundle.command(rec.spec, parent_config))
    except EngineError:
        created_by = ""
    layers = list(image.layers)
    with gc_lock(store.root, shared=True), \
            LayerWriter(store, layers[-1].chain_id if layers else None, what="committed layer") as layer:
        paused = _pause(engine, rec) if pause else False
        try:
            changes = _diff.entries(engine, rec)
            if changes:
                write_tar(layer_nodes(engine, rec, changes), layer)
                layer.finish()
        except OSError as e:
            raise EngineError(f"commit {rec.name}: {e.strerror or e}") from None
        finally:
            if paused:
                engine.unpause(engine.records.get(rec.id))
        empty = not changes   # docker adds no layer for no change, only a history entry
        diff_id = None
        if not empty:
            layers.append(layer.commit())
            diff_id = layers[-1].diff_id
        doc = new_image.child_config(parent_doc, config, now_rfc3339(), diff_id, created_by=created_by,
                                     author=author, comment=message, container=rec.id)
        image_id = store_image(store, doc, layers, tag=tag)
    return Committed(image_id, tag, empty)


def _pause(engine, rec) -> bool:
    """docker commit -p: the container is frozen while its files are read."""
    rec = engine.refresh(engine.records.get(rec.id))
    if rec.status != "running":
        return False
    engine.pause(rec)
    return True
