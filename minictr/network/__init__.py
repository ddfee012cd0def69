"""Container networking, like docker's bridge driver: a default bridge
network and user-defined ones, IPAM in the engine's database, veth pairs
into containers' namespaces, published ports and NAT through iptables
(legacy tables, our own chains), and the /etc/hosts, /etc/resolv.conf and
/etc/hostname files.

    from minictr.network import Networks, PortMapping
    nets = Networks(root, conn)
    net = nets.ensure_default()
    ep = nets.connect(net, cid, name, f"/proc/{pid}/ns/net", hostname,
                      publish=[PortMapping(host_port=8080, container_port=80)],
                      hosts_path=hosts)
    ...
    nets.disconnect_all(cid)

Importing this package is free: names are loaded on first use, and the
expensive libraries (python-iptables) only by the calls that need them."""
from __future__ import annotations

_EXPORTS = {
    "Networks": "minictr.network.manager",
    "Network": "minictr.network.records",
    "Endpoint": "minictr.network.records",
    "PortMapping": "minictr.network.records",
    "NetworkConfig": "minictr.network.config",
    "NetworkError": "minictr.network.errors",
    "NetworkConfigError": "minictr.network.errors",
    "NetworkNotFound": "minictr.network.errors",
    "NetworkExists": "minictr.network.errors",
    "SubnetOverlap": "minictr.network.errors",
    "ActiveEndpoints": "minictr.network.errors",
    "PortAllocated": "minictr.network.errors",
    "AddressPoolExhausted": "minictr.network.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'minictr.network' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
