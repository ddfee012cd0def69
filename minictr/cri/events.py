"""RuntimeService.GetContainerEvents: the stream of container lifecycle
events kubelet's evented PLEG reads instead of polling."""
from minictr.cri.not_yet import RpcGroup


class Events(RpcGroup):
    NOT_YET = ("GetContainerEvents",)
    WHY = "container events are not implemented yet"
