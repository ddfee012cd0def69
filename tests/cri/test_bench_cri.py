"""bench/cri.py at its smallest (--runs 1 --pods 2): both servers side by
side, the table printed with a minictr and a containerd column, every
metric measured on both, nothing left behind, exit 0. A check that the
script works, not a measurement (its figures are not looked at)."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench" / "cri.py"
sys.path.append(str(BENCH.parent))
from cri_servers import missing_tools  # noqa: E402

pytestmark = pytest.mark.root


def test_bench_cri_smoke():
    missing = missing_tools()
    if missing:
        pytest.skip(f"bench/cri.py needs: {', '.join(missing)} (apt install containerd docker-registry skopeo umoci)")
    res = subprocess.run([sys.executable, str(BENCH), "--runs", "1", "--pods", "2"], capture_output=True,
                         text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr[-3000:]}"
    lines = res.stdout.splitlines()
    head = next(line for line in lines if line.strip().startswith("metric"))
    assert head.split()[:4] == ["metric", "minictr", "containerd", "ratio"]
    rows = [line for line in lines[lines.index(head) + 1:] if " ms" in line or " MiB" in line]
    labels = ["pod start, median", "pod start, p90", "pod stop+remove, median", "pod stop+remove, p90",
              "2 pods started concurrently", "2 pods stopped+removed concurrently", "server RSS",
              "server + shims RSS", "server + shims PSS"]
    for label in labels:
        row = next((r for r in rows if r.strip().startswith(label)), None)
        assert row is not None and "failed" not in row, f"{label}: {row}\n{res.stdout}"
    verdicts = [r for r in rows if "<=" in r]
    assert len(verdicts) == 4 and all("[PASS]" in r or "[MISS]" in r for r in verdicts), res.stdout
    assert "nothing left behind" in res.stdout, res.stdout
