"""`cp` between a container and the host, with docker's rules:

    SRC file  -> DEST missing: created with that name (its parent must exist)
              -> DEST a file: overwritten;  DEST a directory: DEST/basename(SRC)
    SRC dir   -> DEST missing: created, SRC's content copied into it
              -> DEST a directory: DEST/basename(SRC), or with SRC ending in
                 `/.` SRC's content into DEST itself;  DEST a file: an error
    a trailing `/` on SRC or DEST means a directory; `-L` follows a
    symlink SRC (else the link itself is copied); DEST symlinks are followed
    `-` is a tar stream: from stdin into a directory, or SRC's tar to stdout

Every path inside the container is resolved inside its root by the kernel
(openat2 RESOLVE_IN_ROOT), and everything below is created or read through
directory fds already held, never by a path walked again: a symlink in
the container to `/` or `../../..`, or one swapped in while cp runs, leads
back into the container, never to the host's files. Files land owned by
the container's root (or, copied out, by the user running cp), with `-a`
keeping the source's uid/gid, as docker does."""
from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile

from minictr.engine.errors import EngineError
from minictr.engine.export import (BLK, CHR, DIR, FIFO, FILE, HARDLINK, SYMLINK, Node, proc_path, walk,
                                   write_tar)
from minictr.engine.in_root import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS

_CHUNK = 1 << 20
_MAX_LINKS = 40


class CopyResult:
    def __init__(self, size: int, destination: str):
        self.size, self.destination = size, destination


# -- the two ends ---------------------------------------------------------------

class _Side:
    """One end of a copy: a container's root (paths resolved inside it) or
    the host; it names paths and missing files the way docker does."""

    def __init__(self, root: str, container: str | None = None):
        self.container = container
        self.root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS if container else 0

    def close(self) -> None:
        os.close(self.root_fd)

    def normal(self, text: str) -> tuple[str, bool, bool]:
        """(the absolute path, copy the content only (`/.`), must be a directory)."""
        contents = text in (".", "/.") or text.endswith("/.")
        trailing = contents or text.endswith("/")
        if self.container:
            path = posixpath.normpath("/" + text.lstrip("/"))
        else:
            path = os.path.abspath(text)
        return path, contents, trailing

    def open(self, path: str, flags: int) -> int:
        from minictr.image.unpack_root import openat2
        rel = path.lstrip("/") or "."
        return openat2(self.root_fd, os.fsencode(rel), flags | os.O_CLOEXEC, self.resolve)

    def label(self, path: str) -> str:
        return f"{self.container}:{path}" if self.container else path

    def not_found(self, path: str) -> EngineError:
        if self.container:
            return EngineError(f"Could not find the file {path} in container {self.container}")
        return EngineError(f"lstat {path}: no such file or directory")

    def no_directory(self, path: str) -> EngineError:
        if self.container:
            return EngineError(f"Could not find the file {path} in container {self.container}")
        return EngineError(f'invalid output path: directory "{path}" does not exist')


def _open_source(side: _Side, path: str, follow: bool) -> tuple[int, os.stat_result]:
    """An O_PATH fd of the source: its final symlink followed only if asked."""
    try:
        if follow or path == "/":
            fd = side.open(path, os.O_PATH)
        else:
            parent, base = posixpath.split(path)
            pfd = side.open(parent, os.O_PATH | os.O_DIRECTORY)
            try:
                fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            finally:
                os.close(pfd)
    except (FileNotFoundError, NotADirectoryError):
        raise side.not_found(path) from None
    except OSError as e:
        raise EngineError(f"{side.label(path)}: {e.strerror}") from None
    return fd, os.fstat(fd)


class _Place:
    """Where a copy lands: an existing directory (dir_fd), or a name in a
    directory (parent_fd, name) with what is there now (st, None if nothing)."""

    def __init__(self, dir_fd: int | None = None, parent_fd: int | None = None, name: str = "", st=None):
        self.dir_fd, self.parent_fd, self.name, self.st = dir_fd, parent_fd, name, st

    def close(self) -> None:
        for fd in (self.dir_fd, self.parent_fd):
            if fd is not None:
                os.close(fd)


