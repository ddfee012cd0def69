"""Engine fixtures: one podman store and one private dockerd per module."""
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import bundles, engines, runtimes  # noqa: E402


def _need(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt install podman docker.io skopeo)")
    if not bundles.BUSYBOX_LAYOUT.exists():
        pytest.skip(f"busybox OCI layout not found at {bundles.BUSYBOX_LAYOUT}")


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    _need("podman", "conmon")
    engine, cleanup = engines.podman(tmp_path_factory.mktemp("podman"), runtimes.minictr_runtime())
    try:
        yield engine
    finally:
        cleanup()


@pytest.fixture(scope="module")
def docker(tmp_path_factory):
    _need("dockerd", "containerd", "containerd-shim-runc-v2", "skopeo")
    tmp = tmp_path_factory.mktemp("docker")
    daemon = engines.Dockerd(tmp, runtimes.minictr_runtime())
    try:
        engine = daemon.start()
        engines.docker_load_busybox(engine, tmp)
        yield engine
    finally:
        daemon.stop()
        engines.unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
