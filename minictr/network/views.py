"""Docker-shaped dicts: `network inspect` and a container's NetworkSettings."""
from __future__ import annotations

from minictr.network.records import Endpoint, Network


def network_inspect(net: Network, endpoints: list[Endpoint]) -> dict:
    options = {"com.docker.network.bridge.name": net.bridge}
    if net.is_default:
        options.update({"com.docker.network.bridge.default_bridge": "true",
                        "com.docker.network.bridge.enable_icc": "true",
                        "com.docker.network.bridge.enable_ip_masquerade": "true",
                        "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                        "com.docker.network.driver.mtu": "1500"})
    return {
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None if net.is_default else {},
                 "Config": [{"Subnet": net.subnet, "Gateway": net.gateway}]},
        "Internal": net.internal,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {ep.container_id: {"Name": ep.container_name, "EndpointID": ep.id,
                                         "MacAddress": ep.mac, "IPv4Address": f"{ep.ip}/{ep.prefixlen}",
                                         "IPv6Address": ""} for ep in endpoints},
        "Options": options,
        "Labels": dict(net.labels),
    }


def ports_map(endpoints: list[Endpoint], exposed=()) -> dict:
    """{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None}:
    published ports with their bindings, exposed-only ports as null."""
    ports: dict = {}
    for key in exposed:
        ports.setdefault(key if "/" in key else f"{key}/tcp", None)
    for ep in endpoints:
        for p in ep.ports:
            bindings = ports.get(p.key) or []
            bindings.append({"HostIp": p.bind_ip, "HostPort": str(p.host_port)})
            ports[p.key] = bindings
    return ports


def network_settings(endpoints: list[Endpoint], exposed=(), sandbox_key: str = "") -> dict:
    """Docker's NetworkSettings. The top-level address fields describe the
    default bridge network only (empty on user-defined networks), as docker's."""
    default = next((ep for ep in endpoints if ep.network.is_default), None)
    return {
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": sandbox_key,
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports_map(endpoints, exposed),
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": default.id if default else "",
        "Gateway": default.gateway if default else "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": default.ip if default else "",
        "IPPrefixLen": default.prefixlen if default else 0,
        "IPv6Gateway": "",
        "MacAddress": default.mac if default else "",
        "Networks": {ep.network.name: {
            "IPAMConfig": None, "Links": None, "Aliases": list(ep.aliases) or None,
            "MacAddress": ep.mac, "NetworkID": ep.network.id, "EndpointID": ep.id,
            "Gateway": ep.gateway, "IPAddress": ep.ip, "IPPrefixLen": ep.prefixlen,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "DriverOpts": None, "DNSNames": None if ep.network.is_default else
            [ep.container_name, *ep.aliases, ep.container_id[:12]]} for ep in endpoints},
    }
