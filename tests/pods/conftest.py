"""Pod-layer fixtures: `podnet`, a private CNI world (conf dir, bridge,
subnet, host-local dataDir, cache, netns root) torn down after the module;
teardown fails the module if any rule naming its network survives."""
import os

import pytest

from support.cni_env import PodNetEnv, missing_plugins


@pytest.fixture(scope="module")
def podnet(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("CNI plugins need root (netns, veth, iptables)")
    missing = missing_plugins("bridge", "host-local", "portmap", "loopback", "tuning")
    if missing:
        pytest.skip(f"CNI plugins missing from /usr/lib/cni: {', '.join(missing)} "
                    "(apt install containernetworking-plugins)")
    env = PodNetEnv(tmp_path_factory.mktemp("podnet"))
    yield env
    left = env.teardown()
    assert not left, f"left behind: {left}"
