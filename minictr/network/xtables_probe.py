"""Are our rules still there? A read-only look at a legacy table without
iptc: the kernel hands the whole table out as one blob (getsockopt
IPT_SO_GET_INFO, then IPT_SO_GET_ENTRIES, as libiptc does), and each rule's
comment sits in it as a NUL-padded string. Looking for our tags there costs
well under a millisecond, so the default network's start-up check never
pays for python-iptables."""
from __future__ import annotations

import errno
import os
# _socket, not socket: the wrapper builds its enums at import (~7 ms of
# every container start on a bridge)
import _socket as socket
import struct

IPT_SO_GET_INFO, IPT_SO_GET_ENTRIES = 64, 65
_INFO_SIZE = 84            # struct ipt_getinfo
_ENTRIES_HEADER = 40       # struct ipt_get_entries, up to the 8-aligned entry table


def getsockopt(fd: int, option: int, request: bytes, size: int) -> bytes:
    """getsockopt(2) with a request in the buffer (Python's own passes none),
    through minictr's native module."""
    from minictr._native._shim import ffi, lib
    buf = ffi.new("char[]", request.ljust(size, b"\0")[:size])
    length = ffi.new("unsigned int *", size)
    if lib.getsockopt(fd, socket.IPPROTO_IP, option, buf, length) != 0:
        err = ffi.errno
        raise OSError(err, os.strerror(err))
    return ffi.buffer(buf, length[0])[:]


def table_blob(table: str) -> bytes:
    """The table's entries as the kernel holds them; b"" when the legacy
    table does not exist (no legacy client has used it yet)."""
    name = table.encode().ljust(32, b"\0")
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.IPPROTO_RAW)
    try:
        for _attempt in range(5):  # the table may change between the two calls
            try:
                info = getsockopt(sock.fileno(), IPT_SO_GET_INFO, name, _INFO_SIZE)
                size = struct.unpack_from("=I", info, 80)[0]
                request = name + struct.pack("=I", size)
                return getsockopt(sock.fileno(), IPT_SO_GET_ENTRIES, request, _ENTRIES_HEADER + size)[_ENTRIES_HEADER:]
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return b""
                if e.errno != errno.EAGAIN:
                    raise
    finally:
        sock.close()
    return b""


def tags_present(tags_by_table: dict[str, list[str]]) -> bool:
    """True if every tag (rule comment) is found in its table."""
    for table, tags in tags_by_table.items():
        blob = table_blob(table)
        for tag in tags:
            if tag.encode()[:255] + b"\0" not in blob:
                return False
    return True
