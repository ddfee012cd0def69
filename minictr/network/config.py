"""Network configuration: the default bridge network and the pools user
networks get their subnets from.

The file is `/etc/minictr/network.json` (or $MINICTR_NETWORK_CONF), with
dockerd's daemon.json spellings where they exist:

    {"bridge-name": "minictr0", "subnet": "10.66.0.0/16", "gateway": "10.66.0.1",
     "default-address-pools": [{"base": "10.67.0.0/16", "size": 24}]}

Every field is optional. MINICTR_BRIDGE_NAME and MINICTR_BRIDGE_SUBNET
override the file (the gateway then is the subnet's first host unless the
file's gateway lies inside it), and MINICTR_NETWORK_POOL ("base/len" or
"base/len:size") replaces the pools, so tests can run their own bridge
beside a real engine's.

A root other than the default one (`--root DIR`) with nothing configured
gets a default bridge of its own: `mctr<8 hex of the root's path>`, on the
first /24 of AUTO_POOL that no route of the host uses, chosen under a
host-wide lock (HOST_LOCK) when its network is first set up. So engines on
two roots never hand out the same address on one bridge."""
from __future__ import annotations

import os

from minictr.network.errors import NetworkConfigError
from minictr.state.paths import DEFAULT_ROOT
from minictr.network.ipam import Subnet, ip_to_int, parse_gateway, parse_subnet

DEFAULT_PATH = "/etc/minictr/network.json"
DEFAULT_NETWORK = "bridge"
DEFAULT_BRIDGE = "minictr0"
DEFAULT_SUBNET = "10.66.0.0/16"
DEFAULT_POOL = "10.67.0.0/16"
DEFAULT_POOL_SIZE = 24
AUTO_POOL = "10.70.0.0/15"
AUTO_SIZE = 24
HOST_LOCK = "/run/lock/minictr-ipam.lock"   # every root on the host: choosing subnets
_KEYS = ("bridge-name", "subnet", "gateway", "default-address-pools")


class NetworkConfig:
    __slots__ = ("bridge", "subnet", "gateway", "pools", "source", "auto")

    def __init__(self, bridge: str = DEFAULT_BRIDGE, subnet: str = DEFAULT_SUBNET, gateway: str | None = None,
                 pools: list[tuple[Subnet, int]] | None = None, source: str = "network configuration",
                 auto: bool = False):
        self.source, self.auto = source, auto
        check_device_name(bridge, f"{source}: bridge-name")
        try:
            parsed = parse_subnet(subnet)
            self.gateway = parse_gateway(gateway, parsed)
        except NetworkConfigError as e:
            raise NetworkConfigError(f"{source}: {e}") from None
        self.bridge, self.subnet = bridge, str(parsed)
        self.pools = pools if pools is not None else [(parse_subnet(DEFAULT_POOL), DEFAULT_POOL_SIZE)]

    @classmethod
    def load(cls, path: str | None = None, environ=None, root: str | None = None) -> "NetworkConfig":
        """`root`: the engine root; one that is not the default gets its own
        bridge and subnet (`auto`) when nothing names them."""
        environ = os.environ if environ is None else environ
        path = path or environ.get("MINICTR_NETWORK_CONF") or DEFAULT_PATH
        data = _read(path)
        for key in data:
            if key not in _KEYS:
                raise NetworkConfigError(f"{path}: unknown field {key!r} (known: {', '.join(_KEYS)})")
        for key in ("bridge-name", "subnet", "gateway"):
            if key in data and not isinstance(data[key], str):
                raise NetworkConfigError(f"{path}: {key}: expected a string, got {data[key]!r}")
        bridge = environ.get("MINICTR_BRIDGE_NAME") or data.get("bridge-name") or DEFAULT_BRIDGE
        subnet = data.get("subnet") or DEFAULT_SUBNET
        gateway = data.get("gateway")
        source = path
        if environ.get("MINICTR_BRIDGE_SUBNET"):
            subnet, source = environ["MINICTR_BRIDGE_SUBNET"], "MINICTR_BRIDGE_SUBNET"
            gateway = gateway if gateway and _inside(gateway, subnet) else None
        if environ.get("MINICTR_NETWORK_POOL"):
            pools = [_pool_from_text(environ["MINICTR_NETWORK_POOL"], "MINICTR_NETWORK_POOL")]
        else:
            pools = _pools(data.get("default-address-pools"), path)
        explicit = environ.get("MINICTR_BRIDGE_NAME") or environ.get("MINICTR_BRIDGE_SUBNET") or \
            data.get("bridge-name") or data.get("subnet")
        if root is not None and not explicit and os.path.abspath(root) != DEFAULT_ROOT:
            import hashlib
            bridge = "mctr" + hashlib.sha256(os.path.abspath(root).encode()).hexdigest()[:8]
            return cls(bridge, AUTO_POOL, None, pools, f"the default network of {root}", auto=True)
        return cls(bridge, subnet, gateway, pools, source)


def check_device_name(name: str, what: str) -> None:
    """Linux interface names: 1 to 15 bytes, no '/', ':' or whitespace."""
    if (not isinstance(name, str) or not 0 < len(name.encode()) <= 15 or name in (".", "..")
            or any(c in name for c in "/: \t\n")):
        raise NetworkConfigError(f"{what}: {name!r} is not a valid interface name (1-15 characters, "
                                 "no '/', ':' or spaces)")


def _read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise NetworkConfigError(f"{path}: cannot read: {e.strerror}") from None
    if not text.strip():
        return {}
    from minictr import jsonio
    try:
        data = jsonio.loads(text)
    except ValueError as e:
        raise NetworkConfigError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise NetworkConfigError(f"{path}: expected a JSON object")
    return data


def _inside(gateway: str, subnet: str) -> bool:
    try:
        return ip_to_int(gateway) in parse_subnet(subnet)
    except (ValueError, NetworkConfigError):
        return False


def _pool_from_text(text: str, where: str) -> tuple[Subnet, int]:
    base, _, size = text.partition(":")
    return _pool(base, int(size) if size.isdigit() else None, where)


def _pool(base: str, size, where: str) -> tuple[Subnet, int]:
    try:
        subnet = parse_subnet(base, "pool base")
    except NetworkConfigError as e:
        raise NetworkConfigError(f"{where}: {e}") from None
    size = DEFAULT_POOL_SIZE if size is None else size
    if not isinstance(size, int) or not subnet.prefixlen <= size <= 30:
        raise NetworkConfigError(f"{where}: size {size!r} must be between the base's /{subnet.prefixlen} and /30")
    return subnet, size


def _pools(value, path: str) -> list[tuple[Subnet, int]]:
    if value is None:
        return [(parse_subnet(DEFAULT_POOL), DEFAULT_POOL_SIZE)]
    if not isinstance(value, list) or not value:
        raise NetworkConfigError(f"{path}: default-address-pools: expected a list of {{\"base\", \"size\"}}")
    pools = []
    for i, entry in enumerate(value):
        where = f"{path}: default-address-pools[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("base"), str):
            raise NetworkConfigError(f"{where}: expected {{\"base\": \"10.67.0.0/16\", \"size\": 24}}")
        pools.append(_pool(entry["base"], entry.get("size"), where))
    return pools
