"""Writing a tree of Nodes (from a walk of another tree, or from a tar
stream) below a directory fd, for `cp`: every entry is made by name in a
directory fd already held, with O_EXCL/O_NOFOLLOW semantics, so nothing in
the tree being written (a symlink to `/`, one swapped in meanwhile) can
lead outside it."""
from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile

from minictr.engine.errors import EngineError
from minictr.engine.export import BLK, CHR, DIR, FIFO, FILE, HARDLINK, SYMLINK, Node, proc_path
from minictr.engine.in_root import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS
from minictr.image.unpack_root import openat2

_CHUNK = 1 << 20


class _Extractor:
    """Creates Nodes below the directory `base_fd`. A node's parent is a
    directory this copy made (its fd kept) or one resolved inside
    `base_fd` (RESOLVE_IN_ROOT); each entry is made by name in that
    parent's fd with O_EXCL/O_NOFOLLOW semantics, and its metadata set
    through an fd of the very inode made."""

    def __init__(self, base_fd: int, owner: tuple[int, int] | None):
        self.base_fd, self.owner = base_fd, owner
        self.dirs: dict[str, int] = {}
        self.times: list[tuple[int, int]] = []
        self.size = 0

    def _dir(self, rel: str) -> int:
        if not rel:
            return self.base_fd
        fd = self.dirs.get(rel)
        if fd is None:

            def resolve() -> int:
                return openat2(self.base_fd, os.fsencode(rel), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC,
                               RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
            try:
                fd = resolve()
            except FileNotFoundError:   # a tar without its parents' entries: made as tar does (0755)
                parent, base = posixpath.split(rel)
                try:
                    os.mkdir(base, 0o755, dir_fd=self._dir(parent))
                except FileExistsError:
                    pass
                fd = resolve()
            self.dirs[rel] = fd
        return fd

    def _ids(self, node: Node) -> tuple[int, int]:
        return self.owner if self.owner is not None else (node.uid, node.gid)

    def put(self, node: Node) -> None:
        parent, base = posixpath.split(node.name)
        pfd = self._dir(parent)
        try:
            existing = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if node.kind == DIR:
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                if existing is not None:
                    os.unlink(base, dir_fd=pfd)
                os.mkdir(base, 0o700, dir_fd=pfd)
            fd = os.open(base, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            self.dirs[node.name] = fd
            self._meta_by_fd(fd, node)
            self.times.append((fd, node.mtime_ns))
            return
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                shutil.rmtree(base, dir_fd=pfd)
            else:
                os.unlink(base, dir_fd=pfd)
        if node.kind == FILE:
            self._file(pfd, base, node)
        elif node.kind == SYMLINK:
            os.symlink(node.linkname, base, dir_fd=pfd)
            uid, gid = self._ids(node)
            os.chown(base, uid, gid, dir_fd=pfd, follow_symlinks=False)
            os.utime(base, ns=(node.mtime_ns, node.mtime_ns), dir_fd=pfd, follow_symlinks=False)
        elif node.kind == HARDLINK:
            tparent, tbase = posixpath.split(node.linkname)
            os.link(tbase, base, src_dir_fd=self._dir(tparent), dst_dir_fd=pfd, follow_symlinks=False)
        else:
            kind = {CHR: stat.S_IFCHR, BLK: stat.S_IFBLK, FIFO: stat.S_IFIFO}[node.kind]
            os.mknod(base, kind | 0o600, os.makedev(*node.rdev), dir_fd=pfd)
            fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            try:
                if stat.S_IFMT(os.fstat(fd).st_mode) == kind:
                    self._meta_by_fd(fd, node)
                    os.utime(proc_path(fd), ns=(node.mtime_ns, node.mtime_ns))
            finally:
                os.close(fd)

    def _file(self, pfd: int, base: str, node: Node) -> None:
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pfd)
        try:
            with node.open() as src:
                while chunk := src.read(_CHUNK):
                    os.write(fd, chunk)
                    self.size += len(chunk)
            uid, gid = self._ids(node)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, node.mode)
            _set_xattrs(fd, node)
            os.utime(fd, ns=(node.mtime_ns, node.mtime_ns))
        finally:
            os.close(fd)

    def _meta_by_fd(self, fd: int, node: Node) -> None:
        """chown before chmod (chown clears setuid/setgid)."""
        uid, gid = self._ids(node)
        os.chown(proc_path(fd), uid, gid)
        os.chmod(proc_path(fd), node.mode)
        _set_xattrs(proc_path(fd), node)

    def finish(self) -> None:
        """Directory mtimes last: creating their entries changed them."""
        for fd, mtime in reversed(self.times):
            os.utime(proc_path(fd), ns=(mtime, mtime))
        self.close()

    def close(self) -> None:
        for fd in self.dirs.values():
            os.close(fd)
        self.dirs.clear()


def _set_xattrs(target, node: Node) -> None:
    for key, value in node.xattrs.items():
        try:
            os.setxattr(target, key, value)
        except OSError:
            pass   # as docker: not every filesystem takes every xattr


def tar_nodes(stream):
    """The members of a tar stream (stdin) as Nodes, names made relative;
    a name with `..` is refused."""
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for m in tar:
                name = _member_name(m.name)
                if not name:
                    continue
                kind = (DIR if m.isdir() else SYMLINK if m.issym() else HARDLINK if m.islnk() else CHR if m.ischr()
                        else BLK if m.isblk() else FIFO if m.isfifo() else FILE if m.isreg() else None)
                if kind is None:
                    continue
                xattrs = {k[len("SCHILY.xattr."):].encode("utf-8", "surrogateescape"):
                          v.encode("utf-8", "surrogateescape")
                          for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")}
                yield Node(name, kind, m.mode & 0o7777, m.uid, m.gid, int(m.mtime * 1_000_000_000), m.size,
                           _member_name(m.linkname) if kind == HARDLINK else m.linkname,
                           (m.devmajor, m.devminor), xattrs, opener=lambda m=m: tar.extractfile(m))
    except tarfile.TarError as e:
        raise EngineError(f"stdin: not a valid tar stream ({e})") from None


def _member_name(name: str) -> str:
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise EngineError(f"invalid tar member {name!r}: a '..' component")
    return "/".join(parts)


def extract(nodes, base_fd: int, owner) -> int:
    out = _Extractor(base_fd, owner)
    try:
        for node in nodes:
            out.put(node)
        out.finish()
    finally:
        out.close()
    return out.size
