"""RuntimeService's resource usage RPCs: container and pod sandbox stats
from their cgroups, and the pod metrics descriptors."""
from minictr.cri.not_yet import RpcGroup


class Stats(RpcGroup):
    NOT_YET = ("ContainerStats", "ListContainerStats", "StreamContainerStats", "PodSandboxStats",
               "ListPodSandboxStats", "StreamPodSandboxStats", "ListMetricDescriptors", "ListPodSandboxMetrics",
               "StreamPodSandboxMetrics")
    WHY = "container and pod stats are not implemented yet"
