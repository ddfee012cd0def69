"""A private CNI world for one test module: its own conf dir (the default
conflist for a random bridge name and a free /24), host-local dataDir,
result cache and netns root, with Debian's plugins from /usr/lib/cni.
teardown() DELs whatever is still attached, removes the netns, the bridge
and the portmap plugin's shared chains (once no other pod's DNAT chain
uses them), and returns the iptables lines still naming our network."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from support.engine_env import free_test_subnet

CNI_BIN = "/usr/lib/cni"
IPTABLES = ("iptables", "iptables-legacy")   # the plugins use the host's default (nft here)
# what portmap adds once per host and never removes (containerd leaves them too)
SHARED_RULES = [
    ("nat", "PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"]),
    ("nat", "OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"]),
    ("nat", "POSTROUTING", ["-m", "comment", "--comment", "CNI portfwd requiring masquerade",
                            "-j", "CNI-HOSTPORT-MASQ"]),
]
SHARED_CHAINS = ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"]


def missing_plugins(*names: str) -> list[str]:
    return [n for n in names if not os.access(os.path.join(CNI_BIN, n), os.X_OK)]


def iptables_dump(tool: str = "iptables") -> str:
    out = []
    for table in ("filter", "nat"):
        res = subprocess.run([tool, "-w", "-t", table, "-S"], capture_output=True, text=True)
        out.append(res.stdout)
    return "".join(out)


def rules_naming(text: str) -> list[str]:
    """iptables lines of every variant that contain `text`."""
    return [line for tool in IPTABLES for line in iptables_dump(tool).splitlines() if text in line]


def in_netns(netns: str, *argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", f"--net={netns}", *argv], capture_output=True, text=True, **kw)


class PodNetEnv:
    def __init__(self, workdir: Path, cache_dir: str | None = None, netns_root: str | None = None):
        """cache_dir, netns_root: where a `minictr cri` of the test keeps
        them (under its root), when it is the server that attaches pods."""
        from minictr.pods.cni.default import write_default
        from minictr.pods.cni.network import CNI
        from minictr.pods.netns import NetnsStore
        self.workdir = workdir
        self.bridge = f"mcp{secrets.token_hex(4)}"
        self.network_name = self.bridge            # the bridge name doubles as the network's name
        self.subnet = free_test_subnet("10.232")
        self.prefix = self.subnet.rsplit(".", 1)[0] + "."
        self.conf_dir = str(workdir / "net.d")
        self.data_dir = str(workdir / "ipam")
        self.cache_dir = cache_dir or str(workdir / "cache")
        self.conf_path = write_default(self.conf_dir, subnet=self.subnet, name=self.network_name,
                                       bridge=self.bridge, data_dir=self.data_dir)
        self.netns = NetnsStore(netns_root or str(workdir / "netns"))
        self.cni = CNI(self.conf_dir, bin_dirs=(CNI_BIN,), cache_dir=self.cache_dir)

    def allocations(self) -> list[str]:
        """The addresses host-local holds for this network."""
        d = os.path.join(self.data_dir, self.network_name)
        return sorted(n for n in os.listdir(d) if n[0].isdigit()) if os.path.isdir(d) else []

    def host_links(self) -> list[str]:
        out = subprocess.run(["ip", "-o", "link", "show", "master", self.bridge], capture_output=True, text=True)
        return [line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()]

    def teardown(self) -> list[str]:
        from minictr.pods.cni.network import Attachment
        for entry in self.cni.attachments():
            try:
                self.cni.delete(Attachment(entry.container_id, entry.netns, entry.ifname))
            except Exception:
                pass
        self.netns.sweep()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        left = rules_naming(f'name: \\"{self.network_name}\\"')
        remove_shared_portmap_chains()
        mounts = [line.split()[4] for line in open("/proc/self/mountinfo") if str(self.workdir) in line.split()[4]]
        for point in mounts:
            subprocess.run(["umount", "-l", point], capture_output=True)
        shutil.rmtree(self.workdir, ignore_errors=True)
        return left + [f"mount {m}" for m in mounts]


def remove_shared_portmap_chains() -> None:
    """portmap's host-wide chains, unless some pod (of any test) still uses them."""
    dump = iptables_dump()
    if "-N CNI-DN-" in dump or "-N CNI-HOSTPORT-DNAT" not in dump:
        return
    for table, chain, rule in SHARED_RULES:
        subprocess.run(["iptables", "-w", "-t", table, "-D", chain, *rule], capture_output=True)
    for chain in SHARED_CHAINS:
        subprocess.run(["iptables", "-w", "-t", "nat", "-F", chain], capture_output=True)
    for chain in SHARED_CHAINS:
        subprocess.run(["iptables", "-w", "-t", "nat", "-X", chain], capture_output=True)
