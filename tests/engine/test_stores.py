"""Several engine roots on one host (`--root A`, `--root B`), with nothing
configured: each root's default network gets a bridge of its own and a
subnet no other root or route uses, so two containers never share an
address; `system prune --all` takes a root's bridges and rules off the
host and `system reset` removes everything the root made."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.bundles import BUSYBOX_LAYOUT  # noqa: E402
from support.engine_env import EngineEnv  # noqa: E402

pytestmark = pytest.mark.root


def _unconfigured(workdir: Path) -> EngineEnv:
    env = EngineEnv(workdir)
    for key in ("MINICTR_BRIDGE_NAME", "MINICTR_BRIDGE_SUBNET"):
        env.env.pop(key, None)
    env.bridge = "mctr" + hashlib.sha256(str(env.root).encode()).hexdigest()[:8]
    env.load_busybox()
    return env


def _link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def _rules_mentioning(text: str) -> list[str]:
    out = []
    for table in ("filter", "nat"):
        res = subprocess.run(["iptables-legacy-save", "-t", table], capture_output=True, text=True)
        out += [line for line in res.stdout.splitlines() if text in line]
    return out


@pytest.fixture
def two_roots(tmp_path):
    if not BUSYBOX_LAYOUT.exists():
        pytest.skip(f"busybox layout missing: {BUSYBOX_LAYOUT}")
    roots = [_unconfigured(tmp_path / "a"), _unconfigured(tmp_path / "b")]
    yield roots
    for env in roots:
        if env.root.exists():
            env.teardown()
            env("system", "reset", "-f", timeout=120)
        subprocess.run(["ip", "link", "del", env.bridge], capture_output=True)


def test_two_roots_get_their_own_bridges_and_subnets(two_roots):
    a, b = two_roots
    addresses = []
    for env in (a, b):
        env.run_detached("--name", "c1", "busybox", "sleep", "60")
        addresses.append(env.inspect_container("c1")["NetworkSettings"]["IPAddress"])
        assert _link_exists(env.bridge)
    assert a.bridge != b.bridge
    assert addresses[0] and addresses[1] and addresses[0] != addresses[1], addresses
    # different /24s, not only different hosts of one
    assert addresses[0].rsplit(".", 1)[0] != addresses[1].rsplit(".", 1)[0], addresses
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    assert f"dev {a.bridge}" in routes and f"dev {b.bridge}" in routes


def test_prune_all_and_reset_leave_nothing_of_a_root_on_the_host(two_roots):
    a, b = two_roots
    a.run_detached("--name", "web", "-p", "127.0.0.1:28080:80", "busybox", "sleep", "60")
    b.run_detached("--name", "web", "busybox", "sleep", "60")
    a("network", "create", "extra", check=True)
    extra = json.loads(a("network", "inspect", "extra", check=True).stdout)[0]["Id"]
    assert _rules_mentioning(a.bridge)
    a("rm", "-f", "web", check=True)
    a("system", "prune", "-a", "-f", check=True)
    assert not _link_exists(a.bridge) and not _link_exists(f"mc-{extra[:12]}")
    assert _rules_mentioning(a.bridge) == [] and _rules_mentioning(f"mc-{extra[:12]}") == []
    # the other root's network is untouched
    assert _link_exists(b.bridge) and _rules_mentioning(b.bridge)
    assert b.inspect_container("web")["State"]["Running"]
    res = b("system", "reset", "-f", timeout=120)
    assert res.returncode == 0, res.stderr
    assert not b.root.exists()
    assert not _link_exists(b.bridge) and _rules_mentioning(b.bridge) == []
    with open("/proc/self/mountinfo") as f:
        assert not [line for line in f if str(b.root) in line]
