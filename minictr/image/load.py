"""`load`: images into the store from a docker archive (docker save,
podman save) or an OCI image layout (a tar of one, or a directory, as
skopeo, podman and `minictr save` write them).

Every blob is checked as it comes in (OCI blobs against their file names,
layers against the config's diff_ids) and each layer is unpacked in the
same pass that stores it, as in pull. An archive may be compressed; one
read from a pipe is spooled to a temporary file first, because docker
archives put manifest.json last.
"""
from __future__ import annotations

import json
import os
import posixpath
import tarfile
import tempfile

from minictr.image.errors import ImageError
from minictr.image.layer_ingest import TeeReader, unpack_verified
from minictr.image.layer_stream import GZIP, TAR, ZSTD, open_layer, sniff
from minictr.image.progress import Progress, layer_id
from minictr.image.records import LayerRecord
from minictr.image.store import ImageStore
from minictr.oci import digest as _digest
from minictr.oci import image_config, manifest as _manifest, media_types as mt, platform as _platform
from minictr.oci import reference as _ref
from minictr.oci.new_image import docker_manifest
from minictr.state.locks import gc_lock

_CHUNK = 1 << 20
_MAX_METADATA = 16 << 20   # manifest.json, index.json, configs


class Loaded:
    def __init__(self):
        self.names: list[str] = []     # familiar tags loaded
        self.ids: list[str] = []       # images loaded without a name
        self.renamed: list[tuple[str, str]] = []   # (tag, the image ID it used to name)


# -- sources: an archive (tar) or a directory, read by member path ---------------

class _DirSource:
    def __init__(self, root: str):
        self.root, self.what = os.path.realpath(root), root

    def _path(self, name: str) -> str:
        path = os.path.realpath(os.path.join(self.root, name))
        if path != self.root and not path.startswith(self.root + os.sep):
            raise ImageError(f"{self.what}: {name!r} points outside the layout")
        return path

    def exists(self, name: str) -> bool:
        return os.path.isfile(self._path(name))

    def open(self, name: str):
        try:
            return open(self._path(name), "rb")
        except FileNotFoundError:
            raise ImageError(f"{self.what}: {name} is missing") from None

    def close(self) -> None:
        pass


class _TarSource:
    def __init__(self, fileobj, what: str):
        self.what = what
        try:
            self.tar = tarfile.open(fileobj=fileobj, mode="r:")
            self.members = {}
            for m in self.tar.getmembers():
                name = posixpath.normpath(m.name.lstrip("/"))
                if m.isreg() or m.islnk() or m.issym():
                    self.members[name] = m
        except (tarfile.TarError, EOFError) as e:
            raise ImageError(f"{what}: not a valid image archive ({e})") from None

    def exists(self, name: str) -> bool:
        return posixpath.normpath(name) in self.members

    def open(self, name: str):
        member = self.members.get(posixpath.normpath(name))
        if member is None:
            raise ImageError(f"{self.what}: {name} is missing from the archive")
        for _ in range(8):  # links inside the archive (older docker archives link shared layers)
            if member.isreg():
                return self.tar.extractfile(member)
            target = member.linkname if member.islnk() else posixpath.join(posixpath.dirname(member.name),
                                                                            member.linkname)
            member = self.members.get(posixpath.normpath(target.lstrip("/")))
            if member is None:
                break
        raise ImageError(f"{self.what}: {name} is a link to nothing in the archive")

    def close(self) -> None:
        self.tar.close()


def _read_small(source, name: str) -> bytes:
    with source.open(name) as f:
        data = f.read(_MAX_METADATA + 1)
    if len(data) > _MAX_METADATA:
        raise ImageError(f"{source.what}: {name} is larger than {_MAX_METADATA} bytes")
    return data


def _json(source, name: str):
    try:
        return json.loads(_read_small(source, name))
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageError(f"{source.what}: {name}: not valid JSON ({e})") from None


# -- entry point ----------------------------------------------------------------

def load(store: ImageStore, path: str | None = None, stdin=None, platform: str | None = None,
         progress: Progress | None = None) -> Loaded:
    progress = progress or Progress()
    if path and os.path.isdir(path):
        return _load_source(store, _DirSource(path), platform, progress)
    tmpdir = os.path.join(store.root, "tmp")
    os.makedirs(tmpdir, mode=0o700, exist_ok=True)
    what = path or "stdin"
    try:
        raw = open(path, "rb") if path else stdin
    except OSError as e:
        raise ImageError(f"open {path}: {e.strerror}") from None
    with raw, tempfile.TemporaryFile(dir=tmpdir) as spool:
        stream = open_layer(raw, "", what=what)   # undoes gzip/zstd/xz/bzip2, passes a plain tar through
        while chunk := stream.read(_CHUNK):
            spool.write(chunk)
        if spool.tell() == 0:
            raise ImageError(f"{what}: empty input: nothing to load")
        spool.seek(0)
        source = _TarSource(spool, what)
        try:
            return _load_source(store, source, platform, progress)
        finally:
            source.close()


