"""The data the network package hands out: a Network, an Endpoint (one
container on one network) and a PortMapping (one published port)."""
from __future__ import annotations

from minictr.network.errors import NetworkConfigError
from minictr.records import dataclass, field


@dataclass(frozen=True)
class PortMapping:
    """host_port 0 asks for a free ephemeral port (docker's -P); host_ip ""
    means every address of the host (0.0.0.0)."""
    host_ip: str = ""
    host_port: int = 0
    container_port: int = 0
    proto: str = "tcp"

    def __post_init__(self):
        if self.proto not in ("tcp", "udp"):
            raise NetworkConfigError(f"invalid protocol {self.proto!r} for port {self.container_port}: "
                                     "expected tcp or udp")
        if not isinstance(self.container_port, int) or not 0 < self.container_port < 65536:
            raise NetworkConfigError(f"invalid container port {self.container_port!r}: expected 1-65535")
        if not isinstance(self.host_port, int) or not 0 <= self.host_port < 65536:
            raise NetworkConfigError(f"invalid host port {self.host_port!r}: expected 0-65535")
        if self.host_ip not in ("", "0.0.0.0"):
            from minictr.network.ipam import ip_to_int
            try:
                ip_to_int(self.host_ip)
            except ValueError:
                raise NetworkConfigError(f"invalid host IP {self.host_ip!r}: expected an IPv4 address") from None

    @property
    def bind_ip(self) -> str:
        return self.host_ip or "0.0.0.0"

    @property
    def key(self) -> str:
        """docker's NetworkSettings.Ports key: '80/tcp'."""
        return f"{self.container_port}/{self.proto}"

    def to_dict(self) -> dict:
        return {"host_ip": self.host_ip, "host_port": self.host_port,
                "container_port": self.container_port, "proto": self.proto}

    @classmethod
    def from_dict(cls, data: dict) -> "PortMapping":
        return cls(data.get("host_ip", ""), data.get("host_port", 0), data["container_port"],
                   data.get("proto", "tcp"))

    def clashes(self, other: "PortMapping") -> bool:
        """Same protocol and host port on the same or a wildcard host address."""
        return (self.proto == other.proto and self.host_port == other.host_port
                and (self.bind_ip == other.bind_ip or "0.0.0.0" in (self.bind_ip, other.bind_ip)))


@dataclass
class Network:
    id: str
    name: str
    bridge: str
    subnet: str
    gateway: str
    created: str
    labels: dict = field(default_factory=dict)
    internal: bool = False
    is_default: bool = False
    driver: str = "bridge"

    @property
    def prefixlen(self) -> int:
        return int(self.subnet.rsplit("/", 1)[1])

    @property
    def user_defined(self) -> bool:
        """Docker resolves container names only on user-defined networks."""
        return not self.is_default


@dataclass
class Endpoint:
    network: Network
    ip: str
    prefixlen: int
    gateway: str
    mac: str
    host_veth: str
    ports: list = field(default_factory=list)     # list[PortMapping], real host ports
    id: str = ""
    container_id: str = ""
    container_name: str = ""
    aliases: list = field(default_factory=list)
    hostname: str = ""
    hosts_path: str = ""
    extra_hosts: list = field(default_factory=list)  # [(name, ip)]
