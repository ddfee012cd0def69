"""Integration fixtures: real registries (Debian's docker-registry) on
127.0.0.1 with real images seeded by skopeo/podman/umoci.

Session registries serve the seeded images (see tests/support/seeded_images.py
for the list); treat them as read-only and push only to fresh repository
names, or to a registry of your own from `make_registry`.

  seeded_registry   anonymous registry; .address, .url, .images[name:tag]
  basic_registry    htpasswd Basic auth over a copy of the same storage
  token_registry    `auth: token` (Docker Hub's flow) over a copy; .issuer counts
                    token requests; anonymous pull of library/* and test/*;
                    private/hello-world:latest needs credentials
  make_registry     factory(mode="anonymous"|"htpasswd"|"token", seeded=False)
                    → a started Registry of the test's own, stopped afterwards
Users (both modes with auth): alice/wonderland (pull, push), bob/builder (pull)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import seeded_images  # noqa: E402
from support.registry import Registry  # noqa: E402


def _need_registry_tools() -> None:
    missing = seeded_images.missing_tools()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt install docker-registry skopeo umoci podman)")
    if os.geteuid() != 0:
        pytest.skip("seeding the test registry needs root (umoci unpack, podman storage)")


def _copy_storage(src: Path, dest: Path) -> Path:
    """A private copy: the filesystem driver rewrites some files in place."""
    subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    return dest


@pytest.fixture(scope="session")
def seeded_registry(tmp_path_factory):
    _need_registry_tools()
    tmp = tmp_path_factory.mktemp("registry-seeded")
    registry = Registry(tmp, "anonymous").start()
    try:
        seeded_images.seed(registry)
        yield registry
    finally:
        registry.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _auth_registry(tmp_path_factory, seeded_registry, mode: str):
    tmp = tmp_path_factory.mktemp(f"registry-{mode}")
    registry = Registry(tmp, mode, storage=_copy_storage(seeded_registry.storage, tmp / "storage"))
    registry.images = dict(seeded_registry.images)
    return registry.start()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory, seeded_registry):
    registry = _auth_registry(tmp_path_factory, seeded_registry, "htpasswd")
    try:
        yield registry
    finally:
        registry.stop()
        shutil.rmtree(registry.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory, seeded_registry):
    registry = _auth_registry(tmp_path_factory, seeded_registry, "token")
    try:
        seeded_images.skopeo_copy(f"oci:{seeded_images.HELLO_WORLD}",
                                  f"docker://{registry.address}/private/hello-world:latest",
                                  *registry.skopeo_creds("--dest-creds"))
        registry.images.update(seeded_images.read_back(registry, ["private/hello-world:latest"]))
        registry.issuer.requests.clear()
        yield registry
    finally:
        registry.stop()
        shutil.rmtree(registry.workdir, ignore_errors=True)


@pytest.fixture
def make_registry(tmp_path_factory, request):
    """Start registries private to one test: empty, or over a copy of the
    seeded storage (seeded=True). All are stopped when the test ends."""
    started: list[Registry] = []

    def make(mode: str = "anonymous", seeded: bool = False) -> Registry:
        missing = [t for t in ("docker-registry", "skopeo") if not shutil.which(t)]
        if missing:  # skopeo: how tests put images in and check what was pushed
            pytest.skip(f"not installed: {', '.join(missing)} (apt install docker-registry skopeo)")
        tmp = tmp_path_factory.mktemp(f"registry-{mode}")
        storage = None
        if seeded:
            source = request.getfixturevalue("seeded_registry")
            storage = _copy_storage(source.storage, tmp / "storage")
        registry = Registry(tmp, mode, storage=storage)
        if seeded:
            registry.images = dict(source.images)
        started.append(registry)
        return registry.start()

    yield make
    for registry in started:
        registry.stop()
        shutil.rmtree(registry.workdir, ignore_errors=True)