def _load_source(store: ImageStore, source, platform: str | None, progress: Progress) -> Loaded:
    from minictr.image.gc import sweep_stale
    sweep_stale(store)
    with gc_lock(store.root, shared=True):
        if source.exists("manifest.json"):
            return _load_docker_archive(store, source, progress)
        if source.exists("index.json"):
            return _load_oci_layout(store, source, platform, progress)
    raise ImageError(f"{source.what}: neither a docker archive (manifest.json) nor an OCI layout (index.json)")


# -- docker archive -------------------------------------------------------------

def _load_docker_archive(store: ImageStore, source, progress: Progress) -> Loaded:
    entries = _json(source, "manifest.json")
    if not isinstance(entries, list) or not entries:
        raise ImageError(f"{source.what}: manifest.json: expected a non-empty list")
    out = Loaded()
    for i, entry in enumerate(entries):
        where = f"{source.what}: manifest.json[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) \
                or not isinstance(entry.get("Layers"), list):
            raise ImageError(f"{where}: expected Config (a path) and Layers (a list)")
        config_bytes = _read_small(source, entry["Config"])
        config = _parsed(image_config.parse, config_bytes, f"{where}: {entry['Config']}")
        if len(config.diff_ids) != len(entry["Layers"]):
            raise ImageError(f"{where}: {len(entry['Layers'])} layers but the config lists "
                             f"{len(config.diff_ids)} diff_ids")
        chain_ids = config.chain_ids()
        layers = []
        for n, layer_path in enumerate(entry["Layers"]):
            if not isinstance(layer_path, str):
                raise ImageError(f"{where}.Layers[{n}]: expected a path")
            layers.append(_layer_from_archive(store, source, layer_path, config.diff_ids[n], chain_ids[n],
                                              chain_ids[n - 1] if n else None, progress))
        config_digest = store.content.put(config_bytes)
        manifest = docker_manifest(config_digest, len(config_bytes),
                                   [(la.blob_media_type, la.blob_size, la.blob_digest) for la in layers])
        manifest_digest = store.content.put(manifest)
        tags = entry.get("RepoTags") or []
        if not isinstance(tags, list):
            raise ImageError(f"{where}.RepoTags: expected a list")
        names = [str(_parsed(_ref.parse, t, f"{where}.RepoTags")) for t in tags]
        _record(store, config_digest, manifest_digest, mt.DOCKER_MANIFEST, config.created, layers, names, out)
    return out


def _layer_from_archive(store, source, path: str, diff_id: str, chain_id: str, parent: str | None,
                        progress: Progress) -> LayerRecord:
    """The member as the layer blob: named by its path when that is a
    digest (blobs/sha256/<hex>), by its diff_id when it is a plain tar,
    else hashed in a first pass."""
    with source.open(path) as f:
        head = f.read(512)
    codec = sniff(head) or TAR
    media_type = {TAR: mt.DOCKER_LAYER, GZIP: mt.DOCKER_LAYER_GZIP, ZSTD: mt.OCI_LAYER_ZSTD}.get(codec)
    if media_type is None:
        raise ImageError(f"{source.what}: {path}: unsupported layer compression {codec}")
    name = path.split("/")
    if len(name) >= 2 and name[-2] == "sha256" and _digest.is_valid("sha256:" + name[-1]):
        blob_digest = "sha256:" + name[-1]
    elif codec == TAR:
        blob_digest = diff_id
    else:
        blob_digest = _hash_member(source, path)
    size = _member_size(source, path)
    lid = layer_id(blob_digest)
    with store.content.writer(blob_digest, size, f"layer {path} in {source.what}") as writer:
        if store.snapshots.exists(chain_id) and writer.complete:
            progress.layer(lid, "Already exists")
            return LayerRecord(chain_id, diff_id, blob_digest, media_type, size, store.records.unpacked_size_of(chain_id))
        writer.reset()
        progress.layer(lid, "Loading layer", 0, size)
        with source.open(path) as f:
            unpacked = unpack_verified(store, TeeReader(f, writer), writer, blob_digest, media_type, diff_id,
                                       chain_id, parent)
    progress.layer(lid, "Loading layer", size, size)
    if unpacked is None:
        unpacked = store.records.unpacked_size_of(chain_id)
    return LayerRecord(chain_id, diff_id, blob_digest, media_type, size, unpacked)


def _member_size(source, path: str) -> int:
    with source.open(path) as f:
        f.seek(0, os.SEEK_END)
        return f.tell()


