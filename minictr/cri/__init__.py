"""`minictr cri`: the CRI v1 gRPC face (RuntimeService, ImageService) a
kubelet or crictl drives over a unix socket. A thin layer: each RPC turns
its request into a call on the pods layer or the image store and the answer
into the API's messages; the generated API lives in v1/."""
import os as _os

# The engine forks (container shims, CNI plugins) from gRPC's worker
# threads; gRPC's fork handlers would restart its event engine in the child
# and close descriptors there the shim is handed. Off before grpc loads.
_os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
_os.environ.setdefault("GRPC_POLL_STRATEGY", "epoll1")
