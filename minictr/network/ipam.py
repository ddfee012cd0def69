"""IPv4 address management as plain arithmetic on integers: parsing and
checking subnets and gateways, choosing the next free address in a subnet,
a free subnet from a pool, and docker's MAC-from-IP rule.

No `ipaddress` (8 ms to import) on the container-start path: the checks
here are few and exact. The allocation itself is made safe against
concurrent starts by the caller (a BEGIN IMMEDIATE transaction)."""
from __future__ import annotations

from minictr.network.errors import AddressPoolExhausted, NetworkConfigError


def ip_to_int(text: str) -> int:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        raise ValueError(f"{text!r} is not an IPv4 address")
    return (int(parts[0]) << 24) | (int(parts[1]) << 16) | (int(parts[2]) << 8) | int(parts[3])


def int_to_ip(value: int) -> str:
    return f"{value >> 24 & 255}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


def mask(prefixlen: int) -> int:
    return (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF


class Subnet:
    """An IPv4 network: `net` (int, host bits zero) and `prefixlen`."""
    __slots__ = ("net", "prefixlen")

    def __init__(self, net: int, prefixlen: int):
        self.net, self.prefixlen = net, prefixlen

    def __str__(self) -> str:
        return f"{int_to_ip(self.net)}/{self.prefixlen}"

    def __repr__(self) -> str:
        return f"Subnet({self})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Subnet) and (self.net, self.prefixlen) == (other.net, other.prefixlen)

    def __hash__(self) -> int:
        return hash((self.net, self.prefixlen))

    @property
    def broadcast(self) -> int:
        return self.net | (~mask(self.prefixlen) & 0xFFFFFFFF)

    @property
    def size(self) -> int:
        return 1 << (32 - self.prefixlen)

    def __contains__(self, address: int) -> bool:
        return address & mask(self.prefixlen) == self.net

    def overlaps(self, other: "Subnet") -> bool:
        shorter = min(self.prefixlen, other.prefixlen)
        return self.net & mask(shorter) == other.net & mask(shorter)

    def first_host(self) -> int:
        return self.net + 1


def parse_subnet(text: str, what: str = "subnet") -> Subnet:
    """'10.66.0.0/16' → Subnet; the host part must be zero, as docker asks."""
    if not isinstance(text, str) or text.count("/") != 1:
        raise NetworkConfigError(f"invalid {what} {text!r}: expected CIDR notation like 10.66.0.0/16")
    address, _, length = text.partition("/")
    try:
        value = ip_to_int(address)
    except ValueError:
        raise NetworkConfigError(f"invalid {what} {text!r}: {address!r} is not an IPv4 address") from None
    if not length.isdigit() or not 0 <= int(length) <= 32:
        raise NetworkConfigError(f"invalid {what} {text!r}: prefix length must be 0 to 32")
    prefixlen = int(length)
    subnet = Subnet(value & mask(prefixlen), prefixlen)
    if subnet.net != value:
        raise NetworkConfigError(f"invalid {what} {text}: it should be {subnet}")
    if prefixlen > 30:
        raise NetworkConfigError(f"invalid {what} {text}: too small for a gateway and containers (at most /30)")
    return subnet


def parse_gateway(text: str | None, subnet: Subnet) -> str:
    """The gateway given, checked against the subnet; else its first host."""
    if text is None or text == "":
        return int_to_ip(subnet.first_host())
    try:
        value = ip_to_int(text)
    except ValueError:
        raise NetworkConfigError(f"invalid gateway {text!r}: not an IPv4 address") from None
    if value not in subnet:
        raise NetworkConfigError(f"invalid gateway {text}: not in subnet {subnet}")
    if value in (subnet.net, subnet.broadcast):
        raise NetworkConfigError(f"invalid gateway {text}: the network or broadcast address of {subnet}")
    return text


def pick_address(subnet: Subnet, gateway: str, used: set[int]) -> int:
    """The lowest free host address: not the network, broadcast or gateway."""
    taken = set(used)
    taken.add(ip_to_int(gateway))
    for candidate in range(subnet.net + 1, subnet.broadcast):
        if candidate not in taken:
            return candidate
    raise AddressPoolExhausted(f"no available IPv4 addresses on network with subnet {subnet}")


def pick_subnet(pools: list[tuple[Subnet, int]], taken: list[Subnet]) -> Subnet:
    """The first subnet of each pool's size that overlaps nothing taken
    (docker's default-address-pools: base and size)."""
    for base, size in pools:
        step = 1 << (32 - size)
        for net in range(base.net, base.broadcast + 1, step):
            candidate = Subnet(net, size)
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
    raise AddressPoolExhausted("could not find an available, non-overlapping IPv4 address pool "
                               "among the defaults to assign to the network")


def mac_for_ip(address: int) -> str:
    """Docker's rule: 02:42 then the four bytes of the IPv4 address."""
    return "02:42:" + ":".join(f"{address >> shift & 255:02x}" for shift in (24, 16, 8, 0))
