"""Where the engine keeps things: everything under one root (default
/var/lib/minictr, `--root` or MINICTR_ROOT to move it), so tests run in
temporary roots side by side."""
from __future__ import annotations

import os

DEFAULT_ROOT = "/var/lib/minictr"


def engine_root(override: str | None = None) -> str:
    return os.path.abspath(override or os.environ.get("MINICTR_ROOT") or DEFAULT_ROOT)


def database(root: str) -> str:
    return os.path.join(root, "minictr.db")
