"""`commit`: a container's changes become a new image. Its upper dir is
written as one OCI layer (overlay whiteouts back to `.wh.` entries, opaque
directories to `.wh..wh..opq`), gzip'ed while both digests are taken
(diff_id of the tar, digest of the blob), then stored and unpacked into a
snapshot as `load` does (verified once more on the way in). The config is
the container's (the image's plus the run's command, env, ...) with the
-c changes on top, a history entry and the new diff_id; the manifest and
the record go through the image store, so the image runs, lists, saves
and pushes like a pulled one.

Nothing gets a name before it is complete: a failure leaves at most an
unreferenced blob or snapshot, which the image GC removes."""
from __future__ import annotations

import io
import json
import os
import posixpath
import shlex
import tempfile
import zlib

from minictr.engine import diff as _diff
from minictr.engine.errors import EngineError
from minictr.engine.export import FILE, Node, node_of, write_tar

_CHUNK = 1 << 20
CHANGE_COMMANDS = ("CMD", "ENTRYPOINT", "ENV", "WORKDIR", "USER", "LABEL", "EXPOSE", "VOLUME", "STOPSIGNAL")


class Committed:
    def __init__(self, image_id: str, tag: str | None, empty: bool):
        self.image_id, self.tag, self.empty = image_id, tag, empty


# -- the -c changes --------------------------------------------------------------

def parse_changes(changes: list[str]) -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) pairs, checked before anything is written."""
    out = []
    for text in changes:
        text = text.strip()
        if not text:
            continue
        word, _, rest = text.partition(" ") if " " in text else text.partition("\t")
        word = word.upper()
        if word not in CHANGE_COMMANDS:
            raise EngineError(f"{word} is not a valid change command")
        if not rest.strip():
            raise EngineError(f"{word} requires at least one argument")
        out.append((word, rest.strip()))
    return out


def _exec_form(rest: str) -> list[str]:
    """CMD/ENTRYPOINT: a JSON array as given, else the shell form."""
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", rest]


def _pairs(word: str, rest: str) -> list[tuple[str, str]]:
    """ENV/LABEL: `K=V K2="V 2"`, or ENV's old `K V` form."""
    try:
        parts = shlex.split(rest)
    except ValueError as e:
        raise EngineError(f"{word} {rest}: {e}") from None
    if word == "ENV" and parts and "=" not in parts[0]:
        key, _, value = rest.partition(" ")
        return [(key, value.strip())]
    out = []
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise EngineError(f"{word} {rest}: expected KEY=VALUE")
        out.append((key, value))
    return out


def apply_changes(config: dict, changes: list[tuple[str, str]]) -> dict:
    config = json.loads(json.dumps(config))
    for word, rest in changes:
        if word in ("CMD", "ENTRYPOINT"):
            config["Cmd" if word == "CMD" else "Entrypoint"] = _exec_form(rest)
        elif word == "ENV":
            env = list(config.get("Env") or [])
            for key, value in _pairs(word, rest):
                env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
            config["Env"] = env
        elif word == "LABEL":
            config["Labels"] = {**(config.get("Labels") or {}), **dict(_pairs(word, rest))}
        elif word == "WORKDIR":
            config["WorkingDir"] = posixpath.normpath(posixpath.join(config.get("WorkingDir") or "/", rest))
        elif word == "USER":
            config["User"] = rest
        elif word == "STOPSIGNAL":
            config["StopSignal"] = rest
        elif word == "EXPOSE":
            ports = dict(config.get("ExposedPorts") or {})
            for port in rest.split():
                number, _, proto = port.partition("/")
                if not number.replace("-", "").isdigit():
                    raise EngineError(f"EXPOSE {rest}: invalid port {port!r}")
                ports[f"{number}/{proto or 'tcp'}"] = {}
            config["ExposedPorts"] = ports
        elif word == "VOLUME":
            paths = _exec_form(rest) if rest.startswith("[") else rest.split()
            if paths[:2] == ["/bin/sh", "-c"]:
                paths = rest.split()
            config["Volumes"] = {**(config.get("Volumes") or {}), **{p: {} for p in paths}}
    return config


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
    from minictr.engine.in_root import RESOLVE_NO_MAGICLINKS
    from minictr.image.unpack_root import openat2
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


class _GzipHashing:
    """Tar bytes in: their sha256 (the diff_id), gzip'ed to a file with
    the blob's sha256 and size."""

    def __init__(self, f):
        import hashlib
        self.f, self.raw, self.blob, self.size = f, hashlib.sha256(), hashlib.sha256(), 0
        self.z = zlib.compressobj(6, zlib.DEFLATED, 31)

    def write(self, data) -> int:
        self.raw.update(data)
        self._out(self.z.compress(data))
        return len(data)

    def finish(self) -> None:
        self._out(self.z.flush())
        self.f.flush()

    def _out(self, data: bytes) -> None:
        if data:
            self.f.write(data)
            self.blob.update(data)
            self.size += len(data)


