"""RuntimeService's exec, attach and port-forward RPCs: ExecSync runs to
completion here (pods/exec_sync.py); Exec, Attach and PortForward will hand
out a URL of the streaming server."""
import grpc

from minictr.cri.errors import CriError, invalid
from minictr.cri.not_yet import RpcGroup
from minictr.pods.exec_sync import ExecTimeout, exec_sync


class Streaming(RpcGroup):
    NOT_YET = ("Exec", "Attach", "PortForward")
    WHY = "the streaming server (exec, attach and port-forward) is not implemented yet"

    def ExecSync(self, request, context):
        from minictr.cri.v1 import api_pb2 as pb
        if not request.cmd:
            raise invalid("ExecSync: cmd must not be empty")
        if request.timeout < 0:
            raise invalid("ExecSync: timeout must not be negative")
        c = self._container(request.container_id)
        if c.state != "CONTAINER_RUNNING":
            raise CriError(grpc.StatusCode.FAILED_PRECONDITION,
                           f"container {c.id} is not running (state: {c.state})")
        try:
            code, out, err = exec_sync(self.engine.root, c.id, list(request.cmd), request.timeout)
        except ExecTimeout as e:
            raise CriError(grpc.StatusCode.DEADLINE_EXCEEDED, str(e)) from None
        return pb.ExecSyncResponse(stdout=out, stderr=err, exit_code=code)
