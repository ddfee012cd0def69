"""Are our rules still there? A read-only look at a legacy table without
iptc: the kernel hands the whole table out as one blob (getsockopt
IPT_SO_GET_INFO, then IPT_SO_GET_ENTRIES, as libiptc does), and each rule's
comment sits in it as a NUL-padded string. Looking for our tags there costs
well under a millisecond, so the default network's start-up check never
pays for python-iptables.

`read_table` walks the same blob entry by entry (struct ipt_entry, its
matches, its target) into chains of (comment, target) pairs: enough for
network/restore.py to know which of its chains and tagged jumps exist
before it writes, with no iptables-save process."""
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
_ENTRY_SIZE = 112          # struct ipt_entry: ipt_ip, nfcache, target/next offsets, comefrom, counters
_EXT_HEADER = 32           # struct xt_entry_match / xt_entry_target: size, name[29], revision
HOOKS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
VERDICTS = {-1: "DROP", -2: "ACCEPT", -4: "QUEUE", -5: "RETURN"}   # -NF_x - 1, XT_RETURN


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
    return _table(table)[1]


def _table(table: str) -> tuple[bytes, bytes]:
    """(struct ipt_getinfo, the entries); (b"", b"") without the table."""
    name = table.encode().ljust(32, b"\0")
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.IPPROTO_RAW)
    try:
        for _attempt in range(5):  # the table may change between the two calls
            try:
                info = getsockopt(sock.fileno(), IPT_SO_GET_INFO, name, _INFO_SIZE)
                size = struct.unpack_from("=I", info, 80)[0]
                request = name + struct.pack("=I", size)
                entries = getsockopt(sock.fileno(), IPT_SO_GET_ENTRIES, request, _ENTRIES_HEADER + size)
                return info, entries[_ENTRIES_HEADER:]
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return b"", b""
                if e.errno != errno.EAGAIN:
                    raise
    finally:
        sock.close()
    return b"", b""


def tags_present(tags_by_table: dict[str, list[str]]) -> bool:
    """True if every tag (rule comment) is found in its table."""
    for table, tags in tags_by_table.items():
        blob = table_blob(table)
        for tag in tags:
            if tag.encode()[:255] + b"\0" not in blob:
                return False
    return True


def _cstr(blob: bytes, start: int, size: int) -> str:
    return blob[start:start + size].split(b"\0", 1)[0].decode("ascii", "replace")


def read_table(table: str) -> dict[str, list[tuple[str, str]]]:
    """The table's chains in order, each a list of its rules as (comment,
    target): the comment match's text ("" without one), the target as
    iptables-save names it (a chain jumped to, ACCEPT/DROP/RETURN, or an
    extension such as DNAT). Policies (a built-in chain's underflow, a user
    chain's closing RETURN) are left out. {} when the legacy table does not
    exist."""
    info, blob = _table(table)
    if not blob:
        return {}
    valid_hooks = struct.unpack_from("=I", info, 32)[0]
    hooks = [h for h in range(len(HOOKS)) if valid_hooks & (1 << h)]
    hook_at = {struct.unpack_from("=I", info, 36 + 4 * h)[0]: HOOKS[h] for h in hooks}
    policies = {struct.unpack_from("=I", info, 56 + 4 * h)[0] for h in hooks}
    chains: dict[str, list[tuple[str, str]]] = {name: [] for name in hook_at.values()}
    chain_at = {}   # offset of a user chain's first entry -> its name: what a jump's verdict holds
    rules = []      # (chain, comment, target name, verdict, offset of the next entry)
    chain, offset = "", 0
    while offset + _ENTRY_SIZE <= len(blob):
        target_offset, next_offset = struct.unpack_from("=HH", blob, offset + 88)
        if next_offset < _ENTRY_SIZE or target_offset < _ENTRY_SIZE:
            break  # not an entry: stop rather than loop
        chain = hook_at.get(offset, chain)
        comment, match = "", offset + _ENTRY_SIZE
        while match + _EXT_HEADER <= offset + target_offset:
            match_size = struct.unpack_from("=H", blob, match)[0]
            if match_size < _EXT_HEADER:
                break
            if _cstr(blob, match + 2, 29) == "comment":
                comment = _cstr(blob, match + _EXT_HEADER, 256)
            match += match_size
        target = offset + target_offset
        name = _cstr(blob, target + 2, 29)
        if name == "ERROR":  # a user chain's head; the one named ERROR ends the table
            if chain in chain_at.values():
                rules.pop()  # the chain before ended with its policy, a RETURN
            chain = _cstr(blob, target + _EXT_HEADER, 30)
            chain_at[offset + next_offset] = chain
            if chain != "ERROR":
                chains[chain] = []
        elif offset not in policies:
            verdict = struct.unpack_from("=i", blob, target + _EXT_HEADER)[0] if name == "" else 0
            rules.append((chain, comment, name, verdict, offset + next_offset))
        offset += next_offset
    for chain, comment, name, verdict, after in rules:
        if name == "":
            if verdict < 0:
                name = VERDICTS.get(verdict, str(verdict))
            else:
                name = "" if verdict == after else chain_at.get(verdict, "?")  # "": no target, falls through
        chains[chain].append((comment, name))
    return chains
