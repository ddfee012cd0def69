"""zstd layers (image/layer_writer.py's compression, image/layer_convert.py)
and the manifest an image of them gets (image/image_writer.py): a zstd
writer's blob is a zstd frame of the tar whose sha256 is the diff_id, the
same tar gives the same blob; a gzip layer converted keeps its diff_id,
chain and snapshot; an image with a zstd layer has an OCI manifest, and
the same config stored again over gzip blobs goes back to Docker's."""
import hashlib
import io
import json
import os

import pytest
import zstandard

from minictr.image.image_writer import store_image
from minictr.image.layer_convert import convert
from minictr.image.layer_writer import LayerWriter
from minictr.image.store import ImageStore
from minictr.image.tar_writer import FILE, Node, write_tar
from minictr.oci import new_image

ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


@pytest.fixture
def store(tmp_path):
    s = ImageStore(str(tmp_path / "root"))
    yield s
    s.close()


def _layer(store, compression: str, content: bytes, parent=None):
    node = Node("data.bin", FILE, 0o644, os.getuid(), os.getgid(), size=len(content),
                opener=lambda: io.BytesIO(content), mtime_ns=1_600_000_000 * 10**9)
    with LayerWriter(store, parent, compression=compression) as w:
        write_tar([node], w)
        return w.commit()


def _blob(store, digest: str) -> bytes:
    with open(store.content.path(digest), "rb") as f:
        return f.read()


def test_a_zstd_layer_is_a_zstd_frame_of_its_tar(store):
    content = os.urandom(1 << 20) + b"z" * (2 << 20)
    layer = _layer(store, "zstd", content)
    blob = _blob(store, layer.blob_digest)
    assert layer.blob_media_type == ZSTD and blob[:4] == b"\x28\xb5\x2f\xfd"
    tar = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob)).read()
    assert "sha256:" + hashlib.sha256(tar).hexdigest() == layer.diff_id
    with open(os.path.join(store.snapshots.path(layer.chain_id), "data.bin"), "rb") as f:
        assert f.read() == content
    assert _layer(store, "zstd", content).blob_digest == layer.blob_digest, "the same tar, the same blob"


def test_an_unknown_compression_is_refused(store):
    with pytest.raises(ValueError, match="lz4"):
        LayerWriter(store, compression="lz4")


def test_a_converted_layer_keeps_its_tar_and_snapshot(store):
    base = _layer(store, "gzip", b"base\n")
    top = _layer(store, "gzip", b"top\n", base.chain_id)
    converted = convert(store, top, base.chain_id, "zstd")
    assert (converted.diff_id, converted.chain_id) == (top.diff_id, top.chain_id)
    assert converted.blob_media_type == ZSTD and converted.blob_digest != top.blob_digest
    assert _blob(store, converted.blob_digest)[:4] == b"\x28\xb5\x2f\xfd"
    assert store.content.has(top.blob_digest), "the gzip blob stays beside it"
    back = convert(store, converted, base.chain_id, "gzip")
    assert back.blob_digest == top.blob_digest, "gzip again gives the gzip blob again"


def test_a_zstd_layer_makes_an_oci_manifest_and_gzip_again_dockers(store):
    base = _layer(store, "gzip", b"base\n")
    top = _layer(store, "zstd", b"top\n", base.chain_id)
    parent = {"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": []},
              "history": []}
    doc = new_image.child_config(parent, {}, "2024-01-02T03:04:05Z", base.diff_id)
    doc = new_image.child_config(doc, {}, "2024-01-02T03:04:05Z", top.diff_id)
    image_id = store_image(store, doc, [base, top], tag="docker.io/library/z:1")
    record = store.records.get(image_id)
    assert record.manifest_media_type == "application/vnd.oci.image.manifest.v1+json"
    manifest = json.loads(store.content.read(record.manifest_digest))
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/vnd.oci.image.layer.v1.tar+gzip", ZSTD]
    assert [layer.blob_media_type for layer in record.layers] == [layer["mediaType"] for layer in manifest["layers"]]

    gzip_top = convert(store, top, base.chain_id, "gzip")
    assert store_image(store, doc, [base, gzip_top]) == image_id, "the same config: the same image"
    record = store.records.get(image_id)
    assert record.manifest_media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert [layer.blob_digest for layer in record.layers] == [base.blob_digest, gzip_top.blob_digest]
    assert record.tags == ["docker.io/library/z:1"]
