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
import stat

from minictr.engine.errors import EngineError
from minictr.engine.export import container_root, walk, write_tar
from minictr.engine.extract import extract, tar_nodes
from minictr.engine.in_root import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS
from minictr.image.unpack_root import openat2

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
            return extract(walk(fd, top, skip_top=not top), base_fd, owner)
        finally:
            place.close()
    finally:
        os.close(fd)


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
        return extract(tar_nodes(stream), place.dir_fd, owner)
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
