"""One pod runtime: the engine, the CNI setup (conf dir, plugin dirs, the
attachment cache), the netns root, and the sandboxes and containers on
them — what `minictr cri` (and later our kubelet) holds for its life."""
from __future__ import annotations

import os

from minictr.pods.cni.network import CNI
from minictr.pods.errors import CNIError
from minictr.pods.netns import NetnsStore
from minictr.pods.pod_containers import PodContainers
from minictr.pods.sandbox import PodSandboxes
from minictr.pods.usage import PodStats

DEFAULT_CNI_CONF_DIR = "/etc/cni/net.d"
DEFAULT_CNI_BIN_DIRS = ("/opt/cni/bin", "/usr/lib/cni")


class PodRuntime:
    def __init__(self, engine, cni_conf_dir: str = DEFAULT_CNI_CONF_DIR, cni_bin_dirs=DEFAULT_CNI_BIN_DIRS,
                 cni_cache_dir: str = "", netns_dir: str = ""):
        self.engine = engine
        self.cni = CNI(cni_conf_dir, bin_dirs=tuple(cni_bin_dirs),
                       cache_dir=cni_cache_dir or os.path.join(engine.root, "cni", "results"))
        self.netns = NetnsStore(netns_dir or os.path.join(engine.root, "netns"))
        self.sandboxes = PodSandboxes(engine, self.cni, self.netns)
        self.containers = PodContainers(engine, self.sandboxes)
        self.stats = PodStats(engine, self.sandboxes, self.containers)

    def network_problem(self) -> str:
        """"" when pods can be networked (CRI's NetworkReady), else why not."""
        try:
            self.cni.status()
        except CNIError as e:
            return str(e)
        return ""

    def pod_containers(self, sandbox_id: str) -> list:
        """The records of a sandbox's containers, for stop and remove."""
        return [c.record for c in self.containers.list(sandbox_id)]
