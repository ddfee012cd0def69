"""A subnet must not overlap a route the host already has (docker0's
172.17.0.0/16, podman's 10.88.0.0/16, a VPN, the LAN): containers would
shadow those hosts, or be shadowed by them. The default route does not
count, nor routes through the network's own bridge."""
from __future__ import annotations

from minictr.network.errors import SubnetOverlap
from minictr.network.ipam import Subnet, ip_to_int
from minictr.network.rtnl import RtnlSocket


def host_routes(rt: RtnlSocket, skip_devices=()) -> list[tuple[Subnet, str]]:
    """(destination, device) of the host's main-table routes, default route excluded."""
    names = {link["index"]: link["name"] for link in rt.links()}
    found = []
    for route in rt.routes():
        if route["dst_len"] == 0:
            continue
        device = names.get(route["oif"], "?")
        if device in skip_devices:
            continue
        found.append((Subnet(ip_to_int(route["dst"]), route["dst_len"]), device))
    return found


def check(rt: RtnlSocket, subnet: Subnet, own_bridge: str) -> None:
    for route, device in host_routes(rt, (own_bridge,)):
        if route.overlaps(subnet):
            raise SubnetOverlap(f"subnet {subnet} overlaps the host's route {route} dev {device}; choose another "
                                "subnet (MINICTR_BRIDGE_SUBNET, /etc/minictr/network.json or --subnet)")