def _store_layer(store, blob_path: str, blob_digest: str, size: int, diff_id: str, chain_id: str,
                 parent: str | None):
    from minictr.image.layer_ingest import TeeReader, unpack_verified
    from minictr.image.records import LayerRecord
    from minictr.oci import media_types as mt
    media_type = mt.DOCKER_LAYER_GZIP
    with store.content.writer(blob_digest, size, f"committed layer {blob_digest}") as writer:
        if store.snapshots.exists(chain_id) and writer.complete:
            return LayerRecord(chain_id, diff_id, blob_digest, media_type, size, store.records.unpacked_size_of(chain_id))
        writer.reset()
        with open(blob_path, "rb") as f:
            unpacked = unpack_verified(store, TeeReader(f, writer), writer, blob_digest, media_type, diff_id,
                                       chain_id, parent)
    if unpacked is None:
        unpacked = store.records.unpacked_size_of(chain_id)
    return LayerRecord(chain_id, diff_id, blob_digest, media_type, size, unpacked)


# -- the whole -------------------------------------------------------------------

def commit(engine, rec, reference: str = "", message: str = "", author: str = "", changes=(),
           pause: bool = True) -> Committed:
    from minictr.engine import bundle
    from minictr.image.pull import parse_reference
    from minictr.oci import image_config as _ic, media_types as mt
    from minictr.clock import now_rfc3339
    from minictr.state.locks import gc_lock
    parsed = parse_changes(list(changes))
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
    config = apply_changes(container_config(parent_config, rec.spec), parsed)
    try:
        created_by = " ".join(bundle.command(rec.spec, parent_config))
    except EngineError:
        created_by = ""
    tmpdir = os.path.join(store.root, "tmp")
    os.makedirs(tmpdir, mode=0o700, exist_ok=True)
    with gc_lock(store.root, shared=True), tempfile.NamedTemporaryFile(dir=tmpdir, prefix="commit-") as blob:
        paused = _pause(engine, rec) if pause else False
        try:
            changes = _diff.entries(engine, rec)
            sink = _GzipHashing(blob)
            if changes:
                write_tar(layer_nodes(engine, rec, changes), sink)
            sink.finish()
        except OSError as e:
            raise EngineError(f"commit {rec.name}: {e.strerror or e}") from None
        finally:
            if paused:
                engine.unpause(engine.records.get(rec.id))
        diff_id = "sha256:" + sink.raw.hexdigest()
        empty = not changes   # docker adds no layer for no change, only a history entry
        layers = list(image.layers)
        diff_ids = list(parent_doc.get("rootfs", {}).get("diff_ids") or [])
        if not empty:
            chain_id = _ic.chain_ids(diff_ids + [diff_id])[-1]
            layers.append(_store_layer(store, blob.name, "sha256:" + sink.blob.hexdigest(), sink.size, diff_id,
                                       chain_id, layers[-1].chain_id if layers else None))
            diff_ids.append(diff_id)
        created = now_rfc3339()
        history = list(parent_doc.get("history") or [])
        entry = {"created": created, "created_by": created_by}
        if author:
            entry["author"] = author
        if message:
            entry["comment"] = message
        if empty:
            entry["empty_layer"] = True
        history.append(entry)
        doc = {key: parent_doc[key] for key in ("architecture", "os", "variant", "os.version") if parent_doc.get(key)}
        doc.update({"author": author, "config": config, "container": rec.id, "created": created,
                    "history": history, "rootfs": {"type": "layers", "diff_ids": diff_ids}})
        config_bytes = json.dumps(doc, separators=(",", ":")).encode()
        image_id = store.content.put(config_bytes)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
            "config": {"mediaType": mt.DOCKER_CONFIG, "size": len(config_bytes), "digest": image_id},
            "layers": [{"mediaType": layer.blob_media_type, "size": layer.blob_size, "digest": layer.blob_digest}
                       for layer in layers]}, indent=3).encode()
        manifest_digest = store.content.put(manifest)
        store.records.add(image_id, manifest_digest, mt.DOCKER_MANIFEST, created, layers, tag=tag)
    return Committed(image_id, tag, empty)


def _pause(engine, rec) -> bool:
    """docker commit -p: the container is frozen while its files are read."""
    rec = engine.refresh(engine.records.get(rec.id))
    if rec.status != "running":
        return False
    engine.pause(rec)
    return True
