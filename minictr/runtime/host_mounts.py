"""Mounts a container without a mount namespace leaves on the host.

Such a container shares the host's mount table, so its proc, /dev and
binds are mounted under its rootfs on the host itself (runc leaves them
there for good). `delete`, and a failed `create`, take them away:
everything mounted at or below the rootfs, deepest first, detached."""
from __future__ import annotations

import os

from minictr import explain

_MNT_DETACH = 2


def _unescape(path: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    out, i = [], 0
    while i < len(path):
        if path[i] == "\\" and i + 3 < len(path) and path[i + 1:i + 4].isdigit():
            out.append(chr(int(path[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def mounts_under(root: str) -> list[str]:
    root = os.path.realpath(root)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = _unescape(line.split()[4])
            if point == root or point.startswith(root.rstrip("/") + "/"):
                found.append(point)
    return found


def unmount_under(root: str) -> None:
    points = mounts_under(root)
    if not points:
        return
    import ctypes  # only containers without a mount namespace get here
    libc = ctypes.CDLL(None, use_errno=True)
    explain.step("umount2(MNT_DETACH)", f"{len(points)} mounts the container left on the host under {root}")
    for point in sorted(points, key=lambda p: p.count("/"), reverse=True):
        libc.umount2(os.fsencode(point), _MNT_DETACH)


def shares_host_mounts(namespaces: list[dict]) -> bool:
    return not any(ns.get("type") == "mount" for ns in namespaces)
