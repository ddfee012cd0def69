"""What one `minictr cri` process serves with: its socket, the engine root,
the streaming server's address, and the runtime settings a kubelet may
change at run time (UpdateRuntimeConfig's pod CIDR)."""
from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field

from minictr.errors import MinictrError

DEFAULT_SOCKET = "/run/minictr/cri.sock"
DEFAULT_STREAMING_ADDR = "127.0.0.1:0"   # as containerd: loopback, a free port


class CriConfigError(MinictrError):
    """A flag of `minictr cri` is wrong; names it."""


def parse_streaming_addr(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 in brackets) → (host, port); port 0 picks a free one."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        number = -1
    if not sep or not host or not 0 <= number <= 65535:
        raise CriConfigError(f"--streaming-addr {text!r}: expected IP:PORT, e.g. 127.0.0.1:10010")
    return host, number


@dataclass
class ServerConfig:
    listen: str = DEFAULT_SOCKET
    root: str | None = None
    streaming_addr: str = DEFAULT_STREAMING_ADDR
    workers: int = 16          # concurrent RPCs (a GetContainerEvents stream holds one while open)
    cni_conf_dir: str = "/etc/cni/net.d"
    cni_bin_dirs: tuple | None = None      # None: /opt/cni/bin and /usr/lib/cni

    def __post_init__(self):
        self.streaming_host, self.streaming_port = parse_streaming_addr(self.streaming_addr)
        if not self.listen:
            raise CriConfigError("--listen: a socket path is required")


@dataclass
class RuntimeSettings:
    """What UpdateRuntimeConfig sets; read by Status (and the CNI layer)."""
    pod_cidr: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set_pod_cidr(self, cidr: str) -> None:
        with self._lock:
            self.pod_cidr = cidr