def _place(side: _Side, path: str) -> _Place:
    """The destination with its symlinks followed (inside the container's
    root for a container), one link at a time so the final name is known."""
    original = path
    for _ in range(_MAX_LINKS):
        parent, base = posixpath.split(path)
        if base in ("", ".", ".."):
            try:
                return _Place(dir_fd=side.open(path, os.O_PATH | os.O_DIRECTORY))
            except (FileNotFoundError, NotADirectoryError):
                raise side.no_directory(path) from None
        try:
            pfd = side.open(parent or "/", os.O_PATH | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            raise side.no_directory(parent) from None
        try:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return _Place(parent_fd=pfd, name=base)
        except BaseException:
            os.close(pfd)
            raise
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(base, dir_fd=pfd)
            os.close(pfd)
            path = posixpath.join(parent, target)   # an absolute target replaces the path
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                fd = os.open(base, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            finally:
                os.close(pfd)
            return _Place(dir_fd=fd, st=st)
        return _Place(parent_fd=pfd, name=base, st=st)
    raise EngineError(f"{side.label(original)}: too many levels of symbolic links")


# -- writing a tree --------------------------------------------------------------

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
            from minictr.image.unpack_root import openat2

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


# -- the copy --------------------------------------------------------------------

def _copy(src: _Side, src_text: str, dst: _Side, dst_text: str, follow: bool, owner) -> int:
    src_path, contents, src_dir = src.normal(src_text)
    dst_path, _, dst_dir = dst.normal(dst_text)
    fd, st = _open_source(src, src_path, follow or src_dir)
    try:
        is_dir = stat.S_ISDIR(st.st_mode)
        if src_dir and not is_dir:
            raise EngineError(f"{src.label(src_path)}: not a directory")
        place = _place(dst, dst_path)
        try:
            if place.dir_fd is not None:
                base_fd = place.dir_fd
                top = "" if is_dir and (contents or src_path == "/") else posixpath.basename(src_path)
            elif place.st is not None:
                if is_dir:
                    raise EngineError(f"cannot copy a directory to a file: {dst.label(dst_path)} is not a directory")
                base_fd, top = place.parent_fd, place.name
            else:
                if dst_dir and not is_dir:
                    raise EngineError(f"destination directory {dst.label(dst_path)} does not exist")
                base_fd, top = place.parent_fd, place.name
            return _extract(walk(fd, top, skip_top=not top), base_fd, owner)
        finally:
            place.close()
    finally:
        os.close(fd)


def _extract(nodes, base_fd: int, owner) -> int:
    out = _Extractor(base_fd, owner)
    try:
        for node in nodes:
            out.put(node)
        out.finish()
    finally:
        out.close()
    return out.size


def _copy_to_tar(src: _Side, src_text: str, follow: bool, stream) -> int:
    path, contents, must_dir = src.normal(src_text)
    fd, st = _open_source(src, path, follow or must_dir)
    try:
        if must_dir and not stat.S_ISDIR(st.st_mode):
            raise EngineError(f"{src.label(path)}: not a directory")
        top = "" if stat.S_ISDIR(st.st_mode) and (contents or path == "/") else posixpath.basename(path)
        return write_tar(walk(fd, top, skip_top=not top), stream)
    finally:
        os.close(fd)


def _copy_from_tar(stream, dst: _Side, dst_text: str, owner) -> int:
    path, _, _ = dst.normal(dst_text)
    place = _place(dst, path)
    try:
        if place.dir_fd is None:
            if place.st is None:
                raise dst.not_found(path)
            raise EngineError("extraction point is not a directory")
        return _extract(tar_nodes(stream), place.dir_fd, owner)
    finally:
        place.close()


def split_arg(arg: str) -> tuple[str | None, str]:
    """docker's rule: an absolute path, or one starting with `.`, is local;
    else `CONTAINER:PATH` names a container's path."""
    if arg.startswith("/"):
        return None, arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return None, arg
    return container, path


def cp(engine, src: str, dest: str, follow: bool = False, archive: bool = False, stdin=None,
       stdout=None) -> CopyResult:
    """docker cp in either direction; the bytes of file content copied."""
    from minictr.engine.export import container_root
    src_container, src_path = split_arg(src)
    dst_container, dst_path = split_arg(dest)
    if src_container and dst_container:
        raise EngineError("copying between containers is not supported")
    if not src_container and not dst_container:
        raise EngineError("must specify at least one container source")
    name = src_container or dst_container
    rec = engine.lookup(name)
    if dst_container and rec.spec.read_only:
        raise EngineError("container rootfs is marked read-only")
    try:
        with container_root(engine, rec, with_mounts=True) as root:
            inside = _Side(root, name)
            try:
                if src_container:
                    if dst_path == "-":
                        return CopyResult(_copy_to_tar(inside, src_path or "/", follow, stdout), "-")
                    host = _Side("/")
                    try:
                        size = _copy(inside, src_path or "/", host, dst_path, follow,
                                     None if archive else (os.getuid(), os.getgid()))
                    finally:
                        host.close()
                    return CopyResult(size, dst_path)
                owner = None if archive else (0, 0)
                if src_path == "-":
                    return CopyResult(_copy_from_tar(stdin, inside, dst_path or "/", owner), dest)
                host = _Side("/")
                try:
                    return CopyResult(_copy(host, src_path, inside, dst_path or "/", follow, owner), dest)
                finally:
                    host.close()
            finally:
                inside.close()
    except OSError as e:
        raise EngineError(f"copy {src} to {dest}: {e.strerror or e}") from None
