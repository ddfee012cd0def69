"""`minictr build --compression zstd` (and docker's `-o type=image,compression=zstd`):
the image's own layers are zstd frames under an OCI manifest, as a user sees
them in the image's OCI layout (`minictr save --format oci-dir`); the image
runs; a cached step made by a gzip build comes back zstd; SOURCE_DATE_EPOCH
still gives the same digests; a bad value is refused before anything is built."""
import io
import json
import tarfile

import pytest
import zstandard

pytestmark = pytest.mark.root

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKERFILE = 'FROM busybox\nCOPY msg /msg\nRUN echo built >> /msg\nCMD ["cat", "/msg"]\n'


def layout_of(mc, name: str, dest):
    """(manifest, blob reader) of the image as its OCI layout has it."""
    mc("save", "--format", "oci-dir", "-o", str(dest), name, check=True, timeout=120)
    index = json.loads((dest / "index.json").read_text())

    def blob(digest: str) -> bytes:
        return (dest / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()
    desc = index["manifests"][0]
    return desc, json.loads(blob(desc["digest"])), blob


def untar_zstd(data: bytes) -> list[str]:
    """The names in a zstd-compressed tar (a zstd frame, decoded in full)."""
    assert data[:4] == b"\x28\xb5\x2f\xfd", "a zstd frame's magic"
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        return tar.getnames()


def build(mc, *args):
    return mc("build", "--pull", "never", "--network", "none", *args, timeout=300)


def test_zstd_layers_under_an_oci_manifest_and_the_image_runs(mc, context, tmp_path):
    ctx = context(DOCKERFILE, {"msg": "hi\n"})
    res = build(mc, "--compression", "zstd", "-t", "zstd:1", str(ctx))
    assert res.returncode == 0, res.stderr
    desc, manifest, blob = layout_of(mc, "zstd:1", tmp_path / "layout")
    assert desc["mediaType"] == manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    base, *own = manifest["layers"]
    assert base["mediaType"] == GZIP_LAYER, "the base image's blob is kept (no force-compression), OCI-named"
    assert [layer["mediaType"] for layer in own] == [ZSTD_LAYER, ZSTD_LAYER]
    assert untar_zstd(blob(own[0]["digest"])) == ["msg"]
    assert "msg" in untar_zstd(blob(own[1]["digest"]))
    run = mc("run", "--rm", "--network", "none", "zstd:1", timeout=60)
    assert run.stdout == "hi\nbuilt\n", run.stderr


def test_force_compression_converts_the_base_image_too(mc, context, tmp_path):
    ctx = context("FROM busybox\nCOPY msg /msg\n", {"msg": "forced\n"})
    res = build(mc, "-o", "type=image,compression=zstd,force-compression=true", "-t", "forced:1", str(ctx))
    assert res.returncode == 0, res.stderr
    _, manifest, blob = layout_of(mc, "forced:1", tmp_path / "layout")
    assert [layer["mediaType"] for layer in manifest["layers"]] == [ZSTD_LAYER, ZSTD_LAYER]
    assert "bin/busybox" in untar_zstd(blob(manifest["layers"][0]["digest"]))
    run = mc("run", "--rm", "--network", "none", "forced:1", "cat", "/msg", timeout=60)
    assert run.stdout == "forced\n", run.stderr


def test_cached_gzip_steps_come_back_zstd_and_back_again(mc, context, tmp_path):
    ctx = context(DOCKERFILE.replace("built", "cached"), {"msg": "from the cache\n"})
    assert build(mc, "-t", "cache:gzip", str(ctx)).returncode == 0
    _, gzip_manifest, _ = layout_of(mc, "cache:gzip", tmp_path / "gzip")
    assert gzip_manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"

    res = build(mc, "--progress", "plain", "--compression", "zstd", "-t", "cache:zstd", str(ctx))
    assert res.returncode == 0, res.stderr
    assert "#2 CACHED\n#3 [3/4] RUN echo cached >> /msg\n#3 CACHED\n" in res.stderr, "no step ran again"
    assert mc.inspect("cache:zstd")["Id"] == mc.inspect("cache:gzip")["Id"], "the same config, so the same ID"
    _, manifest, blob = layout_of(mc, "cache:zstd", tmp_path / "zstd")
    assert [layer["mediaType"] for layer in manifest["layers"][1:]] == [ZSTD_LAYER, ZSTD_LAYER]
    assert untar_zstd(blob(manifest["layers"][1]["digest"])) == ["msg"]
    run = mc("run", "--rm", "--network", "none", "cache:zstd", timeout=60)
    assert run.stdout == "from the cache\ncached\n", run.stderr

    res = build(mc, "-t", "cache:gzip", str(ctx))   # gzip again: the gzip blobs again
    assert res.returncode == 0, res.stderr
    _, again, _ = layout_of(mc, "cache:gzip", tmp_path / "again")
    assert again["layers"] == gzip_manifest["layers"]


def test_source_date_epoch_gives_the_same_zstd_digests_twice(mc, context, tmp_path):
    ctx = context(DOCKERFILE.replace("built", "reproducible"), {"msg": "same\n"})
    manifests = []
    for i in range(2):
        res = build(mc, "--no-cache", "--compression", "zstd", "--build-arg", "SOURCE_DATE_EPOCH=1700000000",
                    "-t", f"repro:{i}", str(ctx))
        assert res.returncode == 0, res.stderr
        desc, manifest, _ = layout_of(mc, f"repro:{i}", tmp_path / f"layout{i}")
        manifests.append((desc["digest"], manifest))
    assert manifests[0] == manifests[1]
    assert manifests[0][1]["layers"][-1]["mediaType"] == ZSTD_LAYER


@pytest.mark.parametrize("flags, said", [
    (["--compression", "lz4"], "'lz4' is not one of 'gzip', 'zstd'"),
    (["-o", "type=image,compression=lz4"], "compression 'lz4' is not supported: expected gzip or zstd"),
    (["-o", "type=image,compression=zstd,force-compression=yes"], "force-compression must be true or false"),
    (["--compression", "gzip", "-o", "type=image,compression=zstd"], "the image has one compression"),
])
def test_a_bad_compression_is_refused_before_the_build(mc, context, flags, said):
    ctx = context("FROM busybox\nRUN echo should not run\n")
    res = build(mc, *flags, "-t", "refused:1", str(ctx))
    assert res.returncode != 0
    assert said in res.stderr
    assert "should not run" not in res.stderr and "#1 " not in res.stderr, "nothing was built"
    assert mc("image", "inspect", "refused:1").returncode != 0
