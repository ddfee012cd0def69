#!/usr/bin/env python3
"""`minictr run --rm busybox true` of two commits, side by side: did a
change make the start slower? Each commit is checked out in a worktree of
its own with its own venv (the C shim built there), gets a private root
with busybox loaded and its own default bridge, and the timed runs
alternate between the two (the order reversed every other round) after
the warm-ups.

    .venv/bin/python bench/commit_compare.py OLD [NEW] [--runs 20] [--warmup 3]
                                             [--network bridge|none] [--keep]

NEW defaults to the working tree's HEAD. Printed: each side's median and
the median of the per-round ratios new/old. Run as root; the worktrees go
under /tmp/minictr-bench-<sha> (kept with --keep, so a second run skips
the builds). No packet leaves the machine: the containers run `true`."""
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
from support.engine_env import EngineEnv, _layout_tar  # noqa: E402
from support.bundles import BUSYBOX_LAYOUT  # noqa: E402


def sh(cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: float = 900) -> str:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr.strip()[-2000:]}")
    return res.stdout


def checkout(commit: str) -> tuple[str, Path]:
    """A worktree of `commit` with its own venv and launchers."""
    sha = sh(["git", "rev-parse", "--verify", f"{commit}^{{commit}}"], cwd=REPO).strip()
    tree = Path(f"/tmp/minictr-bench-{sha[:12]}")
    if not (tree / ".venv" / "bin" / "minictr").exists():
        if tree.exists():
            sh(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO)
        print(f"building {sha[:12]} in {tree} ...", flush=True)
        sh(["git", "worktree", "add", "--detach", str(tree), sha], cwd=REPO)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        sh(["/usr/bin/python3", "-m", "venv", str(tree / ".venv")], env=env)
        sh([str(tree / ".venv/bin/pip"), "install", "-q", "-e", str(tree), "--config-settings",
            "editable_mode=compat"], env=env)
        sh([str(tree / ".venv/bin/python"), "-m", "compileall", "-q", str(tree / "minictr")], env=env)
        sh([str(tree / ".venv/bin/python"), "-m", "minictr.launchers"], cwd=tree, env=env)
    return sha, tree


class Side:
    """One commit's minictr with a private root and bridge."""

    def __init__(self, label: str, tree: Path, work: Path):
        self.label, self.bin = label, str(tree / ".venv" / "bin" / "minictr")
        self.env = EngineEnv(work)
        self.env.env.pop("PYTHONDONTWRITEBYTECODE", None)

    def __call__(self, *args: str) -> None:
        sh([self.bin, *args], env=self.env.env, timeout=120)

    def load(self) -> None:
        tar = _layout_tar(BUSYBOX_LAYOUT, self.env.workdir / "busybox.tar")
        self("load", "-i", str(tar))
        self("tag", "busybox:1.38.0-glibc", "busybox:latest")

    def time_run(self, network: str) -> float:
        argv = [self.bin, "run", "--rm", *(["--network", "none"] if network == "none" else []), "busybox", "true"]
        start = time.perf_counter()
        res = subprocess.run(argv, env=self.env.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, timeout=120)
        elapsed = time.perf_counter() - start
        if res.returncode != 0:
            raise SystemExit(f"{self.label}: run exited {res.returncode}: {res.stderr.decode()[-2000:]}")
        return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new", nargs="?", default="HEAD")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--network", choices=("bridge", "none"), default="bridge")
    ap.add_argument("--keep", action="store_true", help="keep the worktrees for the next run")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (namespaces, overlayfs, cgroups)")
    (old_sha, old_tree), (new_sha, new_tree) = checkout(args.old), checkout(args.new)
    work = Path(tempfile.mkdtemp(prefix="mctr-cmp-"))
    sides = [Side(f"old {old_sha[:12]}", old_tree, work / "old"), Side(f"new {new_sha[:12]}", new_tree, work / "new")]
    times: dict[str, list[float]] = {s.label: [] for s in sides}
    ratios: list[float] = []
    try:
        for side in sides:
            side.load()
        for _ in range(args.warmup):
            for side in sides:
                side.time_run(args.network)
        for i in range(args.runs):
            got = {}
            for side in (sides if i % 2 == 0 else sides[::-1]):
                got[side.label] = side.time_run(args.network)
                times[side.label].append(got[side.label])
            ratios.append(got[sides[1].label] / got[sides[0].label])
    finally:
        for side in sides:
            left = side.env.teardown()
            if left:
                print(f"{side.label}: left mounted {left}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            for tree in {old_tree, new_tree}:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
    print(f"run --rm busybox true, --network {args.network}, {args.runs} alternating rounds after "
          f"{args.warmup} warm-ups")
    for side in sides:
        values = times[side.label]
        print(f"  {side.label}: median {statistics.median(values) * 1000:7.1f} ms  "
              f"min {min(values) * 1000:7.1f} ms")
    print(f"  median ratio new/old: {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
