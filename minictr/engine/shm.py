"""/dev/shm for `--ipc shareable` containers, as docker makes it: a tmpfs
on the host in the container's dir, bind-mounted in, so a container that
joins its IPC namespace (`--ipc container:X`) can bind the same one (a
mount inside another mount namespace cannot be bound from outside). A
private container's /dev/shm stays a tmpfs of its own, made inside."""
from __future__ import annotations

import os

from minictr import explain
from minictr._native._shim import ffi, lib
from minictr.engine.errors import EngineError
from minictr.engine.rootfs import is_mounted

MS_NOSUID, MS_NODEV, MS_NOEXEC, MNT_DETACH = 2, 4, 8, 2


def mount(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    if is_mounted(path):
        return
    explain.step("mount tmpfs", f"{path}: the container's /dev/shm, shareable with --ipc container:")
    if lib.mount(b"shm", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 b"mode=1777,size=65536k") != 0:
        raise EngineError(f"mount /dev/shm tmpfs at {path}: {os.strerror(ffi.errno)}")


def mounted(path: str) -> bool:
    if not os.path.isdir(path):
        return False
    return is_mounted(path)


def unmount(path: str) -> None:
    """A no-op unless it is mounted (only shareable containers have the dir)."""
    if mounted(path):
        explain.step("umount2(MNT_DETACH)", f"{path}: the container's shareable /dev/shm")
        lib.umount2(os.fsencode(path), MNT_DETACH)
