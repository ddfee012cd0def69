"""ImageFsInfo: what the image store really takes on disk, the way
containerd's snapshotter measures it (fs.DiskUsage): allocated blocks and
inodes of every file and directory, each hard-linked inode counted once;
here over both the content store (blobs) and the unpacked snapshots."""
from __future__ import annotations

import os
import stat
import time

from minictr.cri.v1 import api_pb2 as pb

_MAX_DEPTH = 256   # a deeper tree than any image has: stop rather than recurse forever


def disk_usage(paths: list[str]) -> tuple[int, int]:
    """(bytes, inodes) under paths; missing paths count nothing."""
    seen: set[tuple[int, int]] = set()
    used = 0
    stack = [(p, 0) for p in paths if os.path.lexists(p)]
    while stack:
        path, depth = stack.pop()
        try:
            st = os.lstat(path)
        except FileNotFoundError:   # removed while we walk (an rmi in another thread)
            continue
        key = (st.st_dev, st.st_ino)
        if key not in seen:
            seen.add(key)
            used += st.st_blocks * 512
        if stat.S_ISDIR(st.st_mode) and depth < _MAX_DEPTH:
            try:
                with os.scandir(path) as entries:
                    stack.extend((entry.path, depth + 1) for entry in entries)
            except (FileNotFoundError, NotADirectoryError, PermissionError):
                continue
    return used, len(seen)


def image_fs_info(store) -> pb.ImageFsInfoResponse:
    """The store's usage, identified by the snapshots directory (as
    containerd names its snapshotter's), on which kubelet finds the
    filesystem's capacity."""
    snapshots = os.path.join(store.root, "snapshots")
    used, inodes = disk_usage([os.path.join(store.root, "content"), snapshots])
    usage = pb.FilesystemUsage(timestamp=time.time_ns(), fs_id=pb.FilesystemIdentifier(mountpoint=snapshots),
                               used_bytes=pb.UInt64Value(value=used), inodes_used=pb.UInt64Value(value=inodes))
    return pb.ImageFsInfoResponse(image_filesystems=[usage])
