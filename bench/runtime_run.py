#!/usr/bin/env python3
"""`minictr-runtime run` against `runc run` on the same busybox bundle:
warm-ups, then alternating runs, medians and their ratio.

    .venv/bin/python bench/runtime_run.py [--runs 20] [--warmup 2] [--cmd true]

Run as root. The bundle is runc's default spec with the real busybox image;
each run creates, starts, waits for and deletes a container (what an engine's
`run --rm` costs at the runtime level)."""
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.bundles import make_bundle, runc_default_spec  # noqa: E402

VENV_BIN = Path(sys.executable).parent


def runtimes() -> dict[str, str]:
    found = {"minictr-runtime": str(VENV_BIN / "minictr-runtime")}
    for name in ("runc", "crun"):
        path = shutil.which(name)
        if path:
            found[name] = path
    return found


def one_run(binary: str, root: str, bundle: Path, cid: str) -> float:
    start = time.perf_counter()
    res = subprocess.run([binary, "--root", root, "run", "--bundle", str(bundle), cid],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"{binary} run failed ({res.returncode}): {res.stderr.decode().strip()}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--cmd", default="true", help="the container's command (default: true)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root")
    found = runtimes()
    if "runc" not in found:
        raise SystemExit("bench: runc is not installed (apt-get install runc)")
    with tempfile.TemporaryDirectory(prefix="minictr-bench-") as tmp:
        spec = runc_default_spec()
        spec["process"]["terminal"] = False
        spec["process"]["args"] = a.cmd.split()
        bundle = make_bundle(Path(tmp) / "bundle", spec)
        roots = {name: tempfile.mkdtemp(dir=tmp, prefix=name) for name in found}
        times: dict[str, list[float]] = {name: [] for name in found}
        for i in range(a.warmup):
            for name, binary in list(found.items()):
                try:
                    one_run(binary, roots[name], bundle, f"warm{i}")
                except SystemExit as e:
                    if name in ("runc", "minictr-runtime"):
                        raise
                    print(f"(skipping {name}: {e})")  # crun refuses hybrid cgroup hosts
                    del found[name], times[name]
        for i in range(a.runs):
            # alternate the order so neither side always runs first
            order = list(found.items()) if i % 2 == 0 else list(reversed(found.items()))
            for name, binary in order:
                times[name].append(one_run(binary, roots[name], bundle, f"bench{i}"))
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"runtime run of `{a.cmd}` on the busybox bundle: {a.runs} alternating runs after {a.warmup} warm-ups")
    print(f"{'runtime':<18}{'median':>10}{'min':>10}{'max':>10}{'vs runc':>10}")
    for name, t in times.items():
        ratio = medians[name] / medians["runc"]
        print(f"{name:<18}{medians[name] * 1000:>8.1f}ms{min(t) * 1000:>8.1f}ms{max(t) * 1000:>8.1f}ms{ratio:>9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
