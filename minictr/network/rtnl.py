"""A small rtnetlink client: just the link, address and route messages the
bridge driver sends, packed with `struct` over a plain netlink socket.

Why not pyroute2 here: `import pyroute2` costs ~200 ms (its package imports
every protocol it knows), and its lightest entry point (the rtnl message
classes, reached without running the package's __init__) still ~40 ms,
mostly `logging` and `multiprocessing`. A container start on the default
bridge sends seven messages; this module costs nothing to import (socket,
struct and errno are loaded already) and keeps the wire format readable.
Tests check its work independently with pyroute2 and iproute2."""
from __future__ import annotations

import errno
import os
# _socket, not socket: the wrapper builds its enums at import (~7 ms of
# every container start on a bridge)
import _socket as socket
import struct

# Message types and flags (linux/rtnetlink.h, linux/netlink.h).
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
NLM_F_ACK_TLVS = 0x200
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11
NLMSGERR_ATTR_MSG = 1

# Attributes.
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
NLA_F_NESTED = 0x8000

IFF_UP = 0x1
RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST = 254, 3, 1
RT_SCOPE_UNIVERSE = 0

_HDR = struct.Struct("=IHHII")        # nlmsghdr
_IFINFO = struct.Struct("=BxHiII")    # ifinfomsg
_IFADDR = struct.Struct("=BBBBI")     # ifaddrmsg
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg
_NLA = struct.Struct("=HH")


class NetlinkError(OSError):
    """A request the kernel refused: errno, and the kernel's extended-ack
    text when it gave one (e.g. "Invalid argument: Master device not found")."""


def attr(kind: int, payload: bytes) -> bytes:
    size = _NLA.size + len(payload)
    return _NLA.pack(size, kind) + payload + b"\0" * (-size % 4)


def nested(kind: int, *children: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(children))


def cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def ifinfo(index: int = 0, flags: int = 0, change: int = 0, family: int = 0) -> bytes:
    return _IFINFO.pack(family, 0, index, flags, change)


def parse_attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """type → payload of the attributes from offset on (last one wins)."""
    found = {}
    end = len(data)
    while offset + _NLA.size <= end:
        size, kind = _NLA.unpack_from(data, offset)
        if size < _NLA.size:
            break
        found[kind & ~NLA_F_NESTED] = data[offset + _NLA.size:offset + size]
        offset += (size + 3) & ~3
    return found


