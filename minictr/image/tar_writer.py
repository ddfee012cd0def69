"""A tree's entries (`Node`s: what a tar header says, plus how to read a
regular file's bytes) written as a PAX tar: the form of every layer a
container's changes or a build step become (through the layer writer),
and of `export` and `cp`. Where the Nodes come from (a container's upper
dir, a build context) is the caller's business.

The bytes are exactly those of Python's tarfile (mode "w|", PAX format):
an entry that needs no PAX record (an ASCII name and link of at most 100
bytes, numbers that fit, no xattrs: nearly every entry of a layer) gets
its ustar header made here, in one format call, and the others are
tarfile's own (a copy of each TarInfo, the pax checks and seven field
encoders per entry were most of a 1000-file COPY's time)."""
from __future__ import annotations

import tarfile

FILE, DIR, SYMLINK, HARDLINK, CHR, BLK, FIFO = "file", "dir", "symlink", "hardlink", "chr", "blk", "fifo"


class Node:
    """One entry of a tree being copied: what a tar header says, plus how
    to read a regular file's bytes."""

    __slots__ = ("name", "kind", "mode", "uid", "gid", "mtime_ns", "size", "linkname", "rdev", "xattrs", "opener")

    def __init__(self, name: str, kind: str, mode: int = 0o644, uid: int = 0, gid: int = 0, mtime_ns: int = 0,
                 size: int = 0, linkname: str = "", rdev: tuple[int, int] = (0, 0), xattrs: dict | None = None,
                 opener=None):
        self.name, self.kind, self.mode, self.uid, self.gid = name, kind, mode, uid, gid
        self.mtime_ns, self.size, self.linkname, self.rdev = mtime_ns, size, linkname, rdev
        self.xattrs, self.opener = xattrs or {}, opener

    def open(self):
        """A binary reader of a regular file's content."""
        return self.opener()


def tar_info(node: Node) -> tarfile.TarInfo:
    info = tarfile.TarInfo(node.name)
    info.mode, info.uid, info.gid = node.mode, node.uid, node.gid
    info.mtime = node.mtime_ns // 1_000_000_000
    info.uname = info.gname = ""
    info.type = {FILE: tarfile.REGTYPE, DIR: tarfile.DIRTYPE, SYMLINK: tarfile.SYMTYPE, HARDLINK: tarfile.LNKTYPE,
                 CHR: tarfile.CHRTYPE, BLK: tarfile.BLKTYPE, FIFO: tarfile.FIFOTYPE}[node.kind]
    if node.kind == FILE:
        info.size = node.size
    if node.kind in (SYMLINK, HARDLINK):
        info.linkname = node.linkname
    if node.kind in (CHR, BLK):
        info.devmajor, info.devminor = node.rdev
    if node.xattrs:
        info.pax_headers = {"SCHILY.xattr." + k.decode("utf-8", "surrogateescape"):
                            v.decode("utf-8", "surrogateescape") for k, v in node.xattrs.items()}
    return info


BLOCK, RECORD = 512, 10240       # tarfile's BLOCKSIZE and RECORDSIZE
_FLUSH = 1 << 16                 # bytes gathered before a write to `out`
_TYPES = {FILE: b"0", HARDLINK: b"1", SYMLINK: b"2", CHR: b"3", BLK: b"4", DIR: b"5", FIFO: b"6"}
_ZEROS = bytes(RECORD)


def write_tar(nodes, out) -> int:
    """Nodes as a PAX tar on the binary stream `out`; the bytes of file
    content written."""
    total = offset = 0
    buf = bytearray()
    for node in nodes:
        header = ustar_header(node)
        if header is None:
            header = tar_info(node).tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")
        buf += header
        offset += len(header)
        if node.kind == FILE:
            with node.open() as f:
                _content(f, node.size, buf, out)
            padded = -node.size % BLOCK
            buf += _ZEROS[:padded]
            offset += node.size + padded
            total += node.size
        if len(buf) >= _FLUSH:
            out.write(buf)
            buf = bytearray()
    buf += _ZEROS[:2 * BLOCK]   # the end of the archive, then zeros to a whole record (tar -b20)
    offset += 2 * BLOCK
    buf += _ZEROS[:-offset % RECORD]
    out.write(buf)
    return total


def ustar_header(node: Node) -> bytes | None:
    """The header block tarfile writes for a node that needs no PAX record;
    None for one that does (tarfile then makes it)."""
    name = node.name + "/" if node.kind == DIR and not node.name.endswith("/") else node.name
    link = node.linkname if node.kind in (SYMLINK, HARDLINK) else ""
    size = node.size if node.kind == FILE else 0
    mtime = node.mtime_ns // 1_000_000_000
    if (node.xattrs or len(name) > 100 or len(link) > 100 or not name.isascii() or not link.isascii()
            or not (0 <= node.uid < 0o10000000 and 0 <= node.gid < 0o10000000 and 0 <= size < 0o100000000000
                    and 0 <= mtime < 0o100000000000)):
        return None
    if node.kind in (CHR, BLK):
        if not (0 <= node.rdev[0] < 0o10000000 and 0 <= node.rdev[1] < 0o10000000):
            return None
        dev = b"%07o\0%07o\0" % node.rdev
    else:
        dev = bytes(16)
    head = b"%s%07o\0%07o\0%07o\0%011o\0%011o\0" % (name.encode().ljust(100, b"\0"), node.mode & 0o7777,
                                                     node.uid, node.gid, size, mtime)
    # type, linkname, magic and version, uname and gname (empty), devmajor/minor; prefix (empty) is padding
    tail = b"%s%sustar\x0000%s%s" % (_TYPES[node.kind], link.encode().ljust(100, b"\0"), bytes(64), dev)
    pad = bytes(BLOCK - len(head) - 8 - len(tail))
    chksum = sum(head) + 8 * 0x20 + sum(tail)   # the checksum field counts as eight spaces
    return head + b"%06o\0 " % chksum + tail + pad


def _content(f, size: int, buf: bytearray, out) -> None:
    """A file's bytes, exactly as many as its header promised: a file that
    shrank while read is padded with zeros, one that grew is cut."""
    left = size
    while left:
        data = f.read(min(left, 1 << 20))
        if not data:
            buf += bytes(left)
            return
        buf += data
        left -= len(data)
        if len(buf) >= _FLUSH:
            out.write(bytes(buf))
            buf.clear()
