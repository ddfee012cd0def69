"""The bridge driver against the real kernel: the default network, veths
into namespaces, traffic between them, user networks with names in the
hosts files, isolation, removal and what is left afterwards."""
import os
import subprocess
import sys

import pytest

from minictr.errors import MinictrError
from minictr.network import ActiveEndpoints, NetworkError, NetworkExists, NetworkNotFound
from minictr.network.errors import NetworkConfigError

from test_network_helpers import BUSYBOX, legacy_rules, links, netenv, sh  # noqa: F401

pytestmark = pytest.mark.root
CID = [c * 64 for c in "abcdef"]


def ns_addr(ns: str) -> str:
    return sh("ip", "netns", "exec", ns, "ip", "-o", "-4", "addr", "show", "dev", "eth0").stdout


def ping(ns: str, ip: str) -> bool:
    return sh("ip", "netns", "exec", ns, BUSYBOX, "ping", "-c", "1", "-W", "2", ip, check=False).returncode == 0


def test_default_network_is_made_once_and_found_ready(netenv):
    net = netenv.nets.ensure_default()
    assert (net.name, net.bridge, net.subnet) == ("bridge", netenv.bridge, netenv.subnet)
    assert net.gateway == netenv.subnet.replace(".0/24", ".1")
    assert f"inet {net.gateway}/24" in sh("ip", "-o", "-4", "addr", "show", "dev", net.bridge).stdout
    assert "UP" in sh("ip", "-o", "link", "show", "dev", net.bridge).stdout.split(">")[0]
    assert open("/proc/sys/net/ipv4/ip_forward").read().strip() == "1"
    assert open(f"/proc/sys/net/ipv4/conf/{net.bridge}/route_localnet").read().strip() == "1"
    rules = legacy_rules()
    assert f"-A MINICTR-POSTROUTING -s {netenv.subnet} ! -o {net.bridge}" in rules
    assert "-A FORWARD -m comment --comment \"minictr base forward\" -j MINICTR-FORWARD" in rules
    assert netenv.nets.ensure_default().id == net.id


