"""Unpack step, part 3 (rare): a hard link whose target is not in this
layer but in a lower one. Snapshots hold one layer each, so the link cannot
point at the lower inode (that would tie two snapshots together); the file
is copied up instead, as overlayfs itself does when a lower file is
changed. Lookups in the lower snapshots are confined to each with
RESOLVE_BENEATH, like every other path."""
from __future__ import annotations

import os
import stat

from minictr.image.unpack_root import open_beneath


class LowerLayers:
    """The snapshots below the one being unpacked, top first."""

    def __init__(self, parents):
        self.paths = [os.fsencode(p) for p in parents]

    def copy_up(self, target: bytes, dst_dir: int, dst_name: bytes) -> bool:
        """Copy `target` from the topmost lower layer that has it to
        dst_name in dst_dir. False if no lower layer has it (or the top one
        that mentions it holds a whiteout for it)."""
        head, _, name = target.rpartition(b"/")
        for root in self.paths:
            try:
                rfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                try:
                    pfd = open_beneath(rfd, head or b".", os.O_RDONLY | os.O_DIRECTORY)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                try:
                    st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                try:
                    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                        return False   # whited out in that layer
                    _copy(pfd, name, st, dst_dir, dst_name)
                    return True
                finally:
                    os.close(pfd)
            finally:
                os.close(rfd)
        return False


def _copy(src_dir: int, name: bytes, st: os.stat_result, dst_dir: int, dst_name: bytes) -> None:
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(name, dir_fd=src_dir), dst_name, dir_fd=dst_dir)
    elif stat.S_ISREG(st.st_mode):
        src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
        try:
            dst = os.open(dst_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                          dir_fd=dst_dir)
            try:
                _copy_data(src, dst)
                for key in os.listxattr(src):
                    os.setxattr(dst, key, os.getxattr(src, key))
            finally:
                os.close(dst)
        finally:
            os.close(src)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        os.mknod(dst_name, st.st_mode, st.st_rdev, dir_fd=dst_dir)
    else:
        raise OSError(f"cannot copy a {stat.filemode(st.st_mode)[0]!r} file up from a lower layer")
    os.chown(dst_name, st.st_uid, st.st_gid, dir_fd=dst_dir, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst_name, mode, dir_fd=dst_dir)
    os.utime(dst_name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_dir, follow_symlinks=False)


def _copy_data(src: int, dst: int) -> None:
    try:
        while os.copy_file_range(src, dst, 1 << 30):
            pass
    except OSError:   # no copy_file_range across these filesystems
        os.lseek(src, 0, os.SEEK_SET)
        os.lseek(dst, 0, os.SEEK_SET)
        os.ftruncate(dst, 0)
        while os.sendfile(dst, src, None, 1 << 30):
            pass
