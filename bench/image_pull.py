#!/usr/bin/env python3
"""A cold pull of a ~95 MB, 4-layer image from a local registry:
`minictr pull` vs `podman pull` vs `skopeo copy` + `umoci unpack` (and
`docker pull` through a private dockerd with --with-docker), alternating,
medians and ratios to podman printed.

    .venv/bin/python bench/image_pull.py [--runs 5] [--with-docker]

Run as root. Starts Debian's docker-registry on 127.0.0.1 and seeds it with
skopeo (the image is built once with umoci and cached under .cache/).
Every run starts from an empty store: a fresh minictr root, a fresh podman
--root, a fresh OCI layout; docker removes the image and prunes between runs.

Those stores are deleted only at the end. On an ext4 without a journal (as
this project's CI machines have) every file create scans past the inodes
deleted in its block group in the last minutes (the kernel's
recently_deleted()), so deleting one run's 5000 files would make the next
runs' creates several times slower, whichever tool made them: each tool
would pay for its predecessor's cleanup.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from support import engines, seeded_images  # noqa: E402
from support.registry import Registry  # noqa: E402

VENV_BIN = Path(sys.executable).parent
IMAGE = "test/big:latest"


def timed(cmd: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:3])} failed ({res.returncode}): {res.stderr.decode()[-2000:]}")
    return elapsed


class Contenders:
    def __init__(self, tmp: Path, registry: Registry, with_docker: bool):
        self.tmp, self.ref = tmp, f"{registry.address}/{IMAGE}"
        self.registry = registry
        self.dockerd = None
        self.docker = None
        self.cleanups: list = []
        if with_docker:
            self.dockerd = engines.Dockerd(Path(tempfile.mkdtemp(prefix="mb-docker-")), "runc")
            self.docker = self.dockerd.start()

    def minictr(self, i: int) -> float:
        root = self.tmp / f"minictr-{i}"
        env = {"PATH": os.environ["PATH"], "MINICTR_ROOT": str(root), "HOME": str(self.tmp),
               "MINICTR_REGISTRIES_CONF": "/dev/null"}
        self.cleanups.append(lambda: shutil.rmtree(root, ignore_errors=True))
        return timed([str(VENV_BIN / "minictr"), "pull", "-q", self.ref], env)

    def podman(self, i: int) -> float:
        # podman refuses a runroot longer than 50 characters
        root = Path(tempfile.mkdtemp(prefix="mb-podman-"))
        env = dict(os.environ, CONTAINERS_CONF=str(engines.CONTAINERS_CONF))
        storage = ["podman", "--root", str(root / "root"), "--runroot", str(root / "run"),
                   "--storage-driver", "overlay"]

        def cleanup():
            subprocess.run(storage + ["system", "reset", "-f"], env=env, capture_output=True)
            engines.unmount_under(root)
            shutil.rmtree(root, ignore_errors=True)
        self.cleanups.append(cleanup)
        return timed(storage + ["pull", "-q", "--tls-verify=false", self.ref], env)

    def skopeo_umoci(self, i: int) -> float:
        work = self.tmp / f"su-{i}"
        work.mkdir()
        self.cleanups.append(lambda: shutil.rmtree(work, ignore_errors=True))
        return (timed(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{self.ref}",
                       f"oci:{work}/layout:t"])
                + timed(["umoci", "unpack", "--image", f"{work}/layout:t", str(work / "bundle")]))

    def docker_pull(self, i: int) -> float:
        # one daemon holds one copy of a layer: docker alone pays for its removal between runs
        try:
            return timed(self.docker.argv + ["pull", "-q", self.ref])
        finally:
            self.docker("rmi", "-f", self.ref, check=False)
            self.docker("image", "prune", "-af", check=False)

    def close(self) -> None:
        for cleanup in self.cleanups:
            cleanup()
        if self.dockerd:
            self.dockerd.stop()
            engines.unmount_under(self.dockerd.tmp)
            shutil.rmtree(self.dockerd.tmp, ignore_errors=True)


def image_size(layout: Path, tag: str) -> tuple[int, int]:
    import json
    index = json.loads((layout / "index.json").read_text())
    desc = next(m for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    manifest = json.loads((layout / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_text())
    return sum(layer["size"] for layer in manifest["layers"]), len(manifest["layers"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--with-docker", action="store_true", help="also time a private dockerd's pull")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root")
    missing = [t for t in seeded_images.missing_tools() + ["podman"] if not shutil.which(t)]
    if missing:
        raise SystemExit(f"bench: not installed: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="minictr-bench-pull-") as tmpdir:
        tmp = Path(tmpdir)
        registry = Registry(tmp / "registry", "anonymous").start()
        contenders = None
        try:
            layout = seeded_images.build_layout()
            seeded_images.skopeo_copy(f"oci:{layout}:big", f"docker://{registry.address}/{IMAGE}",
                                      "--dest-tls-verify=false")
            contenders = Contenders(tmp, registry, a.with_docker)
            runs = {"minictr": contenders.minictr, "podman": contenders.podman,
                    "skopeo+umoci": contenders.skopeo_umoci}
            if a.with_docker:
                runs["docker"] = contenders.docker_pull
            times: dict[str, list[float]] = {name: [] for name in runs}
            for i in range(a.warmup):
                for fn in runs.values():
                    fn(1000 + i)
            for i in range(a.runs):
                order = list(runs.items()) if i % 2 == 0 else list(reversed(runs.items()))
                for name, fn in order:
                    times[name].append(fn(i))
        finally:
            if contenders:
                contenders.close()
            registry.stop()
    medians = {name: statistics.median(t) for name, t in times.items()}
    size, layers = image_size(layout, "big")
    print(f"cold pull of {IMAGE} ({size / 1e6:.0f} MB compressed, {layers} layers) from a local registry: "
          f"{a.runs} alternating runs after {a.warmup} warm-up")
    print(f"{'tool':<16}{'median':>10}{'min':>10}{'max':>10}{'vs podman':>11}")
    for name, t in times.items():
        print(f"{name:<16}{medians[name]:>9.2f}s{min(t):>9.2f}s{max(t):>9.2f}s{medians[name] / medians['podman']:>10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
