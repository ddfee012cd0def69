"""Test bundles made from the real busybox image in ../shared/images.

The OCI layout is read by hand here (index -> manifest -> layer) so the tests
do not depend on minictr's own image code for their fixtures."""
import copy
import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_IMAGES = Path(os.environ.get("MINICTR_SHARED_IMAGES", REPO.parent / "shared" / "images"))
BUSYBOX_LAYOUT = SHARED_IMAGES / "busybox" / "busybox-1.38.0-glibc-amd64.oci"


def layout_layers(layout: Path) -> list[Path]:
    index = json.loads((layout / "index.json").read_text())
    desc = index["manifests"][0]
    manifest = json.loads((layout / "blobs" / "sha256" / desc["digest"].split(":", 1)[1]).read_text())
    return [layout / "blobs" / "sha256" / l["digest"].split(":", 1)[1] for l in manifest["layers"]]


def unpack_busybox(rootfs: Path) -> None:
    rootfs.mkdir(parents=True, exist_ok=True)
    for layer in layout_layers(BUSYBOX_LAYOUT):
        subprocess.run(["tar", "-xzf", str(layer), "-C", str(rootfs), "--numeric-owner"], check=True)


def runc_default_spec() -> dict:
    """The config `runc spec` writes, which is the reference for the defaults."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["runc", "spec", "-b", d], check=True)
        return json.loads(Path(d, "config.json").read_text())


def make_bundle(where: Path, config: dict, rootfs_src: Path | None = None) -> Path:
    """A bundle dir with config.json and a rootfs (copied with cp -a from a
    prepared tree, so every bundle gets its own)."""
    where.mkdir(parents=True, exist_ok=True)
    rootfs = where / "rootfs"
    if rootfs_src is not None:
        subprocess.run(["cp", "-a", str(rootfs_src), str(rootfs)], check=True)
    else:
        unpack_busybox(rootfs)
    cfg = copy.deepcopy(config)
    cfg.setdefault("root", {})["path"] = "rootfs"
    (where / "config.json").write_text(json.dumps(cfg, indent=2))
    return where
