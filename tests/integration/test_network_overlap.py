"""A subnet overlapping one of the host's routes is refused, naming both;
automatic subnets step around such routes; our own bridge's route is fine."""
import pytest

from minictr.network import Networks, NetworkConfig, SubnetOverlap

from test_network_helpers import netenv, sh  # noqa: F401

pytestmark = pytest.mark.root


def dummy_route(netenv, cidr_address: str) -> str:
    """A dummy interface with an address: the kernel adds its subnet route.
    (Kernels without the dummy driver get a port-less bridge, which acts the same.)"""
    name = f"mct{netenv.tag}d"
    if sh("ip", "link", "add", name, "type", "dummy", check=False).returncode:
        sh("ip", "link", "add", name, "type", "bridge")
    netenv.extra_links.append(name)
    sh("ip", "addr", "add", cidr_address, "dev", name)
    sh("ip", "link", "set", name, "up")
    return name


def test_overlapping_subnets_are_refused(netenv):
    device = dummy_route(netenv, "10.196.5.1/24")
    environ = dict(netenv.environ, MINICTR_BRIDGE_SUBNET="10.196.0.0/16")
    nets = Networks(netenv.root, netenv.conn, NetworkConfig.load(environ=environ))
    with pytest.raises(SubnetOverlap) as err:
        nets.ensure_default()
    assert str(err.value).startswith(f"subnet 10.196.0.0/16 overlaps the host's route 10.196.5.0/24 dev {device};")
    assert f" {netenv.bridge}:" not in sh("ip", "-o", "link").stdout  # nothing made
    assert nets.list() == []
    nets.close()
    # the test's own default network is fine, a user network over the route is not
    netenv.nets.ensure_default()
    with pytest.raises(SubnetOverlap, match=f"^subnet 10.196.5.128/25 overlaps the host's route 10.196.5.0/24 dev {device};"):
        netenv.nets.create("clash", subnet="10.196.5.128/25")
    # the pool steps around what is taken: 10.196.4.0/24 by "auto", 10.196.5.0/24 by the dummy's route
    pool_env = dict(netenv.environ, MINICTR_NETWORK_POOL="10.196.4.0/22:24")
    pooled = Networks(netenv.root, netenv.conn, NetworkConfig.load(environ=pool_env))
    assert pooled.create("auto").subnet == "10.196.4.0/24"
    assert pooled.create("auto2").subnet == "10.196.6.0/24"
    pooled.close()


def test_own_bridge_route_is_not_an_overlap(netenv):
    net = netenv.nets.ensure_default()
    assert f"{netenv.subnet} dev {net.bridge}" in sh("ip", "route").stdout
    netenv.nets.close()
    again = Networks(netenv.root, netenv.conn, netenv.config)
    sh("ip", "link", "set", net.bridge, "down")  # not ready: the slow path runs the overlap check
    assert again.ensure_default().id == net.id
    again.close()
