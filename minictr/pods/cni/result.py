"""A CNI ADD's result as a typed record: the pod's interfaces, addresses
(with their gateway), routes and DNS, what PodSandboxStatus reports and a
resolv.conf is written from. Results of spec 0.3.0 and later (`ips`,
`interfaces`) and of 0.1/0.2 (`ip4`/`ip6`) read the same. The plugin's own
JSON is kept as `raw`: it is the next plugin's prevResult, byte for byte."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from minictr.pods.errors import CNIResultError


@dataclass(frozen=True)
class Interface:
    name: str
    mac: str = ""
    sandbox: str = ""        # the netns path for the pod's side; "" on the host


@dataclass(frozen=True)
class IPConfig:
    address: ipaddress.IPv4Interface | ipaddress.IPv6Interface    # address with prefix, 10.88.0.5/24
    gateway: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    interface: int | None = None     # index into Result.interfaces

    @property
    def ip(self) -> str:
        return str(self.address.ip)


@dataclass(frozen=True)
class Route:
    dst: ipaddress.IPv4Network | ipaddress.IPv6Network
    gw: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None


@dataclass(frozen=True)
class DNS:
    nameservers: tuple[str, ...] = ()
    domain: str = ""
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    cni_version: str
    interfaces: tuple[Interface, ...] = ()
    ips: tuple[IPConfig, ...] = ()
    routes: tuple[Route, ...] = ()
    dns: DNS = DNS()
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def sandbox_ips(self, ifname: str | None = None) -> list[IPConfig]:
        """Addresses on the pod's side (on `ifname` if given), as containerd
        picks the pod IP: an IP whose interface is inside the sandbox."""
        out = []
        for ip in self.ips:
            iface = self.interfaces[ip.interface] if ip.interface is not None and ip.interface < len(
                self.interfaces) else None
            if iface is None or (iface.sandbox and (ifname is None or iface.name == ifname)):
                out.append(ip)
        return out

    def pod_ip(self, ifname: str | None = None) -> str | None:
        """The first IPv4 address on the pod's side (else IPv6), or None."""
        ips = self.sandbox_ips(ifname)
        ips.sort(key=lambda i: i.address.version)
        return ips[0].ip if ips else None


def parse_result(doc, plugin: str) -> Result:
    """The Result of `doc` (a plugin's parsed stdout); CNIResultError names the plugin and field."""
    where = f"CNI plugin {plugin} returned a result"
    if not isinstance(doc, dict):
        raise CNIResultError(f"{where} that is not a JSON object")
    try:
        if "ip4" in doc or "ip6" in doc:
            return _legacy(doc)
        interfaces = tuple(Interface(str(i["name"]), str(i.get("mac", "")), str(i.get("sandbox", "")))
                           for i in _list(doc, "interfaces"))
        ips = tuple(_ip(i) for i in _list(doc, "ips"))
        for i, ip in enumerate(ips):
            if ip.interface is not None and not 0 <= ip.interface < len(interfaces):
                raise ValueError(f"ips[{i}].interface {ip.interface} is not an index into interfaces")
        return Result(str(doc.get("cniVersion", "")), interfaces, ips,
                      tuple(_route(r) for r in _list(doc, "routes")), _dns(doc.get("dns") or {}), doc)
    except (KeyError, TypeError, ValueError) as e:
        detail = f"field {e} is missing" if isinstance(e, KeyError) else str(e)
        raise CNIResultError(f"{where} the spec does not describe: {detail}") from None


def _list(doc: dict, key: str) -> list:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"{key} is not a list")
    return value


def _ip(entry: dict) -> IPConfig:
    gateway = entry.get("gateway")
    index = entry.get("interface")
    if index is not None and not isinstance(index, int):
        raise ValueError(f"interface {index!r} is not an index")
    return IPConfig(ipaddress.ip_interface(entry["address"]),
                    ipaddress.ip_address(gateway) if gateway else None, index)


def _route(entry: dict) -> Route:
    gw = entry.get("gw")
    return Route(ipaddress.ip_network(entry["dst"], strict=False), ipaddress.ip_address(gw) if gw else None)


def _dns(entry: dict) -> DNS:
    if not isinstance(entry, dict):
        raise ValueError("dns is not an object")
    return DNS(tuple(entry.get("nameservers") or ()), str(entry.get("domain") or ""),
               tuple(entry.get("search") or ()), tuple(entry.get("options") or ()))


def _legacy(doc: dict) -> Result:
    """0.1.0/0.2.0: one ip4 and one ip6 block, each with its own routes."""
    ips, routes = [], []
    for key in ("ip4", "ip6"):
        block = doc.get(key)
        if block:
            ips.append(_ip({"address": block["ip"], "gateway": block.get("gateway")}))
            routes += [_route(r) for r in block.get("routes") or ()]
    return Result(str(doc.get("cniVersion", "")), (), tuple(ips), tuple(routes), _dns(doc.get("dns") or {}), doc)
