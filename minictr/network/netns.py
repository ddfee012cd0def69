"""A netlink socket inside a container's network namespace, without moving
the caller there.

setns(CLONE_NEWNET) changes only the calling thread, and a socket stays
bound to the namespace it was created in. So a short-lived thread joins the
namespace, opens the socket and ends; the socket keeps talking to the
container's namespace while the caller never left the host's.
(os.setns exists from Python 3.12; here libc's, through minictr's native
module, which a container start has loaded already.)"""
from __future__ import annotations

import os
import threading

from minictr.network.rtnl import RtnlSocket

CLONE_NEWNET = 0x40000000


def setns(fd: int, kind: int) -> None:
    from minictr._native._shim import ffi, lib
    if lib.setns(fd, kind) != 0:
        err = ffi.errno
        raise OSError(err, os.strerror(err))


def socket_in(netns_fd: int) -> RtnlSocket:
    """An RtnlSocket talking to the namespace open at `netns_fd`."""
    result: list = []

    def join_and_open() -> None:
        try:
            setns(netns_fd, CLONE_NEWNET)
            result.append(RtnlSocket())
        except BaseException as e:  # handed to the caller
            result.append(e)

    thread = threading.Thread(target=join_and_open, name="minictr-netns")
    thread.start()
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]
