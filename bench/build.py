#!/usr/bin/env python3
"""`minictr build` against `podman build` and `docker build` (BuildKit, a
private dockerd), side by side in one run:

  (a) a cold build (--no-cache) of a 6-step Dockerfile: FROM, 3 RUN, COPY of
      a context with 1000 small files, CMD;
  (b) the rebuild with nothing changed;
  (c) the rebuild after touching one copied file;
  (d) the per-step cost of `RUN true`: a build with 10 of them minus one
      with none, over 10 (cold, --no-cache).

    .venv/bin/python bench/build.py [--runs 7] [--skip-docker] [--skip-podman]

Run as root. The base is the busybox image of ../shared/images in each
engine's private store (minictr: a private root; podman: its own --root;
docker: a private dockerd, no bridge, no iptables). RUN steps use
--network none. The rounds alternate engines (the order reversed every
other round); medians and ratios against the faster peer are printed.
Nothing leaves the machine: the steps run `true` and `echo`."""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from support import engines  # noqa: E402
from support.engine_env import EngineEnv  # noqa: E402
from engine_run import timed  # noqa: E402  (bench/ is on the path: one way to time a command)

SIX_STEPS = """\
ARG BASE
FROM $BASE
RUN echo one > /one
RUN echo two > /two
RUN echo three > /three
COPY files /files
CMD ["ls", "/files"]
"""


class Builder:
    """One engine's build command: argv prefix, env, the base image's name."""

    def __init__(self, name: str, argv: list[str], env: dict | None, base: str, extra: list[str]):
        self.name, self.argv, self.env, self.base, self.extra = name, argv, env, base, extra

    def build(self, ctx: Path, dockerfile: Path, no_cache: bool) -> float:
        return timed([*self.argv, "build", *self.extra, *(["--no-cache"] if no_cache else []),
                      "--network", "none", "--build-arg", f"BASE={self.base}", "-f", str(dockerfile),
                      "-t", f"bench-{self.name}:latest", str(ctx)], self.env)


def make_context(root: Path) -> tuple[Path, Path, Path, Path]:
    ctx = root / "ctx"
    (ctx / "files").mkdir(parents=True)
    for i in range(1000):
        (ctx / "files" / f"f{i:04d}.txt").write_text(f"file {i}\n")
    six = root / "six.Dockerfile"
    six.write_text(SIX_STEPS)
    ten = root / "ten.Dockerfile"
    ten.write_text("ARG BASE\nFROM $BASE\n" + "RUN true\n" * 10)
    none = root / "none.Dockerfile"
    none.write_text("ARG BASE\nFROM $BASE\nENV X=1\n")
    return ctx, six, ten, none


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--skip-docker", action="store_true")
    ap.add_argument("--skip-podman", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    tmp = Path(tempfile.mkdtemp(prefix="mb-", dir="/tmp"))   # podman wants a short runroot
    ctx, six, ten, none = make_context(tmp)
    builders: list[Builder] = []
    cleanups = []
    try:
        mc = EngineEnv(tmp / "minictr")
        mc.load_busybox()
        cleanups.append(mc.teardown)
        builders.append(Builder("minictr", [str(Path(sys.executable).parent / "minictr")], mc.env, "busybox", []))
        if not args.skip_podman and shutil.which("podman"):
            podman, cleanup = engines.podman(tmp / "podman", shutil.which("runc"))
            cleanups.append(cleanup)
            builders.append(Builder("podman", podman.argv, podman.env, engines.IMAGE, ["--pull=never"]))
        if not args.skip_docker and shutil.which("dockerd"):
            (tmp / "docker").mkdir()
            daemon = engines.Dockerd(tmp / "docker", shutil.which("runc"))
            docker = daemon.start()
            cleanups.append(daemon.stop)
            engines.docker_load_busybox(docker, tmp / "docker")
            env = dict(os.environ, DOCKER_BUILDKIT="1")
            builders.append(Builder("docker", docker.argv, env, engines.IMAGE, []))
        results: dict[str, dict[str, list[float]]] = {b.name: {k: [] for k in "abcd"} for b in builders}
        for b in builders:   # warm-up: the base image, the engines' own first-build costs
            b.build(ctx, six, no_cache=True)
            b.build(ctx, none, no_cache=True)
        touched = ctx / "files" / "f0000.txt"
        for i in range(args.runs):
            order = builders if i % 2 == 0 else builders[::-1]
            for b in order:
                r = results[b.name]
                r["a"].append(b.build(ctx, six, no_cache=True))
                r["b"].append(b.build(ctx, six, no_cache=False))
                touched.write_text(f"touched {time.time_ns()}\n")
                r["c"].append(b.build(ctx, six, no_cache=False))
                r["d"].append((b.build(ctx, ten, no_cache=True) - b.build(ctx, none, no_cache=True)) / 10)
        labels = {"a": "cold build, 6 steps, 1000-file COPY", "b": "rebuild, nothing changed",
                  "c": "rebuild, one copied file touched", "d": "per RUN true step"}
        print(f"\nbuild benchmark, {args.runs} alternating rounds (medians)")
        for key, label in labels.items():
            med = {b.name: statistics.median(results[b.name][key]) for b in builders}
            peers = [v for n, v in med.items() if n != "minictr"]
            best = min(peers) if peers else None
            print(f"  ({key}) {label}")
            for name, value in med.items():
                ratio = f"{value / best:6.2f}x of the faster peer" if best and name == "minictr" else ""
                print(f"      {name:8} {value * 1000:8.1f} ms  {ratio}")
            if key in "abc" and best:
                verdict = "PASS" if med["minictr"] <= best / 2 else "MISS"
                print(f"      [{verdict}] target: at most 1/2 of the faster peer ({best * 500:.1f} ms)")
            if key == "d":
                verdict = "PASS" if med["minictr"] <= 0.1 else "MISS"
                print(f"      [{verdict}] target: at most 100 ms per step")
    finally:
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception as e:   # noqa: BLE001 - the other cleanups must still run
                print(f"cleanup: {e}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
