#!/usr/bin/env python3
"""Layer unpack: minictr's unpacker against GNU `tar -xzf` and `umoci
unpack` on the same compressed layer blobs; medians of several runs, ratios.

    .venv/bin/python bench/layer_unpack.py [--runs 5] [--sets alpine,busybox,generated]

Run as root (owners, device nodes, trusted.* xattrs). Each set is made into
an OCI layout by `umoci new` + `umoci raw add-layer` (one layer per tar), and
every tool reads that layout's gzip blobs:

  minictr      one process: every layer decompressed and unpacked into its
               own snapshot dir, layers in parallel threads (as a pull does),
               each decompressed a few chunks ahead in its own thread
  minictr-seq  the same, one layer after the other, no read-ahead
  tar          `tar -xzf blob -C dir --numeric-owner` per layer, one after the other
  umoci        `umoci unpack --image layout:tag bundle` (all layers into one rootfs)

Sets: the alpine 3.20 minirootfs and the busybox glibc layer from
../shared/images, and a generated 4-layer image of about 100 MB compressed
(many small text files, some large random ones, symlinks, hard links,
whiteouts, an opaque dir), built once into --cache.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MINICTR_SHARED_IMAGES", REPO.parent / "shared" / "images"))
ALPINE = SHARED / "alpine" / "alpine-minirootfs-3.20.3-x86_64.tar.gz"
BUSYBOX = SHARED / "busybox" / "busybox-1.38.0-glibc-amd64.oci"
GENERATED_VERSION = "v1"


# -- data sets -------------------------------------------------------------
def _text_block(rng: random.Random, size: int) -> bytes:
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
             for _ in range(3000)]
    out, n = [], 0
    while n < size:
        line = b" ".join(rng.choice(words) for _ in range(12)) + b"\n"
        out.append(line)
        n += len(line)
    return b"".join(out)[:size]


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None, *, kind=tarfile.REGTYPE,
         mode: int = 0o644, link: str = "", uid: int = 0) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.uid, info.gid = kind, mode, link, uid, uid
    info.mtime = 1_700_000_000
    info.size = len(data) if data is not None else 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def _generated_layers(out: Path) -> list[Path]:
    """Four uncompressed layer tars; about 100 MB once gzipped."""
    rng = random.Random(20240611)
    text = _text_block(rng, 8 << 20)

    def some_text(n: int) -> bytes:
        if n >= len(text) // 2:
            return (text * (n // len(text) + 1))[:n]
        start = rng.randrange(0, len(text) - n)
        return text[start:start + n]

    def small_files(tar, top: str, count: int, dirs: int) -> list[str]:
        names = []
        for d in range(dirs):
            _add(tar, f"{top}/d{d:03}", kind=tarfile.DIRTYPE, mode=0o755)
        for i in range(count):
            size = min(int(rng.lognormvariate(8.3, 1.3)), 256 << 10)
            data = some_text(size) if i % 4 else rng.randbytes(size)
            name = f"{top}/d{i % dirs:03}/f{i:05}.dat"
            _add(tar, name, data, mode=0o755 if i % 9 == 0 else 0o644, uid=1000 if i % 13 == 0 else 0)
            names.append(name)
        return names

    paths = []
    specs = ["base", "runtime", "app", "data"]
    for n, label in enumerate(specs, 1):
        path = out / f"layer{n}-{label}.tar"
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
            if n == 1:
                for d in ("usr", "usr/lib", "usr/share", "etc", "opt"):
                    _add(tar, d, kind=tarfile.DIRTYPE, mode=0o755)
                names = small_files(tar, "usr/share", 6000, 300)
                for i in range(200):
                    target = f"/{names[i]}" if i % 2 else f"../../{names[i]}"
                    _add(tar, f"usr/lib/link{i:03}", kind=tarfile.SYMTYPE, link=target, mode=0o777)
                for i in range(100):
                    _add(tar, f"usr/lib/hard{i:03}", kind=tarfile.LNKTYPE, link=names[i + 300])
                _add(tar, "opt/cache", kind=tarfile.DIRTYPE, mode=0o755)
                for i in range(50):
                    _add(tar, f"opt/cache/c{i}", some_text(2000))
            elif n == 2:
                _add(tar, "usr", kind=tarfile.DIRTYPE, mode=0o755)
                _add(tar, "usr/lib", kind=tarfile.DIRTYPE, mode=0o755)
                for i in range(2):
                    _add(tar, f"usr/lib/libbig{i}.so", rng.randbytes(14 << 20), mode=0o755)
                _add(tar, "usr/lib/locale.db", some_text(8 << 20))
                _add(tar, "usr/lib/locale2.db", some_text(8 << 20))
            elif n == 3:
                _add(tar, "usr", kind=tarfile.DIRTYPE, mode=0o755)
                _add(tar, "usr/share", kind=tarfile.DIRTYPE, mode=0o755)
                for i in range(0, 600, 6):
                    _add(tar, f"usr/share/d{i % 300:03}/.wh.f{i:05}.dat")
                _add(tar, "opt", kind=tarfile.DIRTYPE, mode=0o755)
                _add(tar, "opt/cache", kind=tarfile.DIRTYPE, mode=0o755)
                _add(tar, "opt/cache/.wh..wh..opq")
                small_files(tar, "srv/app", 4000, 200)
            else:
                _add(tar, "var", kind=tarfile.DIRTYPE, mode=0o755)
                _add(tar, "var/data", kind=tarfile.DIRTYPE, mode=0o755)
                _add(tar, "var/data/blob.bin", rng.randbytes(30 << 20))
                small_files(tar, "var/data", 800, 40)
        paths.append(path)
    return paths


def _layout(name: str, tars: list[Path], cache: Path) -> Path:
    """An OCI layout with tag `bench`, one layer per tar, made by umoci."""
    layout = cache / f"{name}.oci"
    if (layout / "index.json").exists():
        return layout
    tmp = cache / f"{name}.oci.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["umoci", "init", "--layout", str(tmp)], check=True)
    subprocess.run(["umoci", "new", "--image", f"{tmp}:bench"], check=True)
    for tar in tars:
        subprocess.run(["umoci", "raw", "add-layer", "--image", f"{tmp}:bench", str(tar)], check=True)
    tmp.rename(layout)
    return layout


def _gunzipped(src: Path, dst: Path) -> Path:
    if not dst.exists():
        subprocess.run(f"gzip -dc '{src}' > '{dst}.tmp' && mv '{dst}.tmp' '{dst}'", shell=True, check=True)
    return dst


def build_sets(cache: Path, wanted: list[str]) -> dict[str, Path]:
    cache.mkdir(parents=True, exist_ok=True)
    sets = {}
    if "alpine" in wanted:
        sets["alpine"] = _layout("alpine", [_gunzipped(ALPINE, cache / "alpine.tar")], cache)
    if "busybox" in wanted:
        layer = _layer_blobs(BUSYBOX)[0]
        sets["busybox"] = _layout("busybox", [_gunzipped(layer, cache / "busybox.tar")], cache)
    if "generated" in wanted:
        gen = cache / f"generated-{GENERATED_VERSION}"
        if not (cache / f"generated-{GENERATED_VERSION}.oci" / "index.json").exists():
            gen.mkdir(exist_ok=True)
            tars = _generated_layers(gen)
        else:
            tars = []
        sets["generated"] = _layout(f"generated-{GENERATED_VERSION}", tars, cache)
        shutil.rmtree(gen, ignore_errors=True)
    return sets


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / digest.replace(":", "/")


def _layer_blobs(layout: Path) -> list[Path]:
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(_blob(layout, index["manifests"][0]["digest"]).read_text())
    return [_blob(layout, layer["digest"]) for layer in manifest["layers"]]


# -- the contenders ----------------------------------------------------------
def unpack_minictr(blobs: list[str], out: str, parallel: bool) -> None:
    """In this process: what a pull does with stored blobs."""
    sys.path.insert(0, str(REPO))
    from minictr.image.layer_stream import open_layer
    from minictr.image.unpack import unpack_layer

    def one(i: int) -> None:
        dest = os.path.join(out, f"layer{i}")
        os.mkdir(dest)
        with open(blobs[i], "rb") as f:
            stream = open_layer(f, "application/vnd.oci.image.layer.v1.tar+gzip", read_ahead=parallel)
            try:
                unpack_layer(stream, dest, layer=blobs[i])
            finally:
                stream.close()

    if parallel:
        with ThreadPoolExecutor(max_workers=len(blobs)) as pool:
            list(pool.map(one, range(len(blobs))))
    else:
        for i in range(len(blobs)):
            one(i)


def commands(layout: Path, out: str) -> dict[str, list[list[str]]]:
    blobs = [str(b) for b in _layer_blobs(layout)]
    me = [sys.executable, __file__, "--unpack-into", out]
    tar = []
    for i, blob in enumerate(blobs):
        tar.append(["mkdir", f"{out}/layer{i}"])
        tar.append(["tar", "-xzf", blob, "-C", f"{out}/layer{i}", "--numeric-owner"])
    return {
        "minictr": [me + ["--parallel"] + blobs],
        "minictr-seq": [me + blobs],
        "tar": tar,
        "umoci": [["umoci", "unpack", "--image", f"{layout}:bench", f"{out}/bundle"]],
    }


def time_once(steps: list[list[str]]) -> float:
    start = time.perf_counter()
    for step in steps:
        res = subprocess.run(step, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if res.returncode != 0:
            raise SystemExit(f"bench: {' '.join(step[:3])} failed: {res.stderr.decode().strip()[-400:]}")
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sets", default="alpine,busybox,generated")
    ap.add_argument("--cache", default="/var/tmp/minictr-bench-layers")
    ap.add_argument("--unpack-into", help=argparse.SUPPRESS)
    ap.add_argument("--parallel", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("blobs", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.unpack_into:
        unpack_minictr(a.blobs, a.unpack_into, a.parallel)
        return 0
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root")
    for tool in ("umoci", "tar", "gzip"):
        if not shutil.which(tool):
            raise SystemExit(f"bench: {tool} is not installed")
    sets = build_sets(Path(a.cache), a.sets.split(","))
    scratch = Path(a.cache) / "scratch"
    print(f"{'set':<11}{'tool':<13}{'median s':>9}{'min s':>8}{'x minictr':>11}   (runs: {a.runs})")
    for name, layout in sets.items():
        blobs = _layer_blobs(layout)
        size = sum(b.stat().st_size for b in blobs)
        results = {}
        shutil.rmtree(scratch, ignore_errors=True)
        for run in range(a.runs):
            for tool in ("minictr", "minictr-seq", "tar", "umoci"):   # interleaved: same cache state
                out = scratch / f"{tool}-{run}"
                out.mkdir(parents=True)
                subprocess.run(["sync"])
                results.setdefault(tool, []).append(time_once(commands(layout, str(out))[tool]))
        # Deleting trees between runs made the next run pay for it (ext4
        # discards, freed pages handed back to the VM host): delete per set.
        shutil.rmtree(scratch, ignore_errors=True)
        subprocess.run(["sync"])
        base = statistics.median(results["minictr"])
        print(f"-- {name}: {len(blobs)} layer(s), {size / 1e6:.1f} MB compressed")
        for tool, times in results.items():
            med = statistics.median(times)
            print(f"{name:<11}{tool:<13}{med:>9.3f}{min(times):>8.3f}{med / base:>10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
