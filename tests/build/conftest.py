"""Build tests: `minictr build` as a user runs it, as root against the real
kernel, with a private engine root per module (busybox loaded from the
real Docker Hub layout), each RUN step in a real container."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.engine_env import module_engine  # noqa: E402

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def mc(tmp_path_factory):
    yield from module_engine(tmp_path_factory, "build",
                             "building runs containers: it needs root (namespaces, overlayfs, cgroups)")


@pytest.fixture
def context(tmp_path):
    """A fresh context dir: context(Dockerfile text, files={name: text}) -> its path."""
    def make(dockerfile: str, files: dict | None = None, name: str = "ctx") -> Path:
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        (root / "Dockerfile").write_text(dockerfile)
        for rel, text in (files or {}).items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        return root
    return make