def _hash_member(source, path: str) -> str:
    import hashlib
    h = hashlib.sha256()
    with source.open(path) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


# -- OCI layout -----------------------------------------------------------------

def _blob_path(digest: str) -> str:
    algo, hexpart = _digest.parse(digest)
    return f"blobs/{algo}/{hexpart}"


def _verified_blob(store: ImageStore, source, desc: _manifest.Descriptor, what: str) -> bytes:
    if desc.size > _MAX_METADATA:
        raise ImageError(f"{source.what}: {what} {desc.digest} declares {desc.size} bytes")
    data = _read_small(source, _blob_path(desc.digest))
    store.content.put(data, desc.digest)   # raises DigestMismatch naming it
    return data


def _load_oci_layout(store: ImageStore, source, platform: str | None, progress: Progress) -> Loaded:
    index_doc = _json(source, "index.json")
    index = _parsed(_manifest.parse_index, json.dumps(index_doc).encode(), f"{source.what}: index.json")
    wanted = _parsed(_platform.parse, platform, "--platform") if platform else _platform.host()
    out = Loaded()
    for i, desc in enumerate(index.manifests):
        where = f"{source.what}: index.json manifests[{i}]"
        names = _names_from_annotations(desc.annotations)
        if mt.is_index(desc.media_type):
            inner = _parsed(_manifest.parse_index, _verified_blob(store, source, desc, "index"), where)
            desc = _parsed(_manifest.select_platform, inner, wanted, where)
        if not mt.is_manifest(desc.media_type):
            continue   # attestations, artifacts
        data = _verified_blob(store, source, desc, "manifest")
        man = _parsed(_manifest.parse_manifest, data, desc.media_type, where)
        config_bytes = _verified_blob(store, source, man.config, "config")
        config = _parsed(image_config.parse, config_bytes, f"{where} config")
        if len(config.diff_ids) != len(man.layers):
            raise ImageError(f"{where}: {len(man.layers)} layers but the config lists {len(config.diff_ids)} diff_ids")
        chain_ids = config.chain_ids()
        layers = []
        for n, layer in enumerate(man.layers):
            lid = layer_id(layer.digest)
            with store.content.writer(layer.digest, layer.size, f"layer {layer.digest} in {source.what}") as w:
                if store.snapshots.exists(chain_ids[n]) and w.complete:
                    progress.layer(lid, "Already exists")
                    layers.append(LayerRecord(chain_ids[n], config.diff_ids[n], layer.digest, layer.media_type,
                                              layer.size, store.records.unpacked_size_of(chain_ids[n])))
                    continue
                w.reset()
                progress.layer(lid, "Loading layer", 0, layer.size)
                with source.open(_blob_path(layer.digest)) as f:
                    size = unpack_verified(store, TeeReader(f, w), w, layer.digest, layer.media_type,
                                           config.diff_ids[n], chain_ids[n], chain_ids[n - 1] if n else None)
            progress.layer(lid, "Loading layer", layer.size, layer.size)
            if size is None:
                size = store.records.unpacked_size_of(chain_ids[n])
            layers.append(LayerRecord(chain_ids[n], config.diff_ids[n], layer.digest, layer.media_type,
                                      layer.size, size))
        _record(store, man.config.digest, desc.digest, man.media_type, config.created, layers, names, out)
    if not out.names and not out.ids:
        raise ImageError(f"{source.what}: index.json lists no image manifest")
    return out


def _names_from_annotations(annotations: dict) -> list[str]:
    """containerd's full name, else a ref.name that is itself a full
    reference (podman writes those); a bare tag names nothing on its own."""
    for key in ("io.containerd.image.name", "org.opencontainers.image.ref.name"):
        value = annotations.get(key)
        if isinstance(value, str) and ("/" in value or ":" in value):
            try:
                return [str(_ref.parse(value))]
            except _ref.InvalidReference:
                continue
    return []


# -- shared -------------------------------------------------------------------

def _parsed(fn, *args):
    """Call a parser; its error becomes an ImageError naming where (last arg)."""
    *call, where = args
    try:
        return fn(*call)
    except (_manifest.InvalidManifest, _manifest.NoMatchingPlatform, _platform.InvalidPlatform,
            _ref.InvalidReference) as e:
        raise ImageError(f"{where}: {e}") from None


def _record(store: ImageStore, image_id: str, manifest_digest: str, media_type: str, created: str,
            layers: list[LayerRecord], names: list[str], out: Loaded) -> None:
    store.records.add(image_id, manifest_digest, media_type, created, layers)
    for name in names:
        previous = store.records.find(name)
        store.records.tag(image_id, name)
        if previous is not None and previous.id != image_id:
            out.renamed.append((_ref.parse(name).familiar(), previous.id))
        out.names.append(_ref.parse(name).familiar())
    if not names:
        out.ids.append(image_id)
