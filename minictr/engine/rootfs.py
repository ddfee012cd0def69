"""A container's root filesystem: the image's snapshots as overlayfs lower
dirs (shared, read-only) under the container's own upper dir, mounted on
the host at the bundle's rootfs, as docker and podman do; `diff` reads the
upper dir, `rm` takes it away."""
from __future__ import annotations

import os

from minictr import explain
from minictr._native._shim import ffi, lib
from minictr.engine.errors import EngineError
from minictr.runtime.host_mounts import mounts_under

MNT_DETACH = 2


def mount_rootfs(snapshots, chain_ids: list[str], upper: str, work: str, target: str) -> None:
    mount = rootfs_mount(snapshots, chain_ids, upper, work, target)
    if mount is not None:
        mount()


def rootfs_mount(snapshots, chain_ids: list[str], upper: str, work: str, target: str):
    """Everything before the mount (dirs, options, checks), then the mount
    itself as a call of its own (None: mounted already). The engine runs
    that call on a thread beside its other work: it is all kernel time,
    and a thread that parses no Python takes the interpreter's lock only
    to start and to end."""
    os.makedirs(upper, mode=0o755, exist_ok=True)
    os.makedirs(work, mode=0o700, exist_ok=True)
    os.makedirs(target, mode=0o755, exist_ok=True)
    if is_mounted(target):
        return None
    (m,) = snapshots.mounts(chain_ids, upper, work)
    if m.type == "overlay":
        data = ",".join(m.options)
        if len(data) >= 4096:
            raise EngineError(f"too many layers for one overlay mount ({len(chain_ids)}): the options "
                              f"take {len(data)} bytes, the kernel allows 4095")
        explain.step("mount overlay", f"rootfs {target}: {len(chain_ids)} image layers read-only under "
                                      f"the container's own upper dir")
        args = (b"overlay", os.fsencode(target), b"overlay", 0, data.encode())
    else:  # an image without layers: the upper dir alone
        explain.step("mount --bind", f"rootfs {target}: an image without layers")
        args = (os.fsencode(m.source), os.fsencode(target), ffi.NULL, 0x1000 | 0x4000, ffi.NULL)

    def mount() -> None:
        if lib.mount(*args) != 0:
            raise EngineError(f"mount the container's rootfs at {target}: {os.strerror(ffi.errno)}")
    return mount


def unmount_rootfs(target: str) -> None:
    """Detach the rootfs (and anything left mounted below it)."""
    detach = rootfs_detach(target)
    if detach is not None:
        detach()


def rootfs_detach(target: str):
    """What is mounted at and under the rootfs, found now; its detaching as
    a call of its own (None: nothing mounted), as rootfs_mount."""
    points = [os.fsencode(p) for p in sorted(mounts_under(target), key=lambda p: p.count("/"), reverse=True)]
    if not points:
        return None
    explain.step("umount2(MNT_DETACH)", f"rootfs {target}")

    def detach() -> None:
        for point in points:
            lib.umount2(point, MNT_DETACH)
    return detach


def is_mounted(path: str) -> bool:
    real = os.path.realpath(path)
    return real in mounts_under(real)
