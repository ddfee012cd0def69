"""RuntimeService's exec, attach and port-forward RPCs: ExecSync runs to
completion here; Exec, Attach and PortForward hand out a URL of the
streaming server (minictr/pods/), whose address is --streaming-addr."""
from minictr.cri.not_yet import RpcGroup


class Streaming(RpcGroup):
    NOT_YET = ("ExecSync", "Exec", "Attach", "PortForward")
    WHY = "exec, attach and port-forward are not implemented yet"
