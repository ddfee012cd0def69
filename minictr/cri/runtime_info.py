"""RuntimeService's questions about the runtime itself: Version, Status
(the RuntimeReady and NetworkReady conditions kubelet's node readiness
follows), RuntimeConfig (the cgroup driver) and UpdateRuntimeConfig (the
node's pod CIDR)."""
from __future__ import annotations

import ipaddress
import json
import logging
import platform

from minictr import __version__
from minictr.cri.errors import invalid
from minictr.cri.not_yet import RpcGroup
from minictr.cri.v1 import api_pb2 as pb

log = logging.getLogger("minictr.cri")

KUBELET_API_VERSION = "0.1.0"   # what containerd and CRI-O answer in VersionResponse.version
# minictr writes cgroupfs paths itself (no systemd scopes): kubelet must use the same driver
CGROUP_DRIVER = pb.CGROUPFS


class RuntimeInfo(RpcGroup):
    def Version(self, request, context):
        return pb.VersionResponse(version=KUBELET_API_VERSION, runtime_name="minictr",
                                  runtime_version=__version__, runtime_api_version="v1")

    def Status(self, request, context):
        runtime = pb.RuntimeCondition(type="RuntimeReady", status=True)
        network = self.network_condition()
        response = pb.StatusResponse(
            status=pb.RuntimeStatus(conditions=[runtime, network]),
            # the default handler only; no feature is claimed that minictr lacks
            runtime_handlers=[pb.RuntimeHandler(name="", features=pb.RuntimeHandlerFeatures())],
            features=pb.RuntimeFeatures())
        if request.verbose:
            response.info["config"] = json.dumps(self.verbose_config())
            response.info["python"] = json.dumps(platform.python_version())
        return response

    def network_condition(self) -> pb.RuntimeCondition:
        """NetworkReady: the CNI config loads and its plugins exist (containerd's rule)."""
        problem = self.pods.network_problem()
        if problem:
            return pb.RuntimeCondition(type="NetworkReady", status=False, reason="NetworkPluginNotReady",
                                       message=f"Network plugin returns error: cni plugin not initialized: {problem}")
        return pb.RuntimeCondition(type="NetworkReady", status=True)

    def verbose_config(self) -> dict:
        config = self.config
        return {"rootDir": self.engine.root, "listen": config.listen,
                "streamServerAddress": config.streaming_host, "streamServerPort": str(config.streaming_port),
                "cgroupDriver": pb.CgroupDriver.Name(CGROUP_DRIVER).lower(),
                "podCIDR": self.settings.pod_cidr, "cniConfDir": config.cni_conf_dir,
                "cniBinDirs": list(self.pods.cni.bin_dirs),
                "registry": self.registry_config_view()}

    def RuntimeConfig(self, request, context):
        return pb.RuntimeConfigResponse(linux=pb.LinuxRuntimeConfiguration(cgroup_driver=CGROUP_DRIVER))

    def UpdateRuntimeConfig(self, request, context):
        cidr = request.runtime_config.network_config.pod_cidr
        if cidr:
            for part in cidr.split(","):   # dual stack: "10.244.0.0/24,fd00::/64"
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise invalid(f"runtime_config.network_config.pod_cidr {cidr!r}: {part.strip()!r} "
                                  f"is not a CIDR") from None
            if cidr != self.settings.pod_cidr:
                log.info("UpdateRuntimeConfig: pod CIDR is now %s", cidr)
            self.settings.set_pod_cidr(cidr)
        return pb.UpdateRuntimeConfigResponse()
