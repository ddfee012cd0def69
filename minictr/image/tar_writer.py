"""A tree's entries (`Node`s: what a tar header says, plus how to read a
regular file's bytes) written as a PAX tar: the form of every layer a
container's changes or a build step become (through the layer writer),
and of `export` and `cp`. Where the Nodes come from (a container's upper
dir, a build context) is the caller's business."""
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


def write_tar(nodes, out) -> int:
    """Nodes as a PAX tar on the binary stream `out`; the bytes of file
    content written."""
    total = 0
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for node in nodes:
            info = tar_info(node)
            if node.kind == FILE:
                with node.open() as f:
                    tar.addfile(info, _Exactly(f, node.size, node.name))
                total += node.size
            else:
                tar.addfile(info)
    return total


class _Exactly:
    """A file's bytes, exactly as many as its header promised: a file that
    shrank while read is padded with zeros, one that grew is cut."""

    def __init__(self, f, size: int, name: str):
        self.f, self.left, self.name = f, size, name

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.f.read(n) if n else b""
        if len(data) < n:
            data += b"\0" * (n - len(data))
        self.left -= len(data)
        return data
