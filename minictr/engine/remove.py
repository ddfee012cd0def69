"""docker rm, and what a container leaves when it goes: its record, the
lease on its image, its files (with -v its anonymous volumes). The record
goes last, so a removal killed midway is finished by the next `rm`; and
sweep_orphans() finds what an older minictr's killed removal left."""
from __future__ import annotations

import os

from minictr import ids
from minictr.engine import cgroup_leftovers, layout, shm, status
from minictr.engine.errors import EngineError
from minictr.engine.records import ContainerRecord
from minictr.engine.rootfs import unmount_rootfs
from minictr.engine.runtimes import InProcess
from minictr.engine.spec import ContainerSpec
from minictr.engine.teardown import teardown
from minictr.engine.truth import refresh
from minictr.fsutil import remove_tree
from minictr.runtime.errors import RuntimeFailure


def remove(store, leases, volumes, nets, driver, rec: ContainerRecord, force: bool = False,
           remove_volumes: bool = False) -> None:
    rec = refresh(store, driver, rec)
    if rec.status in status.ACTIVE and not force:
        verb = "paused" if rec.status == status.PAUSED else "running"
        raise EngineError(f"cannot remove container \"/{rec.name}\": container is {verb}: stop the "
                          "container before removing or force remove")
    with store.lock(rec.id):
        # marked first, the record goes last: a CLI killed in between
        # leaves a container `ps -a` shows as "Removal In Progress" and
        # that `rm` finishes, never files that belong to no record
        store.records.update(rec.id, status=status.REMOVING, stopped_by_user=1)
        teardown(store, driver, nets, rec)
        if rec.shim_pid and is_our_shim(rec.shim_pid, rec.id):
            try:
                os.kill(rec.shim_pid, 9)
            except ProcessLookupError:
                pass
        forget(store, leases, volumes, rec.id, rec.spec, remove_volumes)


def forget(store, leases, volumes, container_id: str, spec: ContainerSpec, remove_volumes: bool) -> None:
    """The record, the lease, the container's files (and with -v its
    anonymous volumes). `leases`: the image records."""
    paths = store.paths(container_id)
    unmount_rootfs(paths.rootfs)
    shm.unmount(paths.shm)
    if remove_volumes:
        for volume in spec.volumes:
            if volume.anonymous and volumes.exists(volume.source):
                remove_tree(os.path.dirname(volumes.path(volume.source)))
    remove_tree(paths.run_dir)
    remove_tree(paths.dir)
    leases.release(f"container:{container_id}")
    store.records.remove(container_id)   # last: until here, `rm` again finishes the job


def sweep_orphans(store, leases, runtime_store) -> list[str]:
    """Remove what belongs to no record (a removal killed by an older
    minictr, or a tree a busy mount kept): container and shim dirs,
    runtime state, cgroups, image leases. The dirs are listed before the
    records are read: create adds its record before it makes a dir, so a
    container being made now is never taken for an orphan."""
    found: set[str] = set()
    for parent in (os.path.join(store.root, "containers"),
                   os.path.join(layout.run_root(store.root), "containers"), runtime_store.root):
        try:
            found.update(n for n in os.listdir(parent) if ids.is_id(n))
        except FileNotFoundError:
            pass
    holders = {h.partition(":")[2] for h in leases.holders("container:")}
    orphans = sorted((found | holders) - store.records.ids())
    for container_id in orphans:
        with store.lock(container_id):
            if store.records.find(container_id) is not None:
                continue
            try:
                InProcess(runtime_store).delete(container_id)
            except (RuntimeFailure, OSError):
                pass
            cgroup_leftovers.remove(container_id)
            paths = store.paths(container_id)
            unmount_rootfs(paths.rootfs)
            remove_tree(paths.run_dir)
            remove_tree(paths.dir)
            leases.release(f"container:{container_id}")
        try:
            os.unlink(store.lock_path(container_id))
        except OSError:
            pass
    return orphans


def is_our_shim(pid: int, container_id: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    return b"minictr-shim" in cmdline and container_id.encode() in cmdline
