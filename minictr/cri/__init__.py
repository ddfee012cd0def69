"""`minictr cri`: the CRI v1 gRPC face (RuntimeService, ImageService) a
kubelet or crictl drives over a unix socket. A thin layer: each RPC turns
its request into a call on the pods layer or the image store and the answer
into the API's messages; the generated API lives in v1/."""
