"""The default network an install writes when the CNI conf dir has none
(as containerd's and podman's installs do): a bridge with host-local
addresses on a subnet no host route uses, the bridge as the pods' gateway
with masquerading out, hairpin so a pod reaches itself through a hostPort,
portmap for hostPorts (portMappings capability) and loopback for the pod's
`lo`. Written atomically: a reader sees no file or the whole file."""
from __future__ import annotations

import os

from minictr import jsonio
from minictr.network.ipam import parse_subnet, pick_subnet
from minictr.network.overlap import host_routes
from minictr.network.rtnl import RtnlSocket
from minictr.pods.cni.config import config_files

DEFAULT_FILE = "10-minictr.conflist"
DEFAULT_NETWORK = "minictr"
DEFAULT_BRIDGE = "minictr-cni0"
# /16s tried in order, first one no host route overlaps (podman's 10.88 first)
DEFAULT_POOL = ("10.88.0.0/13", 16)


def default_conflist(subnet: str, *, name: str = DEFAULT_NETWORK, bridge: str = DEFAULT_BRIDGE,
                     data_dir: str | None = None, cni_version: str = "1.0.0") -> dict:
    ipam = {"type": "host-local", "ranges": [[{"subnet": subnet}]], "routes": [{"dst": "0.0.0.0/0"}]}
    if data_dir:
        ipam["dataDir"] = data_dir
    return {
        "cniVersion": cni_version,
        "name": name,
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": ipam},
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "loopback"},
        ],
    }


def free_subnet(skip_devices=()) -> str:
    """The first /16 of the pool that overlaps no route of the host."""
    base, size = DEFAULT_POOL
    with RtnlSocket() as rt:
        taken = [route for route, _dev in host_routes(rt, tuple(skip_devices))]
    return str(pick_subnet([(parse_subnet(base), size)], taken))


def write_default(conf_dir: str, *, subnet: str | None = None, name: str = DEFAULT_NETWORK,
                  bridge: str = DEFAULT_BRIDGE, data_dir: str | None = None) -> str | None:
    """Write the default conflist into conf_dir unless it has a network
    config already; the path written, or None when one was there."""
    if config_files(conf_dir):
        return None
    if subnet is None:
        subnet = free_subnet(skip_devices=(bridge,))
    doc = default_conflist(subnet, name=name, bridge=bridge, data_dir=data_dir)
    os.makedirs(conf_dir, mode=0o755, exist_ok=True)
    path = os.path.join(conf_dir, DEFAULT_FILE)
    tmp = os.path.join(conf_dir, f".{DEFAULT_FILE}.tmp{os.getpid()}")   # no config suffix: never loaded
    with open(tmp, "w") as f:
        f.write(jsonio.dumps(doc, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
