"""Unpack step of the image path: one layer's uncompressed tar becomes the
contents of one snapshot directory, in the form overlayfs stacks.

    tar stream -> TarReader (headers, hashing) -> entries applied here,
                  each path resolved by LayerRoot inside `dest`

OCI whiteouts become overlayfs ones: `dir/.wh.name` a 0/0 character device
at `dir/name`, `dir/.wh..wh..opq` the xattr trusted.overlay.opaque=y on
`dir`. Everything else lands as it is in the tar: absolute and dangling
symlinks, device nodes, fifos, hard links, numeric owners, modes with
setuid/setgid/sticky, xattrs, mtimes (a directory's after its contents).

Refused, with the entry named (LayerError): absolute member names or link
targets, any '..' component, a path through a symlink that leads out of the
root (see unpack_root for the policy), names longer than the kernel takes,
NUL bytes, corrupt or truncated tar data. After a refusal, `dest` holds a
partial tree that the caller throws away (Snapshots.prepare does);
nothing was written outside it.

Costs per regular file: open, write(s), utime, close, plus fchown only when
the owner is not ours and fchmod only when the umask or special bits would
have changed the mode. unpack_layer keeps no global state, so several
layers can be unpacked at once in threads (zlib, sha256 and the syscalls
release the GIL).
"""
from __future__ import annotations

import errno
import os
import stat

from minictr.image.errors import ImageError, LayerError
from minictr.image.unpack_lower import LowerLayers
from minictr.image.unpack_root import LayerRoot, Refused
from minictr.image.unpack_tar import BLK, CHR, DIR, FIFO, LNK, REG, SYM, StreamReadFailed, TarReader

WHITEOUT = b".wh."
OPAQUE = b".wh..wh..opq"
OPAQUE_XATTR, OPAQUE_VALUE = b"trusted.overlay.opaque", b"y"
PATH_MAX, NAME_MAX = 4096, 255
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# overlayfs' own xattrs (redirects, metacopy, opaque): only whiteout entries set them, never a tar's xattrs
_SKIPPED_XATTRS = (b"trusted.overlay.", b"user.overlay.")


class HardlinkTargetMissing(LayerError):
    """A hard link names a file neither this layer nor the given parents
    have; when layers are unpacked in parallel, retry once the lower ones
    are in place."""


class UnpackResult:
    __slots__ = ("diff_id", "entries", "bytes", "content_bytes", "whiteouts")

    def __init__(self, diff_id: str, entries: int, size: int, content_bytes: int, whiteouts: int):
        self.diff_id = diff_id              # sha256 of the whole uncompressed stream
        self.entries = entries              # tar members applied (extended headers not counted)
        self.bytes = size                   # length of the uncompressed stream
        self.content_bytes = content_bytes  # regular file data written
        self.whiteouts = whiteouts

    def __repr__(self) -> str:
        return (f"UnpackResult(diff_id={self.diff_id!r}, entries={self.entries}, bytes={self.bytes}, "
                f"content_bytes={self.content_bytes}, whiteouts={self.whiteouts})")


def unpack_layer(tar_stream, dest, *, layer: str = "", parents=()) -> UnpackResult:
    """Unpack the uncompressed tar read from `tar_stream` into the existing,
    empty directory `dest`, reading the stream to EOF. `layer` names the
    layer in errors; `parents` are the lower snapshot dirs (top first),
    consulted only for a hard link to a file this layer does not have."""
    reader = TarReader(tar_stream)
    unpacker = _Unpacker(reader, os.fsencode(dest), LowerLayers(parents))
    entry = None
    try:
        while True:
            entry = reader.next()
            if entry is None:
                break
            unpacker.apply(entry)
        entry = None
        unpacker.finish()
    except StreamReadFailed as e:   # the source failed (a dropped connection): not the layer's fault
        raise e.error from None
    except LayerError as e:
        cls = type(e)
        raise cls(e.entry, e.reason, e.layer or layer) from None
    except Refused as e:
        raise LayerError(_entry_name(entry), str(e), layer) from None
    except OSError as e:
        raise LayerError(_entry_name(entry), _os_reason(e), layer) from None
    except ImageError as e:   # the decompressor below us found bad data
        raise LayerError(_entry_name(entry), str(e), layer) from None
    finally:
        unpacker.close()
    return UnpackResult(reader.diff_id, unpacker.entries, reader.size, unpacker.content_bytes,
                        unpacker.whiteouts)


def _entry_name(entry) -> str:
    return entry.display() if entry is not None else "(tar stream)"


def _os_reason(e: OSError) -> str:
    if e.errno == errno.ENAMETOOLONG:
        return "name too long for the filesystem"
    return e.strerror or str(e)