class RtnlSocket:
    """One NETLINK_ROUTE socket. It talks to the network namespace it was
    created in, for as long as it lives (see netns.socket_in)."""

    def __init__(self, sock=None):
        if sock is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
            try:
                sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
                sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
            except OSError:
                pass  # older kernels: plain errno only
            sock.bind((0, 0))
        sock.settimeout(10)  # the kernel answers at once; never wait forever
        self.sock = sock
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RtnlSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transport ---------------------------------------------------------

    def _send(self, kind: int, flags: int, body: bytes) -> int:
        self.seq += 1
        self.sock.send(_HDR.pack(_HDR.size + len(body), kind, flags | NLM_F_REQUEST, self.seq, 0) + body)
        return self.seq

    def _messages(self, seq: int):
        """Yield (type, payload) answering `seq` until the ack or NLMSG_DONE."""
        while True:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + _HDR.size <= len(data):
                size, kind, flags, got_seq, _pid = _HDR.unpack_from(data, offset)
                if size < _HDR.size:
                    return
                payload = data[offset + _HDR.size:offset + size]
                offset += (size + 3) & ~3
                if got_seq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    code = struct.unpack_from("=i", payload)[0]
                    if code:
                        raise self._error(-code, payload, flags)
                    return
                yield kind, payload

    @staticmethod
    def _error(code: int, payload: bytes, flags: int) -> NetlinkError:
        text = os.strerror(code)
        if flags & NLM_F_ACK_TLVS:
            # capped ack: error code, then the request's header, then TLVs
            msg = parse_attrs(payload, 4 + _HDR.size).get(NLMSGERR_ATTR_MSG)
            if msg:
                text += ": " + msg.rstrip(b"\0").decode(errors="replace")
        return NetlinkError(code, text)

    def request(self, kind: int, body: bytes, flags: int = 0) -> None:
        """Send one request and wait for its ack (raises NetlinkError)."""
        for _ in self._messages(self._send(kind, flags | NLM_F_ACK, body)):
            pass

    def dump(self, kind: int, body: bytes):
        """All answers of a dump request, as (type, payload)."""
        return list(self._messages(self._send(kind, NLM_F_DUMP, body)))

    # -- links -------------------------------------------------------------

    def link(self, name: str) -> dict | None:
        """{index, flags, master, kind} of a link in this namespace, or None."""
        try:
            answers = list(self._messages(self._send(RTM_GETLINK, NLM_F_ACK, ifinfo() + attr(IFLA_IFNAME, cstr(name)))))
        except NetlinkError as e:
            if e.errno in (errno.ENODEV, errno.ENOENT):
                return None
            raise
        for _kind, payload in answers:
            return self._link_record(payload)
        return None

    def links(self) -> list[dict]:
        return [self._link_record(p) for _k, p in self.dump(RTM_GETLINK, ifinfo())]

    @staticmethod
    def _link_record(payload: bytes) -> dict:
        _family, _type, index, flags, _change = _IFINFO.unpack_from(payload)
        attrs = parse_attrs(payload, _IFINFO.size)
        info = parse_attrs(attrs.get(IFLA_LINKINFO, b""))
        master = attrs.get(IFLA_MASTER)
        return {"index": index, "flags": flags,
                "name": attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(),
                "master": struct.unpack("=I", master)[0] if master else 0,
                "kind": info.get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode()}

    def add_bridge(self, name: str) -> None:
        self.request(RTM_NEWLINK, ifinfo(flags=IFF_UP, change=IFF_UP)
                     + attr(IFLA_IFNAME, cstr(name))
                     + nested(IFLA_LINKINFO, attr(IFLA_INFO_KIND, cstr("bridge"))),
                     NLM_F_CREATE | NLM_F_EXCL)

    def add_veth(self, name: str, peer: str, peer_netns_fd: int, peer_mac: bytes, master: int) -> None:
        """One message: the host end `name` (up, enslaved to `master`) and its
        peer created directly inside the namespace of `peer_netns_fd`, already
        named `peer` (eth0), with its MAC. (The peer cannot be brought up in
        the same message: the kernel answers ENOTCONN.)"""
        peer_msg = (ifinfo() + attr(IFLA_IFNAME, cstr(peer))
                    + attr(IFLA_ADDRESS, peer_mac) + attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd)))
        self.request(RTM_NEWLINK, ifinfo(flags=IFF_UP, change=IFF_UP)
                     + attr(IFLA_IFNAME, cstr(name)) + attr(IFLA_MASTER, struct.pack("=I", master))
                     + nested(IFLA_LINKINFO, attr(IFLA_INFO_KIND, cstr("veth")),
                              nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_msg))),
                     NLM_F_CREATE | NLM_F_EXCL)

    def set_up(self, index: int) -> None:
        self.request(RTM_NEWLINK, ifinfo(index=index, flags=IFF_UP, change=IFF_UP))

    def delete_link(self, name: str) -> bool:
        """Delete by name; False if it was not there."""
        try:
            self.request(RTM_DELLINK, ifinfo() + attr(IFLA_IFNAME, cstr(name)))
        except NetlinkError as e:
            if e.errno in (errno.ENODEV, errno.ENOENT):
                return False
            raise
        return True

    # -- addresses and routes ----------------------------------------------

    def add_address(self, index: int, ip: str, prefixlen: int, broadcast: str | None = None) -> None:
        packed = socket.inet_aton(ip)
        body = (_IFADDR.pack(socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, index)
                + attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed))
        if broadcast:
            body += attr(IFA_BROADCAST, socket.inet_aton(broadcast))
        self.request(RTM_NEWADDR, body, NLM_F_CREATE | NLM_F_EXCL)

    def addresses(self, index: int) -> list[tuple[str, int]]:
        """IPv4 (address, prefixlen) on a link."""
        found = []
        for _kind, payload in self.dump(RTM_GETADDR, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)):
            _family, prefixlen, _flags, _scope, got = _IFADDR.unpack_from(payload)
            attrs = parse_attrs(payload, _IFADDR.size)
            raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if got == index and raw:
                found.append((socket.inet_ntoa(raw), prefixlen))
        return found

    def add_default_route(self, gateway: str, oif: int) -> None:
        self.request(RTM_NEWROUTE,
                     _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE,
                                 RTN_UNICAST, 0)
                     + attr(RTA_GATEWAY, socket.inet_aton(gateway)) + attr(RTA_OIF, struct.pack("=I", oif)),
                     NLM_F_CREATE | NLM_F_EXCL)

    def routes(self) -> list[dict]:
        """IPv4 unicast routes of the main table: {dst, dst_len, oif}."""
        found = []
        for _kind, payload in self.dump(RTM_GETROUTE, _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)):
            _fam, dst_len, _src_len, _tos, table, _proto, _scope, kind, _flags = _RTMSG.unpack_from(payload)
            attrs = parse_attrs(payload, _RTMSG.size)
            if RTA_TABLE in attrs:
                table = struct.unpack("=I", attrs[RTA_TABLE])[0]
            if table != RT_TABLE_MAIN or kind != RTN_UNICAST:
                continue
            dst = socket.inet_ntoa(attrs[RTA_DST]) if RTA_DST in attrs else "0.0.0.0"
            oif = struct.unpack("=I", attrs[RTA_OIF])[0] if RTA_OIF in attrs else 0
            found.append({"dst": dst, "dst_len": dst_len, "oif": oif})
        return found
