"""Manifests, indexes, configs and platforms: parsed from the real
documents in ../shared/images, errors naming the field."""
import json
import os
from pathlib import Path

import pytest

from minictr.oci import image_config, manifest, media_types as mt, platform
from minictr.oci.manifest import InvalidManifest

IMAGES = Path(os.environ.get("MINICTR_SHARED_IMAGES", Path(__file__).resolve().parents[3] / "shared" / "images"))
BUSYBOX = IMAGES / "busybox" / "busybox-1.38.0-glibc-amd64.oci"
MANIFEST_LIST = IMAGES / "json" / "busybox-1.27.2-docker-manifest-list.json"


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def test_real_busybox_layout_parses():
    if not BUSYBOX.exists():
        pytest.skip(f"{BUSYBOX} missing")
    index = manifest.parse_index((BUSYBOX / "index.json").read_bytes())
    desc = index.manifests[0]
    m = manifest.parse_manifest(_blob(BUSYBOX, desc.digest), desc.media_type)
    assert m.media_type == mt.OCI_MANIFEST and len(m.layers) == 1
    assert m.layers[0].media_type == mt.OCI_LAYER_GZIP
    cfg = image_config.parse(_blob(BUSYBOX, m.config.digest))
    assert cfg.config["Cmd"] == ["sh"] and cfg.architecture == "amd64"
    assert cfg.chain_ids() == cfg.diff_ids  # one layer: its chain ID is its diff_id


def test_docker_manifest_list_platform_selection():
    if not MANIFEST_LIST.exists():
        pytest.skip(f"{MANIFEST_LIST} missing")
    index = manifest.parse_index(MANIFEST_LIST.read_bytes())
    assert index.media_type == mt.DOCKER_MANIFEST_LIST
    amd64 = manifest.select_platform(index, platform.parse("linux/amd64"))
    assert amd64.platform.architecture == "amd64"
    arm64 = manifest.select_platform(index, platform.parse("linux/arm64"))
    assert arm64.platform.architecture == "arm64"
    with pytest.raises(manifest.NoMatchingPlatform) as e:
        manifest.select_platform(index, platform.parse("linux/riscv64"))
    assert "linux/riscv64" in str(e.value) and "linux/amd64" in str(e.value)


def _index(*plats):
    return manifest.parse_index(json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [
        {"mediaType": mt.OCI_MANIFEST, "digest": "sha256:" + str(i) * 64, "size": 1,
         "platform": dict(zip(("os", "architecture", "variant"), p.split("/")))}
        for i, p in enumerate(plats)]}).encode())


def test_arm_variants_prefer_exact_then_compatible():
    index = _index("linux/arm/v5", "linux/arm/v7", "linux/arm/v6")
    assert manifest.select_platform(index, platform.parse("linux/arm/v7")).platform.variant == "v7"
    assert manifest.select_platform(index, platform.parse("linux/arm/v6")).platform.variant == "v6"
    assert manifest.select_platform(_index("linux/arm64/v8"), platform.parse("linux/arm64")).digest.endswith("0" * 64)
    assert platform.Platform("linux", "aarch64") == platform.parse("linux/arm64/v8")
    assert platform.Platform("linux", "x86_64") == platform.parse("linux/amd64")


def test_attestations_never_selected():
    index = _index("unknown/unknown", "linux/amd64")
    assert manifest.select_platform(index, platform.parse("linux/amd64")).digest.endswith("1" * 64)


@pytest.mark.parametrize("doc, field", [
    ({"schemaVersion": 1}, "schema 1"),
    ({"schemaVersion": 2, "config": {"mediaType": mt.OCI_CONFIG, "digest": "sha256:zz", "size": 1}, "layers": []},
     "manifest.config.digest"),
    ({"schemaVersion": 2, "config": {"mediaType": mt.OCI_CONFIG, "digest": "sha256:" + "a" * 64, "size": -1},
      "layers": []}, "manifest.config.size"),
    ({"schemaVersion": 2, "config": {"mediaType": mt.OCI_CONFIG, "digest": "sha256:" + "a" * 64, "size": 1},
      "layers": [{"mediaType": "text/plain", "digest": "sha256:" + "b" * 64, "size": 3}]},
     "manifest.layers[0].mediaType"),
    ({"schemaVersion": 2, "config": {"mediaType": mt.OCI_CONFIG, "digest": "sha256:" + "a" * 64, "size": 1},
      "layers": {}}, "manifest.layers"),
])
def test_bad_manifests_name_the_field(doc, field):
    with pytest.raises(InvalidManifest) as e:
        manifest.parse_manifest(json.dumps(doc).encode())
    assert field in str(e.value)


def test_truncated_and_garbage():
    with pytest.raises(InvalidManifest, match="not valid JSON"):
        manifest.parse_manifest(b'{"schemaVersion": 2, "config": ')
    with pytest.raises(InvalidManifest, match="not valid JSON"):
        image_config.parse(b"\xff\xfe")
    with pytest.raises(InvalidManifest, match=r"config.rootfs.diff_ids\[1\]"):
        image_config.parse(json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64, "x"]}}).encode())
    with pytest.raises(InvalidManifest, match="config.config.Env"):
        image_config.parse(json.dumps({"rootfs": {"type": "layers", "diff_ids": []}, "config": {"Env": "PATH=/"}}).encode())


def test_chain_ids_match_the_spec_example():
    # chainID(L1|L0) = sha256(chainID(L0) + " " + diffID(L1))
    import hashlib
    a, b, c = ("sha256:" + ch * 64 for ch in "abc")
    ab = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    abc = "sha256:" + hashlib.sha256(f"{ab} {c}".encode()).hexdigest()
    assert image_config.chain_ids([a, b, c]) == [a, ab, abc]
