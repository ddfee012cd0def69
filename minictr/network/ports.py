"""Published ports: whether a host port is free, and free ones picked (the
`-p` syntax itself is minictr.engine.options.parse_publish).

A port is taken if another endpoint in the database publishes it, or if
any socket on the host holds it: we try to bind it (SO_REUSEADDR, so a
TIME_WAIT leftover does not count; a listener does)."""
from __future__ import annotations

import errno
import socket

from minictr.network.errors import NetworkError, PortAllocated
from minictr.network.records import PortMapping

EPHEMERAL_TRIES = 64


def _socket_for(proto: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def _bind_error(port: PortMapping, host_port: int, e: OSError) -> NetworkError:
    where = f"{port.bind_ip}:{host_port}"
    if e.errno == errno.EADDRINUSE:
        return PortAllocated(f"Bind for {where} failed: port is already allocated")
    return NetworkError(f"Bind for {where} failed: {e.strerror.lower() if e.strerror else e}")


def check_free(port: PortMapping) -> None:
    """Raise docker's error if a host socket holds the port."""
    with _socket_for(port.proto) as sock:
        try:
            sock.bind((port.bind_ip, port.host_port))
        except OSError as e:
            raise _bind_error(port, port.host_port, e) from None


def resolve(ports: list[PortMapping], taken: list[PortMapping]) -> list[PortMapping]:
    """The mappings with real host ports: each fixed one checked against
    `taken` (the database's) and the host's sockets, each 0 replaced by a
    free ephemeral port the kernel offers and nobody has published."""
    done: list[PortMapping] = []
    for port in ports:
        if port.host_port:
            if any(port.clashes(t) for t in taken + done):
                raise PortAllocated(f"Bind for {port.bind_ip}:{port.host_port} failed: port is already allocated")
            check_free(port)
            done.append(port)
            continue
        for _ in range(EPHEMERAL_TRIES):
            with _socket_for(port.proto) as sock:
                try:
                    sock.bind((port.bind_ip, 0))
                except OSError as e:
                    raise _bind_error(port, 0, e) from None
                candidate = PortMapping(port.host_ip, sock.getsockname()[1], port.container_port, port.proto)
            if not any(candidate.clashes(t) for t in taken + done):
                done.append(candidate)
                break
        else:
            raise PortAllocated(f"no free host port for {port.key} after {EPHEMERAL_TRIES} tries")
    return done