def member_path(name: bytes, what: str = "member name") -> bytes:
    """The path a member name denotes inside the root: './' prefixes, empty
    and '.' components dropped; absolute names, '..' components, NULs and
    over-long names refused."""
    if name[:1] == b"/":
        raise Refused(f"absolute {what}")
    parts = name.split(b"/")
    if b".." in parts:
        raise Refused(f"'..' in {what}")
    if b"" in parts or b"." in parts:
        parts = [p for p in parts if p and p != b"."]
        name = b"/".join(parts)
    if len(name) > NAME_MAX:
        if len(name) >= PATH_MAX:
            raise Refused(f"{what} is {len(name)} bytes, longer than PATH_MAX ({PATH_MAX})")
        if any(len(p) > NAME_MAX for p in parts):
            raise Refused(f"a component of the {what} is longer than NAME_MAX ({NAME_MAX} bytes)")
    if b"\0" in name:
        raise Refused(f"NUL byte in {what}")
    return name


class _Unpacker:
    def __init__(self, reader: TarReader, dest: bytes, lower: LowerLayers):
        self.reader = reader
        self.root = LayerRoot(dest)
        self.lower = lower
        self.copied_up: dict[bytes, bytes] = {}     # lower-layer link target -> our copy
        self.dir_times: dict[bytes, tuple[int, int]] = {}
        self.entries = self.content_bytes = self.whiteouts = 0
        self.is_root = os.geteuid() == 0
        self.uid, self.gid = os.geteuid(), os.getegid()
        self.chmod_bits = 0o7000 | _umask()         # mode bits open/mkdir/mknod would not set as asked
        self.setgid_dirs = bool(os.fstat(self.root.fd).st_mode & stat.S_ISGID)
        self.handlers = {REG: self.regular, DIR: self.directory, SYM: self.symlink, LNK: self.hardlink,
                         CHR: self.node, BLK: self.node, FIFO: self.node, b"D": self.directory}

    def apply(self, e) -> None:
        path = member_path(e.name)
        self.entries += 1
        handler = self.handlers.get(e.type)
        if handler is None:
            raise Refused(f"unsupported tar entry type {e.type!r}")
        head, _, base = path.rpartition(b"/")
        if base[:4] == WHITEOUT:
            return self.whiteout(e, path, head, base)
        if not path and e.type != DIR:
            raise Refused("entry would replace the layer root")
        handler(e, path, head, base)

    # -- entry types ---------------------------------------------------------
    def regular(self, e, path: bytes, head: bytes, base: bytes) -> None:
        pfd = self.root.dir(head)
        try:
            fd = os.open(base, _CREATE, e.mode & 0o777, dir_fd=pfd)
        except FileExistsError:
            self.replace(pfd, base, path)
            fd = os.open(base, _CREATE, e.mode & 0o777, dir_fd=pfd)
        try:
            if e.size:
                self.reader.copy_data(fd)
                self.content_bytes += e.size
            self.owner_and_mode(e, fd)
            if e.xattrs:
                self.set_xattrs(fd, e.xattrs)
            os.utime(fd, ns=(e.atime_ns, e.mtime_ns))
        finally:
            os.close(fd)

    def directory(self, e, path: bytes, head: bytes, base: bytes) -> None:
        existed = True
        if path:
            pfd = self.root.dir(head)
            try:
                os.mkdir(base, e.mode & 0o777, dir_fd=pfd)
                existed = False
            except FileExistsError:
                if not stat.S_ISDIR(os.stat(base, dir_fd=pfd, follow_symlinks=False).st_mode):
                    self.replace(pfd, base, path)
                    os.mkdir(base, e.mode & 0o777, dir_fd=pfd)
                    existed = False
        fd = self.root.dir(path)
        if existed:   # made earlier as a parent, or by an earlier entry: set everything
            if self.is_root:
                os.fchown(fd, e.uid, e.gid)
            os.fchmod(fd, e.mode)
        else:
            self.owner_and_mode(e, fd)
        if e.mode & stat.S_ISGID:
            self.setgid_dirs = True
        if e.xattrs:
            self.set_xattrs(fd, e.xattrs)
        self.dir_times[path] = (e.atime_ns, e.mtime_ns)

    def symlink(self, e, path: bytes, head: bytes, base: bytes) -> None:
        pfd = self.root.dir(head)
        try:
            os.symlink(e.linkname, base, dir_fd=pfd)
        except FileExistsError:
            self.replace(pfd, base, path)
            os.symlink(e.linkname, base, dir_fd=pfd)
        self.finish_by_name(e, pfd, base, chmod=False)

    def node(self, e, path: bytes, head: bytes, base: bytes) -> None:
        pfd = self.root.dir(head)
        if e.type == FIFO:
            make = lambda: os.mkfifo(base, e.mode & 0o777, dir_fd=pfd)  # noqa: E731
        else:
            kind = stat.S_IFCHR if e.type == CHR else stat.S_IFBLK
            make = lambda: os.mknod(base, kind | (e.mode & 0o777), os.makedev(e.devmajor, e.devminor),  # noqa: E731
                                    dir_fd=pfd)
        try:
            make()
        except FileExistsError:
            self.replace(pfd, base, path)
            make()
        self.finish_by_name(e, pfd, base, chmod=True)

    def hardlink(self, e, path: bytes, head: bytes, base: bytes) -> None:
        target = member_path(e.linkname, "hard link target")
        if not target:
            raise Refused("hard link to the layer root")
        pfd = self.root.dir(head)
        source = self.copied_up.get(target, target)
        thead, _, tbase = source.rpartition(b"/")
        try:
            tfd = self.root.dir(thead, create=False)
            try:
                os.link(tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
            except FileExistsError:
                if source == path:
                    return          # a link to itself: already there
                self.replace(pfd, base, path)
                os.link(tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            if not self.lower.copy_up(target, pfd, base):
                raise HardlinkTargetMissing(e.display(), f"hard link target "
                                            f"{target.decode('utf-8', 'backslashreplace')!r} is not in this "
                                            f"layer or below it") from None
            self.copied_up[target] = path
        except PermissionError:
            if stat.S_ISDIR(os.stat(tbase, dir_fd=tfd, follow_symlinks=False).st_mode):
                raise Refused("hard link to a directory") from None
            raise

    def whiteout(self, e, path: bytes, head: bytes, base: bytes) -> None:
        pfd = self.root.dir(head)
        if base == OPAQUE:
            os.setxattr(pfd, OPAQUE_XATTR, OPAQUE_VALUE)
            return
        name = base[len(WHITEOUT):]
        if name.startswith(WHITEOUT):
            return              # aufs bookkeeping (.wh..wh.plnk and the like): not content
        if not name or name == b"." or name == b"..":
            raise Refused("whiteout of nothing")
        hidden = head + b"/" + name if head else name
        try:
            os.mknod(name, stat.S_IFCHR, 0, dir_fd=pfd)
        except FileExistsError:
            self.replace(pfd, name, hidden)
            os.mknod(name, stat.S_IFCHR, 0, dir_fd=pfd)
        if self.is_root and (e.uid != self.uid or e.gid != self.gid or self.setgid_dirs):
            os.chown(name, e.uid, e.gid, dir_fd=pfd, follow_symlinks=False)
        self.whiteouts += 1

    # -- metadata ------------------------------------------------------------
    def owner_and_mode(self, e, fd: int) -> None:
        """chown before chmod: chown clears setuid/setgid."""
        if self.is_root and (e.uid != self.uid or e.gid != self.gid or self.setgid_dirs):
            os.fchown(fd, e.uid, e.gid)
        if e.mode & self.chmod_bits or self.setgid_dirs:
            os.fchmod(fd, e.mode)

    def finish_by_name(self, e, pfd: int, base: bytes, chmod: bool) -> None:
        """Metadata of an entry that must not be opened (symlink, device, fifo)."""
        if self.is_root and (e.uid != self.uid or e.gid != self.gid or self.setgid_dirs):
            os.chown(base, e.uid, e.gid, dir_fd=pfd, follow_symlinks=False)
        if chmod and (e.mode & self.chmod_bits or self.setgid_dirs):
            os.chmod(base, e.mode, dir_fd=pfd)
        if e.xattrs:
            self.set_xattrs(b"/proc/self/fd/%d/%s" % (pfd, base), e.xattrs, follow=False)
        os.utime(base, ns=(e.atime_ns, e.mtime_ns), dir_fd=pfd, follow_symlinks=False)

    def set_xattrs(self, target, xattrs: dict, follow: bool = True) -> None:
        for key, value in xattrs.items():
            if key.startswith(_SKIPPED_XATTRS):
                continue
            os.setxattr(target, key, value, follow_symlinks=follow)

    def replace(self, pfd: int, base: bytes, path: bytes) -> None:
        """A later entry wins over an earlier one at the same path."""
        self.root.remove(pfd, base, path)
        under = path + b"/"
        for key in [k for k in self.dir_times if k == path or k.startswith(under)]:
            del self.dir_times[key]

    def finish(self) -> None:
        """Directory times last: writing into a directory changes its mtime."""
        for path, times in self.dir_times.items():
            os.utime(self.root.dir(path, create=False), ns=times)

    def close(self) -> None:
        self.root.close()


def _umask() -> int:
    """The process umask, read without changing it (os.umask would, for
    every thread)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o777   # unknown: chmod everything
