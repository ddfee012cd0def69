"""Real images put into a test registry by independent clients (skopeo,
podman, umoci), never by minictr, with the digests read back from the
registry so tests can compare against what the registry really serves.

Seeded (name:tag → how):
  library/busybox:latest      OCI index, amd64 glibc + arm64 musl (podman manifest push --all)
  library/busybox:1.38        Docker schema2 manifest list of the same (podman --format v2s2)
  library/busybox:amd64-only  Docker schema2 manifest (skopeo copy --format v2s2)
  library/alpine:3.20         OCI manifest, alpine minirootfs via umoci new + raw add-layer
  library/hello-world:latest  OCI manifest from the hello-world layout
  test/whiteouts:latest       alpine + layers with real whiteouts (umoci repack, opaque dir)
  test/big:latest             ~100 MB in 4 layers: alpine + generated small and large files

The alpine-based images are built once into an OCI layout cached under
.cache/registry-fixtures/<LAYOUT_VERSION>/ (built in a temp dir, then renamed)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .bundles import REPO, SHARED_IMAGES
from .engines import CONTAINERS_CONF

LAYOUT_VERSION = "v1"
CACHE = Path(os.environ.get("MINICTR_FIXTURE_CACHE", REPO / ".cache" / "registry-fixtures")) / LAYOUT_VERSION
BUSYBOX_AMD64 = SHARED_IMAGES / "busybox" / "busybox-1.38.0-glibc-amd64.oci"
BUSYBOX_ARM64 = SHARED_IMAGES / "busybox" / "busybox-1.38.0-musl-arm64v8.oci"
ALPINE_TAR = SHARED_IMAGES / "alpine" / "alpine-minirootfs-3.20.3-x86_64.tar.gz"
HELLO_WORLD = SHARED_IMAGES / "oci-layout" / "hello-world-amd64-2020.oci"
TOOLS = ("skopeo", "umoci", "podman")
ALPINE_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class SeededImage:
    """What the registry serves for `name:tag`: the top manifest's raw bytes,
    digest and media type (an index or list for multi-platform tags)."""
    name: str
    tag: str
    raw: bytes
    digest: str
    media_type: str

    @property
    def manifest(self) -> dict:
        return json.loads(self.raw)

    def platform_digest(self, arch: str) -> str:
        """The per-platform manifest digest inside an index/list."""
        for m in self.manifest["manifests"]:
            if m["platform"]["architecture"] == arch:
                return m["digest"]
        raise KeyError(f"{self.name}:{self.tag} has no {arch} manifest")


def missing_tools() -> list[str]:
    return [t for t in ("docker-registry", *TOOLS) if not shutil.which(t)]


def run(*cmd: str, env: dict | None = None, timeout: float = 300) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {res.returncode}:\n{res.stderr[-2000:]}")
    return res.stdout


# -- building the alpine-based layout (once, cached) --------------------------

def _tar_layer(path: Path, entries: list[tuple[str, bytes | None]]) -> Path:
    """An uncompressed layer tar: (name, data) files, (name/, None) dirs."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime = 1700000000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return path


def _repack(layout: Path, tag: str, work: Path, change) -> None:
    """umoci unpack `tag`, let `change(rootfs)` edit the tree, repack onto the
    same tag: umoci computes the layer diff, whiteouts included."""
    bundle = work / f"bundle-{tag}"
    run("umoci", "unpack", "--image", f"{layout}:{tag}", str(bundle))
    change(bundle / "rootfs")
    run("umoci", "repack", "--image", f"{layout}:{tag}", str(bundle))
    shutil.rmtree(bundle)


def _build_alpine(layout: Path, work: Path) -> None:
    import gzip
    run("umoci", "init", "--layout", str(layout))
    run("umoci", "new", "--image", f"{layout}:3.20")
    tar = work / "alpine.tar"
    with gzip.open(ALPINE_TAR) as src, open(tar, "wb") as dst:
        shutil.copyfileobj(src, dst)
    run("umoci", "raw", "add-layer", "--image", f"{layout}:3.20",
        "--history.created_by", f"ADD {ALPINE_TAR.name} /", str(tar))
    run("umoci", "config", "--image", f"{layout}:3.20", "--config.cmd", "/bin/sh",
        "--config.env", ALPINE_PATH, "--os", "linux", "--architecture", "amd64", "--no-history")


def _whiteout_changes():
    def add(root: Path):
        (root / "data/gone").mkdir(parents=True)
        (root / "data/keep.txt").write_text("kept\n")
        (root / "data/gone/a.txt").write_text("a\n")
        (root / "data/gone/b.txt").write_text("b\n")
        (root / "opaque").mkdir()
        (root / "opaque/old.txt").write_text("old\n")

    def remove(root: Path):
        shutil.rmtree(root / "data/gone")
        (root / "etc/motd").unlink()
        (root / "bin/gunzip").unlink()  # a symlink to /bin/busybox
    return add, remove


def _build_whiteouts(layout: Path, work: Path) -> None:
    run("umoci", "tag", "--image", f"{layout}:3.20", "whiteouts")
    add, remove = _whiteout_changes()
    _repack(layout, "whiteouts", work, add)
    _repack(layout, "whiteouts", work, remove)
    # An opaque directory umoci would not write by itself: the layer replaces opaque/.
    tar = _tar_layer(work / "opaque.tar", [("opaque/", None), ("opaque/.wh..wh..opq", b""),
                                           ("opaque/new.txt", b"new\n")])
    run("umoci", "raw", "add-layer", "--image", f"{layout}:whiteouts",
        "--history.created_by", "opaque dir", str(tar))


