"""`save`: images out of the store as a docker archive (what `docker
load` and `podman load` read) or as an OCI image layout (a tar of it, or a
directory, as skopeo's `oci:` and `oci-archive:` read).

docker-archive: manifest.json lists each image's config file, RepoTags
and layer tars; the layers are the uncompressed diffs, so their sha256 is
the config's diff_id (docker load checks). OCI layout: the blobs exactly
as stored (compressed layers, the same manifest bytes, hence the same
digests), index.json naming each manifest.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import time

from minictr.image.errors import ImageError
from minictr.image.layer_stream import open_layer
from minictr.image.records import ImageRecord
from minictr.image.store import ImageStore
from minictr.oci import media_types as mt
from minictr.oci import reference as _ref

FORMATS = ("docker-archive", "oci-archive", "oci-dir")
_CHUNK = 1 << 20


class _Selected:
    """An image to save and the names it goes under."""

    def __init__(self, record: ImageRecord, names: list[str]):
        self.record, self.names = record, names


def select(store: ImageStore, names: list[str]) -> list[_Selected]:
    """docker's rule: a name that is a tag saves that tag; an ID saves every
    tag the image has."""
    chosen: dict[str, _Selected] = {}
    for name in names:
        record = store.records.lookup(name)
        entry = chosen.setdefault(record.id, _Selected(record, []))
        tags = _tags_named(name, record)
        for tag in tags:
            if tag not in entry.names:
                entry.names.append(tag)
    return list(chosen.values())


def _tags_named(name: str, record: ImageRecord) -> list[str]:
    try:
        ref = _ref.parse(name)
    except _ref.InvalidReference:
        ref = None
    if ref is not None and not ref.digest and str(ref) in record.tags:
        return [str(ref)]
    if ref is not None and ref.digest:
        return []
    return list(record.tags)


def save(store: ImageStore, names: list[str], out, fmt: str = "docker-archive") -> None:
    """Write to `out`: a binary stream (the archive formats) or a directory
    path (oci-dir)."""
    if fmt not in FORMATS:
        raise ImageError(f"unknown save format {fmt!r}: expected one of {', '.join(FORMATS)}")
    images = select(store, names)
    if fmt == "oci-dir":
        _write_oci_dir(store, images, out)
        return
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        if fmt == "docker-archive":
            _write_docker_archive(store, images, tar)
        else:
            _write_oci_into_tar(store, images, tar)


# -- docker archive -----------------------------------------------------------

def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
    tar.addfile(info)


def _write_docker_archive(store: ImageStore, images: list[_Selected], tar: tarfile.TarFile) -> None:
    manifest, repositories, written = [], {}, set()
    for image in images:
        record = image.record
        config_name = record.id.split(":", 1)[1] + ".json"
        if config_name not in written:
            _add_bytes(tar, config_name, store.content.read(record.id))
            written.add(config_name)
        layer_paths = []
        for layer in record.layers:
            hexid = layer.diff_id.split(":", 1)[1]
            path = f"{hexid}/layer.tar"
            if path not in written:
                _add_dir(tar, hexid)
                _add_bytes(tar, f"{hexid}/VERSION", b"1.0")
                _add_uncompressed_layer(store, tar, path, layer.blob_digest, layer.blob_media_type)
                written.add(path)
            layer_paths.append(path)
        tags = [_ref.parse(n).familiar() for n in image.names]
        manifest.append({"Config": config_name, "RepoTags": tags or None, "Layers": layer_paths})
        for tag in image.names:
            ref = _ref.parse(tag)
            top = record.layers[-1].diff_id.split(":", 1)[1] if record.layers else ""
            repositories.setdefault(ref.familiar_name, {})[ref.tag] = top
    _add_bytes(tar, "manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
    if repositories:
        _add_bytes(tar, "repositories", json.dumps(repositories, separators=(",", ":")).encode())


def _add_uncompressed_layer(store: ImageStore, tar: tarfile.TarFile, path: str, blob_digest: str,
                            media_type: str) -> None:
    """A tar member needs its size before its bytes: decompress to a
    temporary file first (next to the store, not in memory)."""
    tmpdir = os.path.join(store.root, "tmp")
    os.makedirs(tmpdir, mode=0o700, exist_ok=True)
    with tempfile.TemporaryFile(dir=tmpdir) as tmp, store.content.open(blob_digest) as blob:
        stream = open_layer(blob, media_type, what=f"layer {blob_digest}")
        while chunk := stream.read(_CHUNK):
            tmp.write(chunk)
        size = tmp.tell()
        tmp.seek(0)
        info = tarfile.TarInfo(path)
        info.size, info.mode, info.mtime = size, 0o644, int(time.time())
        tar.addfile(info, tmp)


# -- OCI layout -------------------------------------------------------------

def _index(store: ImageStore, images: list[_Selected]) -> dict:
    manifests = []
    for image in images:
        record = image.record
        size = store.content.size(record.manifest_digest)
        names = image.names or [None]
        for name in names:
            desc = {"mediaType": record.manifest_media_type, "digest": record.manifest_digest, "size": size}
            if name:
                ref = _ref.parse(name)
                desc["annotations"] = {"io.containerd.image.name": str(ref),
                                       "org.opencontainers.image.ref.name": ref.tag or "latest"}
            manifests.append(desc)
    return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}


def _blobs(images: list[_Selected]) -> list[str]:
    out: list[str] = []
    for image in images:
        record = image.record
        for digest in [layer.blob_digest for layer in record.layers] + [record.id, record.manifest_digest]:
            if digest not in out:
                out.append(digest)
    return out


def _write_oci_into_tar(store: ImageStore, images: list[_Selected], tar: tarfile.TarFile) -> None:
    _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    _add_dir(tar, "blobs")
    _add_dir(tar, "blobs/sha256")
    for digest in _blobs(images):
        path = store.content.path(digest)
        tar.add(path, arcname="blobs/sha256/" + digest.split(":", 1)[1], recursive=False,
                filter=_plain_member)
    _add_bytes(tar, "index.json", json.dumps(_index(store, images), separators=(",", ":")).encode())


def _plain_member(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    return info


def _write_oci_dir(store: ImageStore, images: list[_Selected], directory: str) -> None:
    os.makedirs(os.path.join(directory, "blobs", "sha256"), exist_ok=True)
    for digest in _blobs(images):
        dest = os.path.join(directory, "blobs", "sha256", digest.split(":", 1)[1])
        if not os.path.exists(dest):
            shutil.copyfile(store.content.path(digest), dest + ".tmp")
            os.rename(dest + ".tmp", dest)
    with open(os.path.join(directory, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(directory, "index.json.tmp"), "w") as f:
        json.dump(_index(store, images), f, separators=(",", ":"))
    os.rename(os.path.join(directory, "index.json.tmp"), os.path.join(directory, "index.json"))
