"""Shared fixtures: a venv-installed minictr, busybox bundles, cleanup."""
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import bundles  # noqa: E402

IS_ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "root" in item.keywords and not IS_ROOT:
            item.add_marker(pytest.mark.skip(reason="needs root"))


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> Path:
    if not bundles.BUSYBOX_LAYOUT.exists():
        pytest.skip(f"busybox OCI layout not found at {bundles.BUSYBOX_LAYOUT}")
    root = tmp_path_factory.mktemp("busybox") / "rootfs"
    bundles.unpack_busybox(root)
    return root


@pytest.fixture(scope="session")
def probe(tmp_path_factory) -> Path:
    """The static syscall probe (tests/support/syscall_probe.c), to bind-mount into containers."""
    from support.probe import build_probe
    built = build_probe(tmp_path_factory.mktemp("probe"))
    if isinstance(built, str):
        pytest.skip(built)
    return built


@pytest.fixture
def runtime_root(tmp_path) -> Path:
    """A private --root for minictr-runtime/runc state, removed afterwards."""
    d = tmp_path / "state"
    d.mkdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def venv_bin(name: str) -> str:
    """Console scripts live beside the interpreter running the tests."""
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else (shutil.which(name) or name)
