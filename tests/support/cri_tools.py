"""The real crictl (kubernetes-sigs/cri-tools 1.36) from ../shared/tools,
unpacked once by that folder's unpack.sh; None with the reason where it
is missing, so the tests that need it skip saying why."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .bundles import REPO

SHARED_TOOLS = Path(os.environ.get("MINICTR_SHARED_TOOLS", REPO.parent / "shared" / "tools"))


def crictl() -> tuple[Path | None, str]:
    """(path of crictl, '') or (None, why not)."""
    unpack = SHARED_TOOLS / "unpack.sh"
    if not unpack.exists():
        return None, f"crictl: {unpack} not found (the shared tools folder is missing)"
    res = subprocess.run(["bash", str(unpack)], capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        return None, f"crictl: {unpack} failed: {res.stderr.strip()[-500:]}"
    path = Path(res.stdout.strip().splitlines()[-1]) / "crictl"
    if not os.access(path, os.X_OK):
        return None, f"crictl: {path} is not there after unpack.sh"
    return path, ""
