"""A container's root filesystem: the image's snapshots as overlayfs lower
dirs (shared, read-only) under the container's own upper dir, mounted on
the host at the bundle's rootfs, as docker and podman do; `diff` reads the
upper dir, `rm` takes it away."""
from __future__ import annotations

import os

from minictr.engine.errors import EngineError
from minictr.runtime import explain

MNT_DETACH = 2


def _libc():
    from minictr._native._shim import ffi, lib
    return ffi, lib


def mount_rootfs(snapshots, chain_ids: list[str], upper: str, work: str, target: str) -> None:
    os.makedirs(upper, mode=0o755, exist_ok=True)
    os.makedirs(work, mode=0o700, exist_ok=True)
    os.makedirs(target, mode=0o755, exist_ok=True)
    if is_mounted(target):
        return
    (m,) = snapshots.mounts(chain_ids, upper, work)
    ffi, lib = _libc()
    if m.type == "overlay":
        data = ",".join(m.options)
        if len(data) >= 4096:
            raise EngineError(f"too many layers for one overlay mount ({len(chain_ids)}): the options "
                              f"take {len(data)} bytes, the kernel allows 4095")
        explain.step("mount overlay", f"rootfs {target}: {len(chain_ids)} image layers read-only under "
                                      f"the container's own upper dir")
        rc = lib.mount(b"overlay", os.fsencode(target), b"overlay", 0, data.encode())
    else:  # an image without layers: the upper dir alone
        explain.step("mount --bind", f"rootfs {target}: an image without layers")
        rc = lib.mount(os.fsencode(m.source), os.fsencode(target), ffi.NULL, 0x1000 | 0x4000, ffi.NULL)
    if rc != 0:
        err = ffi.errno
        raise EngineError(f"mount the container's rootfs at {target}: {os.strerror(err)}")


def unmount_rootfs(target: str) -> None:
    """Detach the rootfs (and anything left mounted below it)."""
    from minictr.runtime.host_mounts import mounts_under
    points = mounts_under(target)
    if not points:
        return
    ffi, lib = _libc()
    explain.step("umount2(MNT_DETACH)", f"rootfs {target}")
    for point in sorted(points, key=lambda p: p.count("/"), reverse=True):
        lib.umount2(os.fsencode(point), MNT_DETACH)


def is_mounted(path: str) -> bool:
    from minictr.runtime.host_mounts import mounts_under
    real = os.path.realpath(path)
    return real in mounts_under(real)
