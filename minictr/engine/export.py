"""`export`: a container's filesystem as a tar, and the pieces `cp` and
`commit` share with it: a tree walked through file descriptors (every
entry opened O_NOFOLLOW below an fd already held, so a symlink a container
process plants mid-walk is read as a link, never followed to the host),
its entries as `Node`s, written as a PAX tar by image/tar_writer.py.

A stopped container has no mounted root; `container_root` mounts its
overlay for the call, under the container's lock (a `start` waits for it),
and takes it away again."""
from __future__ import annotations

import contextlib
import os
import stat

from minictr.engine import status
from minictr.engine.errors import EngineError
from minictr.engine.rootfs import is_mounted, mount_rootfs, unmount_rootfs
# the tar side lives with the image's layer writer (a build writes layers without a container);
# re-exported here for cp
from minictr.image.tar_writer import BLK, CHR, DIR, FIFO, FILE, HARDLINK, SYMLINK, Node, write_tar

# overlayfs' own bookkeeping: never part of what a container's files carry
SKIPPED_XATTRS = (b"trusted.overlay.", b"user.overlay.")
_KINDS = {stat.S_IFREG: FILE, stat.S_IFDIR: DIR, stat.S_IFLNK: SYMLINK, stat.S_IFCHR: CHR,
          stat.S_IFBLK: BLK, stat.S_IFIFO: FIFO}


def proc_path(fd: int) -> str:
    """The inode an fd holds, as a path that resolves to nothing else."""
    return f"/proc/self/fd/{fd}"


def reopen(fd: int, flags: int) -> int:
    """An O_PATH fd reopened for I/O: the same inode, no path walked."""
    return os.open(proc_path(fd), flags | os.O_CLOEXEC)


def read_xattrs(fd: int) -> dict[bytes, bytes]:
    out = {}
    try:
        names = os.listxattr(proc_path(fd))
    except OSError:
        return out
    for name in names:
        key = os.fsencode(name)
        if key.startswith(SKIPPED_XATTRS):
            continue
        try:
            out[key] = os.getxattr(proc_path(fd), name)
        except OSError:
            pass
    return out


def node_of(fd: int, name: str, st: os.stat_result, links: dict | None = None) -> Node | None:
    """The Node for an O_PATH|O_NOFOLLOW fd; None for a socket (tar has
    no place for one). A regular file seen before under another name
    (st_nlink > 1) becomes a hard link to that name."""
    kind = _KINDS.get(stat.S_IFMT(st.st_mode))
    if kind is None:
        return None
    node = Node(name, kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns)
    if kind == FILE:
        if links is not None and st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in links:
                node.kind, node.linkname = HARDLINK, links[key]
                return node
            links[key] = name
        node.size = st.st_size
        node.opener = lambda: os.fdopen(reopen(fd, os.O_RDONLY), "rb")
    elif kind == SYMLINK:
        node.linkname = os.readlink("", dir_fd=fd)
        return node
    elif kind in (CHR, BLK):
        node.rdev = (os.major(st.st_rdev), os.minor(st.st_rdev))
    node.xattrs = read_xattrs(fd)
    return node


def walk(fd: int, name: str, *, skip_top: bool = False, one_fs: bool = False, links: dict | None = None):
    """Nodes of the tree at `fd` (an O_PATH fd, not followed), parents
    before children, names sorted; `name` is the top's name ("" for a
    root whose entries are named from its children). one_fs: a directory
    on another filesystem (a mount point) is listed, its content is not."""
    links = {} if links is None else links
    st = os.fstat(fd)
    yield from _walk(fd, name, st, skip_top, st.st_dev if one_fs else None, links)


def _walk(fd: int, name: str, st: os.stat_result, skip: bool, dev: int | None, links: dict):
    if not skip:
        node = node_of(fd, name, st, links)
        if node is None:
            return
        yield node
    if not stat.S_ISDIR(st.st_mode) or (dev is not None and st.st_dev != dev):
        return
    dfd = reopen(fd, os.O_RDONLY | os.O_DIRECTORY)
    try:
        children = sorted(os.listdir(dfd))
    finally:
        os.close(dfd)
    for child in children:
        try:
            cfd = os.open(child, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except FileNotFoundError:
            continue   # gone since the listing
        try:
            yield from _walk(cfd, f"{name}/{child}" if name else child, os.fstat(cfd), False, dev, links)
        finally:
            os.close(cfd)


@contextlib.contextmanager
def container_root(engine, rec, with_mounts: bool = False):
    """The container's merged root as a host path: its live mount while it
    runs, else its overlay mounted for the call. with_mounts: a running
    container's root as it sees it, its volumes and bind mounts in place
    (/proc/PID/root), as docker cp copies through them."""
    paths = engine.paths(rec.id)
    rec = engine.refresh(rec)
    if rec.status in status.LIVE and with_mounts and rec.pid:
        yield f"/proc/{rec.pid}/root"
        return
    if rec.status in status.LIVE and is_mounted(paths.rootfs):
        yield paths.rootfs
        return
    with engine.lock(rec.id):
        if is_mounted(paths.rootfs):   # started meanwhile
            yield paths.rootfs
            return
        image = engine.images.records.get(rec.image_id)
        mount_rootfs(engine.images.snapshots, [layer.chain_id for layer in image.layers], paths.upper, paths.work,
                     paths.rootfs)
        try:
            yield paths.rootfs
        finally:
            unmount_rootfs(paths.rootfs)


def export(engine, rec, out) -> int:
    """docker export: every file of the container's merged root (not its
    volumes or other mounts) as a tar on `out`; the content bytes written."""
    with container_root(engine, rec) as root:
        fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return write_tar(walk(fd, "", skip_top=True, one_fs=True), out)
        except OSError as e:
            raise EngineError(f"export {rec.name}: {e.strerror or e}") from None
        finally:
            os.close(fd)
