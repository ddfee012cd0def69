"""Everything a start made, undone in reverse: the runtime's container
(and its cgroups), the network endpoint, the rootfs mount. Each step is a
no-op when done already, so a teardown interrupted at any point is
finished by the next one."""
from __future__ import annotations

from minictr.engine import cgroup_leftovers, modes, netfiles, shm
from minictr.engine.records import ContainerRecord
from minictr.engine.rootfs import rootfs_detach
from minictr.runtime.background import Background


def teardown(store, driver, nets, rec: ContainerRecord, leaving: bool = True) -> None:
    """leaving=False: a start follows at once (keep the shared cgroup
    parent). The rootfs is detached beside the rest (its wait is the
    kernel's). `nets()` gives the network manager, opened only for a
    container on a bridge."""
    detach = rootfs_detach(store.paths(rec.id).rootfs)
    unmounting = Background(detach) if detach is not None else None
    try:
        driver.delete(rec.id)
        cgroup_leftovers.remove(rec.id, parents=leaving, cgroup_parent=rec.spec.cgroup_parent)
        shm.unmount(store.paths(rec.id).shm)
        if modes.network(rec.spec.network).kind in (modes.BRIDGE, modes.NAMED):
            netfiles.disconnect(nets(), rec, netns_gone=not netns_shared(store.records, rec))
    finally:
        if unmounting is not None:
            unmounting.join()


def netns_shared(records, rec: ContainerRecord) -> bool:
    """Whether a running container joined this one's network namespace
    (--network container:X), keeping it alive after this one stopped."""
    joiners = [f"container:{n}" for n in (rec.id, rec.name, rec.short_id)]
    return records.active_joiners(rec.id, joiners) > 0
