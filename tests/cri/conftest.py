"""CRI fixtures: one local registry (Debian's docker-registry on 127.0.0.1)
serving the real busybox and hello-world images, the real crictl, and a
`minictr cri` per test on its own socket and root.

  cri_registry  anonymous registry: library/busybox:latest (OCI manifest,
                glibc amd64), library/hello-world:latest, pause:3.9 (busybox)
  crictl        path of crictl 1.36 (skips with the reason where missing)
  cri           a started CriServer with docker.io and registry.k8s.io
                mirrored to cri_registry; stopped and its dirs removed after"""
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import seeded_images  # noqa: E402
from support.cri_server import CriServer  # noqa: E402
from support.cri_tools import crictl as find_crictl  # noqa: E402
from support.registry import Registry  # noqa: E402

CRI_IMAGES = ((seeded_images.BUSYBOX_AMD64, "library/busybox:latest"),
              (seeded_images.HELLO_WORLD, "library/hello-world:latest"),
              (seeded_images.BUSYBOX_AMD64, "pause:3.9"))


@pytest.fixture(scope="session")
def cri_registry(tmp_path_factory):
    missing = [t for t in ("docker-registry", "skopeo") if not shutil.which(t)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt install docker-registry skopeo)")
    tmp = tmp_path_factory.mktemp("cri-registry")
    registry = Registry(tmp, "anonymous").start()
    try:
        for layout, dest in CRI_IMAGES:
            seeded_images.skopeo_copy(f"oci:{layout}", f"docker://{registry.address}/{dest}")
        registry.images = seeded_images.read_back(registry, [dest for _, dest in CRI_IMAGES])
        yield registry
    finally:
        registry.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def crictl():
    path, why = find_crictl()
    if path is None:
        pytest.skip(why)
    return path


@pytest.fixture
def cri_server(tmp_path_factory, cri_registry):
    """A factory: start(**kw) → a started CriServer; all stopped at the end."""
    started = []

    def start(*extra: str, crictl_path=None, mirror=True, network=True) -> CriServer:
        # /tmp: a unix socket path must stay under 108 bytes
        workdir = Path(tmp_path_factory.mktemp("cri", numbered=True))
        server = CriServer(workdir, mirror=cri_registry.url if mirror else None, crictl=crictl_path,
                           network=network)
        started.append(server)
        return server.start(*extra)

    yield start
    left = []
    for server in started:
        left += server.cleanup()
        shutil.rmtree(server.workdir, ignore_errors=True)
    assert not left, f"left behind: {left}"


@pytest.fixture
def cri(cri_server, crictl):
    return cri_server(crictl_path=crictl)
