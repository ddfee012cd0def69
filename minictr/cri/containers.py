"""RuntimeService's container RPCs (CreateContainer … ReopenContainerLog):
containers joined to a sandbox, from minictr/pods/. CheckpointContainer
stays UNIMPLEMENTED, which kubelet reads as "not supported"."""
from minictr.cri.not_yet import RpcGroup


class PodContainers(RpcGroup):
    NOT_YET = ("CreateContainer", "StartContainer", "StopContainer", "RemoveContainer", "ListContainers",
               "StreamContainers", "ContainerStatus", "UpdateContainerResources", "ReopenContainerLog")
    WHY = "pod containers are not implemented yet"


class Checkpoints(RpcGroup):
    NOT_YET = ("CheckpointContainer",)
    WHY = "checkpoint/restore is not supported"
