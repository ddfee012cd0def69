"""Pod networking by CNI, as containerd's CRI (go-cni over libcni) does it:
the network configuration from a conf dir (config.py), plugin executables
found and run with the spec's environment (plugins.py), a whole conflist
added, checked and deleted with prevResult chained (network.py), the
result as a typed record (result.py), what a DEL needs kept on disk
(cache.py), and the default bridge conflist an install writes (default.py).

    from minictr.pods.cni.network import CNI, Attachment, pod_args
"""
