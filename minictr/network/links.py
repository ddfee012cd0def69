"""The kernel steps of the bridge driver, each one announced to --explain:
a bridge with the gateway address, a veth pair from the bridge into a
container's namespace (eth0 with its address and default route, lo up),
and the two sysctls that forwarding and 127.0.0.1 publishing need."""
from __future__ import annotations

import errno
import os

from minictr.network.ipam import Subnet, int_to_ip, ip_to_int
from minictr.network.rtnl import IFF_UP, RtnlSocket
from minictr.explain import step

MAX_INTERFACES = 16  # eth0..eth15 inside a container


def _write_sysctl(path: str, value: str) -> None:
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
    except FileNotFoundError:
        pass
    step(f"sysctl -w {path[len('/proc/sys/'):].replace('/', '.')}={value}", _SYSCTL_WHY.get(path.rsplit("/", 1)[1], ""))
    with open(path, "w") as f:
        f.write(value)


_SYSCTL_WHY = {"ip_forward": "route containers' traffic between the bridge and the host's other interfaces",
               "route_localnet": "let 127.0.0.1 traffic DNAT'd to a published port leave through the bridge"}


def sysctls_ready(bridge: str) -> bool:
    try:
        for path in ("/proc/sys/net/ipv4/ip_forward", f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet"):
            with open(path) as f:
                if f.read().strip() != "1":
                    return False
    except OSError:
        return False
    return True


def bridge_ready(rt: RtnlSocket, bridge: str, gateway: str, prefixlen: int) -> bool:
    """The bridge exists, is up and has the gateway address."""
    link = rt.link(bridge)
    return bool(link and link["flags"] & IFF_UP and (gateway, prefixlen) in rt.addresses(link["index"]))


def ensure_bridge(rt: RtnlSocket, bridge: str, gateway: str, prefixlen: int) -> bool:
    """Make the bridge (if missing), give it the gateway address, bring it
    up, set the sysctls. Returns True if the bridge was created here."""
    link = rt.link(bridge)
    created = link is None
    if created:
        step(f"ip link add {bridge} type bridge", "a virtual switch the containers' veths plug into")
        rt.add_bridge(bridge)
        link = rt.link(bridge)
    elif link["kind"] and link["kind"] != "bridge":
        from minictr.network.errors import NetworkError
        raise NetworkError(f"device {bridge} exists and is a {link['kind']}, not a bridge")
    if (gateway, prefixlen) not in rt.addresses(link["index"]):
        subnet = Subnet(ip_to_int(gateway) & (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF, prefixlen)
        step(f"ip addr add {gateway}/{prefixlen} dev {bridge}",
             "the bridge is the containers' gateway; the kernel adds the route to the subnet")
        rt.add_address(link["index"], gateway, prefixlen, int_to_ip(subnet.broadcast))
    if not link["flags"] & IFF_UP:
        step(f"ip link set {bridge} up", "carry traffic")
        rt.set_up(link["index"])
    _write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")
    _write_sysctl(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet", "1")
    return created


def delete_link(rt: RtnlSocket, name: str, why: str) -> bool:
    if rt.link(name) is None:
        return False
    step(f"ip link del {name}", why)
    return rt.delete_link(name)


def attach(rt: RtnlSocket, bridge: str, host_veth: str, netns_path: str, mac: str, ip: str, prefixlen: int,
           gateway: str | None, broadcast: str) -> str:
    """veth pair: `host_veth` on the bridge, eth0 (eth1... when the container
    is on several networks) in the container's netns with its address, lo
    up, and the default route via `gateway` unless the container has one
    already (its first network's) or gateway is None (internal networks).
    Returns the interface's name inside. Leaves nothing behind if it fails."""
    from minictr.network.netns import socket_in
    from minictr.network.errors import NetworkError
    from minictr.network.rtnl import NetlinkError
    link = rt.link(bridge)
    if link is None:
        raise NetworkError(f"bridge {bridge} does not exist (was it deleted by hand?)")
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for number in range(MAX_INTERFACES):
            ifname = f"eth{number}"
            step(f"ip link add {host_veth} master {bridge} up type veth peer name {ifname} "
                 f"address {mac} netns {netns_path}",
                 "a virtual cable: one end on the bridge, the other in the container's namespace")
            try:
                rt.add_veth(host_veth, ifname, fd, bytes.fromhex(mac.replace(":", "")), link["index"])
                break
            except NetlinkError as e:
                if e.errno != errno.EEXIST or rt.link(host_veth) is not None:
                    raise
        else:
            raise NetworkError(f"{netns_path}: no free interface name eth0..eth{MAX_INTERFACES - 1}")
        try:
            with socket_in(fd) as inner:
                index = inner.link(ifname)["index"]
                step(f"ip -n {netns_path} addr add {ip}/{prefixlen} brd {broadcast} dev {ifname}",
                     "the container's address on the network")
                inner.add_address(index, ip, prefixlen, broadcast)
                step(f"ip -n {netns_path} link set {ifname} up", "carry traffic")
                inner.set_up(index)
                step(f"ip -n {netns_path} link set lo up", "127.0.0.1 inside the container")
                inner.set_up(1)  # lo is always ifindex 1 in a namespace
                if gateway and not any(r["dst_len"] == 0 for r in inner.routes()):
                    step(f"ip -n {netns_path} route add default via {gateway}",
                         "everything off the subnet goes through the bridge")
                    inner.add_default_route(gateway, index)
        except BaseException:
            delete_link(rt, host_veth, "undo a failed attach")
            raise
    finally:
        os.close(fd)
    return ifname