def _generated_files(root: Path, rng: random.Random, layer: int) -> None:
    """Layer 2: many small files (half compressible text); layer 3: a few large
    random files; layer 4: medium files and two large ones."""
    base = root / f"gen/layer{layer}"
    if layer == 2:
        for i in range(3000):
            d = base / f"d{i % 50:02d}"
            d.mkdir(parents=True, exist_ok=True)
            size = rng.randint(512, 8192)
            data = rng.randbytes(size) if i % 2 else (f"line {i} " * size)[:size].encode()
            (d / f"f{i:04d}").write_bytes(data)
    elif layer == 3:
        base.mkdir(parents=True)
        for i in range(3):
            (base / f"large{i}.bin").write_bytes(rng.randbytes(15 << 20))
    else:
        for i in range(400):
            d = base / f"m{i % 20:02d}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"f{i:03d}.bin").write_bytes(rng.randbytes(rng.randint(20 << 10, 80 << 10)))
        for i in range(2):
            (base / f"large{i}.bin").write_bytes(rng.randbytes(8 << 20))


def _build_big(layout: Path, work: Path) -> None:
    run("umoci", "tag", "--image", f"{layout}:3.20", "big")
    rng = random.Random(20240501)
    for layer in (2, 3, 4):
        _repack(layout, "big", work, lambda root, n=layer: _generated_files(root, rng, n))


def build_layout(cache: Path = CACHE) -> Path:
    """The cached OCI layout with tags 3.20, whiteouts and big (made once)."""
    layout = cache / "images.oci"
    if (layout / "index.json").exists():
        return layout
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as tmp:
        work = Path(tmp)
        built = work / "images.oci"
        _build_alpine(built, work)
        _build_whiteouts(built, work)
        _build_big(built, work)
        try:
            built.rename(layout)
        except OSError:  # another session finished first
            pass
    return layout


# -- seeding a registry -------------------------------------------------------

def inspect_raw(ref: str, creds: list[str] = ()) -> bytes:
    """The manifest bytes exactly as the registry serves them (skopeo, not us)."""
    res = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", *creds, f"docker://{ref}"],
                         capture_output=True, timeout=60)
    if res.returncode != 0:
        raise RuntimeError(f"skopeo inspect --raw {ref}: {res.stderr.decode()[-1000:]}")
    return res.stdout


def skopeo_copy(src: str, dest: str, *extra: str) -> None:
    run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", *extra, src, dest)


def _push_busybox_lists(address: str, creds: list[str]) -> None:
    """podman manifest create/add of both busybox layouts, pushed as an OCI
    index (:latest) and converted to a Docker manifest list (:1.38)."""
    tmp = Path(tempfile.mkdtemp(prefix="minictr-podman-", dir="/tmp"))  # runroot: 50 chars at most
    env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
    env.pop("CONTAINERS_STORAGE_CONF", None)
    podman = ["podman", "--root", str(tmp / "root"), "--runroot", str(tmp / "runroot"),
              "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    try:
        run(*podman, "manifest", "create", "busybox-list", env=env)
        for layout in (BUSYBOX_AMD64, BUSYBOX_ARM64):
            run(*podman, "manifest", "add", "busybox-list", f"oci:{layout}", env=env)
        push = [*podman, "manifest", "push", "--all", "--quiet", "--tls-verify=false", *creds]
        run(*push, "busybox-list", f"docker://{address}/library/busybox:latest", env=env)
        run(*push, "--format", "v2s2", "busybox-list", f"docker://{address}/library/busybox:1.38", env=env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def seed(registry) -> dict[str, SeededImage]:
    """Push every seeded image into `registry` (a tests.support.registry.Registry);
    returns name:tag → SeededImage and stores it on registry.images."""
    layout = build_layout()
    address, dest_creds = registry.address, registry.skopeo_creds("--dest-creds")
    _push_busybox_lists(address, registry.skopeo_creds("--creds"))
    copies = [
        (f"oci:{BUSYBOX_AMD64}", "library/busybox:amd64-only", ["--format", "v2s2"]),
        (f"oci:{layout}:3.20", "library/alpine:3.20", []),
        (f"oci:{HELLO_WORLD}", "library/hello-world:latest", []),
        (f"oci:{layout}:whiteouts", "test/whiteouts:latest", []),
        (f"oci:{layout}:big", "test/big:latest", []),
    ]
    for src, dest, extra in copies:
        skopeo_copy(src, f"docker://{address}/{dest}", *dest_creds, *extra)
    refs = ["library/busybox:latest", "library/busybox:1.38"] + [dest for _, dest, _ in copies]
    registry.images = read_back(registry, refs)
    return registry.images


def _media_type(manifest: dict) -> str:
    """OCI manifests may omit mediaType; the registry then goes by the shape."""
    if "mediaType" in manifest:
        return manifest["mediaType"]
    return ("application/vnd.oci.image.index.v1+json" if "manifests" in manifest
            else "application/vnd.oci.image.manifest.v1+json")


def read_back(registry, refs: list[str]) -> dict[str, SeededImage]:
    images = {}
    for ref in refs:
        raw = inspect_raw(f"{registry.address}/{ref}", registry.skopeo_creds("--creds"))
        name, tag = ref.rsplit(":", 1)
        images[ref] = SeededImage(name, tag, raw, "sha256:" + hashlib.sha256(raw).hexdigest(),
                                  _media_type(json.loads(raw)))
    return images
