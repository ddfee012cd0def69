"""RuntimeService's pod sandbox RPCs (RunPodSandbox … UpdatePodSandboxResources):
the pause process, its namespaces and its CNI network, from minictr/pods/."""
from minictr.cri.not_yet import RpcGroup


class PodSandboxes(RpcGroup):
    NOT_YET = ("RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PodSandboxStatus", "ListPodSandbox",
               "StreamPodSandboxes", "UpdatePodSandboxResources")
    WHY = "pod sandboxes are not implemented yet"