def test_ready_default_network_and_plain_connect_never_import_iptc(netenv):
    """The hot path: a second process finds the network ready and connects
    a container without ports; python-iptables stays unimported."""
    netenv.nets.ensure_default()
    ns = netenv.netns()
    script = (
        "import sys\n"
        "from minictr.state import db\n"
        "from minictr.network import Networks, NetworkConfig\n"
        f"cfg = NetworkConfig.load(environ={netenv.environ!r})\n"
        f"nets = Networks({netenv.root!r}, db.connect({netenv.db_path!r}), cfg)\n"
        "net = nets.ensure_default()\n"
        f"ep = nets.connect(net, {CID[0]!r}, 'hot', {netenv.path(ns)!r}, 'hot')\n"
        "print(ep.ip, 'iptc' in sys.modules, 'pyroute2' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    ip, iptc_loaded, pyroute2_loaded = out.stdout.split()
    assert ip in ns_addr(ns)
    assert (iptc_loaded, pyroute2_loaded) == ("False", "False")


def test_connect_gives_addresses_and_traffic_flows(netenv):
    net = netenv.nets.ensure_default()
    a, b = netenv.netns(), netenv.netns()
    ep_a = netenv.nets.connect(net, CID[0], "alpha", netenv.path(a), "alpha")
    ep_b = netenv.nets.connect(net, CID[1], "beta", netenv.path(b), "beta")
    prefix = netenv.subnet.rsplit(".", 1)[0]
    assert (ep_a.ip, ep_b.ip) == (f"{prefix}.2", f"{prefix}.3")
    assert ep_a.prefixlen == 24 and ep_a.gateway == f"{prefix}.1"
    octets = [int(x) for x in ep_a.ip.split(".")]
    assert ep_a.mac == "02:42:" + ":".join(f"{o:02x}" for o in octets)
    assert len(ep_a.host_veth) <= 15 and ep_a.host_veth.startswith("vmc")
    assert f"inet {ep_a.ip}/24" in ns_addr(a)
    link = sh("ip", "netns", "exec", a, "ip", "-o", "link", "show", "dev", "eth0").stdout
    assert ep_a.mac in link and "UP" in link.split(">")[0]
    assert f"default via {ep_a.gateway} dev eth0" in sh("ip", "netns", "exec", a, "ip", "route").stdout
    assert "UP" in sh("ip", "netns", "exec", a, "ip", "-o", "link", "show", "dev", "lo").stdout.split(">")[0]
    # the host end is on the bridge and up: checked with pyroute2, independently of our netlink code
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        bridge_index = ipr.link_lookup(ifname=net.bridge)[0]
        veth = ipr.get_links(ipr.link_lookup(ifname=ep_a.host_veth)[0])[0]
        assert veth.get_attr("IFLA_MASTER") == bridge_index
        assert veth["flags"] & 1
    assert ping(a, ep_b.ip) and ping(b, ep_a.ip) and ping(a, net.gateway)
    settings = netenv.nets.network_settings(CID[0])
    assert settings["IPAddress"] == ep_a.ip and settings["IPPrefixLen"] == 24
    assert settings["Networks"]["bridge"]["EndpointID"] == ep_a.id
    inspect = netenv.nets.inspect("bridge")
    assert inspect["Containers"][CID[1]] == {"Name": "beta", "EndpointID": ep_b.id, "MacAddress": ep_b.mac,
                                             "IPv4Address": f"{ep_b.ip}/24", "IPv6Address": ""}
    assert inspect["IPAM"]["Config"] == [{"Subnet": netenv.subnet, "Gateway": net.gateway}]
    # leaving: the veth goes, the address is free again, a second disconnect is a no-op
    assert netenv.nets.disconnect(CID[0]) and netenv.nets.disconnect(CID[0]) == []
    assert ep_a.host_veth not in links()
    assert "eth0" not in sh("ip", "netns", "exec", a, "ip", "-o", "link").stdout
    again = netenv.nets.connect(net, CID[2], "gamma", netenv.path(a), "gamma")
    assert again.ip == ep_a.ip


def test_user_network_names_resolve_through_rewritten_hosts_files(netenv):
    netenv.nets.ensure_default()
    net = netenv.nets.create("front")
    assert net.subnet == "10.198.0.0/24" and net.bridge == f"mc-{net.id[:12]}"
    with pytest.raises(NetworkExists, match="^network with name front already exists$"):
        netenv.nets.create("front")
    web, client = netenv.netns("web"), netenv.netns("cli")
    netenv.nets.connect(net, CID[0], "web", netenv.path(web), "webhost", aliases=["www"],
                        hosts_path=netenv.hosts(web), extra_hosts=[("extra.example", "192.0.2.99")])
    before = os.stat(netenv.hosts(web)).st_ino
    ep_client = netenv.nets.connect("front", CID[1], "client", netenv.path(client), "client",
                                    hosts_path=netenv.hosts(client))
    web_hosts = open(netenv.hosts(web)).read()
    assert os.stat(netenv.hosts(web)).st_ino == before  # rewritten in place (bind mounts keep seeing it)
    assert web_hosts.startswith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    assert "192.0.2.99\textra.example\n" in web_hosts
    assert f"{ep_client.ip}\tclient\n" in web_hosts
    client_hosts = open(netenv.hosts(client)).read()
    web_ip = netenv.nets.endpoints_of(CID[0])[0].ip
    assert f"{web_ip}\tweb www\n" in client_hosts and f"{ep_client.ip}\tclient\n" in client_hosts
    # TCP by name: `ip netns exec` shows /etc/netns/NAME/hosts as /etc/hosts
    netenv.http_server(web, f"hello from web {netenv.tag}")
    for name in ("web", "www"):
        got = sh("ip", "netns", "exec", client, sys.executable, "-c",
                 f"import urllib.request; print(urllib.request.urlopen('http://{name}:8000/', timeout=5).read().decode())")
        assert got.stdout.strip() == f"hello from web {netenv.tag}"
    assert ping(client, web_ip)
    # the client leaves: its line goes from web's file, in place
    netenv.nets.disconnect(CID[1], "front")
    assert "client" not in open(netenv.hosts(web)).read()
    assert os.stat(netenv.hosts(web)).st_ino == before


def test_networks_are_isolated_from_each_other(netenv):
    default = netenv.nets.ensure_default()
    other = netenv.nets.create("back", subnet="10.198.77.0/24", gateway="10.198.77.254", labels={"team": "x"})
    assert other.gateway == "10.198.77.254"
    a, b = netenv.netns(), netenv.netns()
    ep_a = netenv.nets.connect(default, CID[0], "a", netenv.path(a), "a")
    ep_b = netenv.nets.connect(other, CID[1], "b", netenv.path(b), "b")
    assert ep_b.ip == "10.198.77.1"  # the gateway is not the first host here
    assert ping(a, default.gateway) and ping(b, other.gateway)
    assert not ping(a, ep_b.ip) and not ping(b, ep_a.ip)
    assert netenv.nets.inspect("back")["Labels"] == {"team": "x"}


def test_internal_network_has_no_masquerade(netenv):
    netenv.nets.ensure_default()
    net = netenv.nets.create("sealed", internal=True)
    rules = legacy_rules()
    assert f"-s {net.subnet} ! -o {net.bridge}" not in rules
    assert f"-A MINICTR-ISOLATION-1 -i {net.bridge} ! -o {net.bridge}" in rules and "-j DROP" in rules
    assert netenv.nets.inspect(net)["Internal"] is True


def test_remove_refuses_while_endpoints_and_the_default_network(netenv):
    netenv.nets.ensure_default()
    net = netenv.nets.create("busy")
    ns = netenv.netns()
    netenv.nets.connect(net, CID[0], "c", netenv.path(ns), "c")
    with pytest.raises(ActiveEndpoints) as err:
        netenv.nets.remove("busy")
    assert str(err.value) == f"error while removing network: network busy id {net.id} has active endpoints"
    with pytest.raises(NetworkError, match="^bridge is a pre-defined network and cannot be removed$"):
        netenv.nets.remove("bridge")
    empty = netenv.nets.create("empty")
    assert netenv.nets.get(net.id[:6]).name == "busy"
    assert netenv.nets.prune() == ["empty"]
    assert empty.bridge not in links()
    netenv.nets.disconnect_all(CID[0])
    netenv.nets.remove(net.id[:12])
    assert net.bridge not in links() and f"net={net.id[:12]}" not in legacy_rules()
    with pytest.raises(NetworkNotFound, match="^network busy not found$"):
        netenv.nets.get("busy")


def test_everything_goes_away(netenv):
    from minictr.network import PortMapping
    shared = "MINICTR" in legacy_rules()  # someone else's engine on this host: check only ours
    nets = netenv.nets
    default = nets.ensure_default()
    user = nets.create("gone")
    a, b = netenv.netns(), netenv.netns()
    ep = nets.connect(default, CID[0], "a", netenv.path(a), "a", publish=[PortMapping(container_port=80)])
    nets.connect(user, CID[1], "b", netenv.path(b), "b")
    assert "MINICTR-DNAT" in legacy_rules()
    nets.disconnect_all(CID[0])
    nets.disconnect_all(CID[1])
    nets.remove("gone")
    nets.teardown_host_rules()
    rules = legacy_rules()
    for ours in (f"net={default.id[:12]}", f"net={user.id[:12]}", f"ep={ep.id[:12]}"):
        assert ours not in rules
    if not shared:
        assert "MINICTR" not in rules and "minictr" not in rules
    assert sh("ip", "-o", "link", "show", "master", default.bridge).stdout == ""
    assert user.bridge not in links()
    # and the default network comes back when asked for
    assert nets.ensure_default().id == default.id and "MINICTR-POSTROUTING" in legacy_rules()


def test_bad_input_is_one_clear_line(netenv):
    nets = netenv.nets
    nets.ensure_default()
    cases = [
        (lambda: nets.create("x1", subnet="10.198.300.0/24"), "invalid subnet '10.198.300.0/24'"),
        (lambda: nets.create("x2", subnet="banana"), "invalid subnet 'banana'"),
        (lambda: nets.create("x3", subnet="10.198.9.1/24"), "invalid subnet 10.198.9.1/24: it should be 10.198.9.0/24"),
        (lambda: nets.create("x4", subnet="10.198.9.0/24", gateway="10.198.10.1"),
         "invalid gateway 10.198.10.1: not in subnet 10.198.9.0/24"),
        (lambda: nets.create("bad name!"), "invalid network name 'bad name!'"),
        (lambda: nets.create("bridge"), "network with name bridge already exists"),
        (lambda: nets.get("nosuchnet"), "network nosuchnet not found"),
        (lambda: nets.remove("nosuchnet"), "network nosuchnet not found"),
        (lambda: nets.connect("nosuchnet", CID[0], "c", "/proc/self/ns/net", "c"), "network nosuchnet not found"),
        (lambda: nets.create("x5", subnet=netenv.subnet), "Pool overlaps with other one on this address space"),
    ]
    for call, text in cases:
        with pytest.raises(MinictrError) as err:
            call()
        assert text in str(err.value) and "\n" not in str(err.value)
    assert isinstance(NetworkConfigError("x"), MinictrError)
    assert [n.name for n in nets.list()] == ["bridge"]


def test_failed_connect_leaves_nothing(netenv, monkeypatch):
    nets = netenv.nets
    net = nets.ensure_default()
    ns = netenv.netns()
    with pytest.raises(OSError):
        nets.connect(net, CID[0], "c", "/nonexistent/netns", "c")
    # a failure after the veth exists: the last step inside the namespace
    from minictr.network import rtnl

    def broken(self, gateway, oif):
        raise rtnl.NetlinkError(22, "injected failure")
    monkeypatch.setattr(rtnl.RtnlSocket, "add_default_route", broken)
    with pytest.raises(OSError, match="injected failure"):
        nets.connect(net, CID[0], "c", netenv.path(ns), "c")
    monkeypatch.undo()
    assert nets.endpoints_of(CID[0]) == []
    assert sh("ip", "-o", "link", "show", "master", net.bridge).stdout == ""
    assert "eth0" not in sh("ip", "netns", "exec", ns, "ip", "-o", "link").stdout
    ep = nets.connect(net, CID[0], "c", netenv.path(ns), "c")
    assert ep.ip.endswith(".2")


def test_container_on_two_networks_gets_eth0_and_eth1(netenv):
    default = netenv.nets.ensure_default()
    user = netenv.nets.create("second")
    ns = netenv.netns()
    first = netenv.nets.connect(default, CID[0], "multi", netenv.path(ns), "multi", hosts_path=netenv.hosts(ns))
    second = netenv.nets.connect(user, CID[0], "multi", netenv.path(ns), "multi", hosts_path=netenv.hosts(ns))
    inside = sh("ip", "netns", "exec", ns, "ip", "-o", "-4", "addr").stdout
    assert f"eth0    inet {first.ip}/24" in inside and f"eth1    inet {second.ip}/24" in inside
    assert f"default via {default.gateway} dev eth0" in sh("ip", "netns", "exec", ns, "ip", "route").stdout
    assert ping(ns, default.gateway) and ping(ns, user.gateway)
    settings = netenv.nets.network_settings(CID[0])
    assert set(settings["Networks"]) == {"bridge", "second"} and settings["IPAddress"] == first.ip
    with pytest.raises(NetworkError, match="^endpoint with name multi already exists in network second$"):
        netenv.nets.connect(user, CID[0], "multi", netenv.path(ns), "multi")
    peer_ns = netenv.netns()
    peer = netenv.nets.connect(user, CID[1], "peer", netenv.path(peer_ns), "peer", hosts_path=netenv.hosts(peer_ns))
    assert f"{peer.ip}\tpeer\n" in open(netenv.hosts(ns)).read()
    netenv.nets.disconnect(CID[0], "bridge")
    assert [ep.network.name for ep in netenv.nets.endpoints_of(CID[0])] == ["second"]
    own = open(netenv.hosts(ns)).read()  # now its address on "second" is its own line
    assert f"{second.ip}\tmulti\n" in own and f"{peer.ip}\tpeer\n" in own and first.ip not in own
    netenv.nets.disconnect(CID[1])
    assert "peer" not in open(netenv.hosts(ns)).read()
    assert "eth0" not in sh("ip", "netns", "exec", ns, "ip", "-o", "link").stdout
