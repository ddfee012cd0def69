"""Engine tests: the `minictr` CLI as a user drives it, as root against the
real kernel, with a private root per module (busybox loaded from the real
Docker Hub layout). Each test removes its containers; the module's
teardown checks nothing is left mounted."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.engine_env import module_engine  # noqa: E402

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def mc(tmp_path_factory):
    yield from module_engine(tmp_path_factory, "engine")


@pytest.fixture(autouse=True)
def _remove_leftovers(request):
    """Containers a failed test registered in mc.leftovers go before the next test."""
    yield
    if "mc" in request.fixturenames:
        env = request.getfixturevalue("mc")
        if env.leftovers:
            env("rm", "-f", *env.leftovers, timeout=120)
            env.leftovers.clear()


@pytest.fixture
def engine(mc, monkeypatch):
    """The module's engine as a library (what the builder, CRI server and
    kubelet use), in this process, with the module's private bridge."""
    for key in ("MINICTR_BRIDGE_NAME", "MINICTR_BRIDGE_SUBNET", "MINICTR_NETWORK_CONF"):
        monkeypatch.setenv(key, mc.env[key])
    from minictr.engine.containers import Engine
    engine = Engine(str(mc.root))
    yield engine
    engine.close()
