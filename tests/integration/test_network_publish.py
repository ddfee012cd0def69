"""Published ports against the real kernel: a server in a namespace is
reached at 127.0.0.1:PORT and at the host's other addresses from the host,
and from a "second host" (a namespace joined to the host by a veth pair of
its own); ports already taken are refused with docker's words before
anything is made."""
import socket

import pytest

from minictr.network import PortAllocated, PortMapping

from test_network_helpers import legacy_rules, netenv, sh  # noqa: F401

pytestmark = pytest.mark.root
CID = [c * 64 for c in "abcdef"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl(url: str, ns: str | None = None) -> str:
    argv = ["curl", "-s", "--max-time", "5", url]
    if ns:
        argv = ["ip", "netns", "exec", ns] + argv
    return sh(*argv, check=False).stdout


def second_host(netenv) -> tuple[str, str]:
    """A namespace standing for another machine: veth to the host, a /30
    between them. Returns (namespace, the host's address on that link)."""
    ns = netenv.netns("peer")
    host_if = f"mct{netenv.tag}h"
    net = f"10.197.{int(netenv.tag[:2], 16)}"
    sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
    netenv.extra_links.append(host_if)
    sh("ip", "addr", "add", f"{net}.1/30", "dev", host_if)
    sh("ip", "link", "set", host_if, "up")
    sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{net}.2/30", "dev", "eth0")
    sh("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
    sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
    return ns, f"{net}.1"


def test_published_port_reachable_from_localhost_host_addresses_and_other_hosts(netenv):
    net = netenv.nets.ensure_default()
    box = netenv.netns("srv")
    body = f"minictr published body {netenv.tag}"
    netenv.http_server(box, body, port=8000)
    peer, host_addr = second_host(netenv)
    port = free_port()
    ep = netenv.nets.connect(net, CID[0], "web", netenv.path(box), "web",
                             publish=[PortMapping(host_port=port, container_port=8000)])
    assert ep.ports == [PortMapping("", port, 8000, "tcp")]
    assert f"-A MINICTR-DNAT -p tcp -m tcp --dport {port}" in legacy_rules()
    assert curl(f"http://127.0.0.1:{port}/") == body
    assert curl(f"http://{host_addr}:{port}/") == body          # another address of this host
    assert curl(f"http://{host_addr}:{port}/", ns=peer) == body  # from another "host"
    settings = netenv.nets.network_settings(CID[0], exposed=["8000/tcp", "9000/tcp"])
    assert settings["Ports"] == {"8000/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}], "9000/tcp": None}
    netenv.nets.disconnect(CID[0])
    assert f"--dport {port}" not in legacy_rules()
    assert curl(f"http://127.0.0.1:{port}/") == ""


def test_ephemeral_and_loopback_only_ports(netenv):
    net = netenv.nets.ensure_default()
    box = netenv.netns("srv")
    body = f"ephemeral {netenv.tag}"
    netenv.http_server(box, body, port=8000)
    peer, host_addr = second_host(netenv)
    ep = netenv.nets.connect(net, CID[0], "web", netenv.path(box), "web",
                             publish=[PortMapping(container_port=8000),
                                      PortMapping(host_ip="127.0.0.1", host_port=free_port(), container_port=8000)])
    anyport, loopback = ep.ports
    assert anyport.host_port >= 1024 and anyport.host_ip == ""
    assert curl(f"http://127.0.0.1:{anyport.host_port}/") == body
    assert curl(f"http://127.0.0.1:{loopback.host_port}/") == body
    assert curl(f"http://{host_addr}:{loopback.host_port}/", ns=peer) == ""  # bound to 127.0.0.1 only
    assert [b["HostIp"] for b in netenv.nets.network_settings(CID[0])["Ports"]["8000/tcp"]] == ["0.0.0.0", "127.0.0.1"]


def test_port_already_allocated_is_refused_before_anything_is_made(netenv):
    net = netenv.nets.ensure_default()
    a, b = netenv.netns(), netenv.netns()
    port = free_port()
    first = netenv.nets.connect(net, CID[0], "a", netenv.path(a), "a",
                                publish=[PortMapping(host_port=port, container_port=80)])
    rules_before = legacy_rules()
    with pytest.raises(PortAllocated) as err:
        netenv.nets.connect(net, CID[1], "b", netenv.path(b), "b",
                            publish=[PortMapping(host_port=port, container_port=80)])
    assert str(err.value) == f"Bind for 0.0.0.0:{port} failed: port is already allocated"
    with pytest.raises(PortAllocated, match=f"^Bind for 127.0.0.1:{port} failed: port is already allocated$"):
        netenv.nets.connect(net, CID[1], "b", netenv.path(b), "b",
                            publish=[PortMapping(host_ip="127.0.0.1", host_port=port, container_port=80)])
    # a socket of the host's holds another port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        with pytest.raises(PortAllocated, match=f"^Bind for 0.0.0.0:{taken} failed: port is already allocated$"):
            netenv.nets.connect(net, CID[1], "b", netenv.path(b), "b",
                                publish=[PortMapping(host_port=taken, container_port=80)])
    # nothing was made for b: no endpoint, no veth, no rule, its address unused
    assert netenv.nets.endpoints_of(CID[1]) == []
    assert "eth0" not in sh("ip", "netns", "exec", b, "ip", "-o", "link").stdout
    assert legacy_rules().count("--dport") == rules_before.count("--dport")
    second = netenv.nets.connect(net, CID[1], "b", netenv.path(b), "b",
                                 publish=[PortMapping(host_port=port, container_port=80, proto="udp")])
    assert second.ip.split(".")[-1] == str(int(first.ip.split(".")[-1]) + 1)
    assert f"-A MINICTR-DNAT -p udp -m udp --dport {port}" in legacy_rules()


def test_disconnect_after_the_namespace_is_gone(netenv):
    """A container that exited took its namespace and so its veth with it:
    disconnect still drops the rules and the address, without complaint."""
    net = netenv.nets.ensure_default()
    ns = netenv.netns()
    port = free_port()
    ep = netenv.nets.connect(net, CID[0], "gone", netenv.path(ns), "gone",
                             publish=[PortMapping(host_port=port, container_port=80)])
    sh("ip", "netns", "del", ns)
    assert [e.id for e in netenv.nets.disconnect_all(CID[0])] == [ep.id]
    assert f"--dport {port}" not in legacy_rules() and netenv.nets.endpoints_of(CID[0]) == []
    assert netenv.nets.disconnect_all(CID[0]) == []


def test_explain_names_every_kernel_step(netenv, capsys, monkeypatch):
    from minictr import explain
    monkeypatch.setattr(explain, "_enabled", True)
    chains_there = "MINICTR-DNAT" in legacy_rules()  # another engine on this host made them
    net = netenv.nets.ensure_default()
    ns = netenv.netns()
    netenv.nets.connect(net, CID[0], "x", netenv.path(ns), "x", publish=[PortMapping(container_port=80)])
    netenv.nets.disconnect_all(CID[0])
    err = capsys.readouterr().err
    for text in (f"ip link add {net.bridge} type bridge", f"ip addr add {net.gateway}/24 dev {net.bridge}",
                 f"-s {net.subnet} ! -o {net.bridge} -m comment", f"master {net.bridge} up type veth peer name eth0",
                 "addr add", "route add default via", "-j DNAT --to-destination", "ip link del vmc"):
        assert text in err, text
    assert chains_there or "iptables -t nat -N MINICTR-DNAT" in err
