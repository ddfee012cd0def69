"""What a build killed midway leaves, found and removed by the next build:
every build owns a tag (its pid and that pid's start time); its scratch
dir, its step containers (labelled with the tag) and the intermediate
images it put in the store (leased to the tag) are the owner's. A build
removes them for every owner that is no longer alive, so a SIGKILL at
any moment costs nothing but the work lost."""
from __future__ import annotations

import os
import shutil

from minictr.image.errors import NotFound
from minictr.runtime.state import proc_alive, proc_start_time

OWNER_LABEL = "org.minictr.build.owner"


def owner_tag() -> str:
    pid = os.getpid()
    return f"{pid}-{proc_start_time(pid)}"


def alive(tag: str) -> bool:
    pid, _, start = tag.partition("-")
    return pid.isdigit() and proc_alive(int(pid), start or None)


def scratch_dir(store_root: str, tag: str) -> str:
    return os.path.join(store_root, "tmp", f"build-{tag}")


def sweep(engine) -> list[str]:
    """Remove what dead builds left; the owners swept. The step containers'
    labels are read straight from the database: the engine itself is used
    only to remove a dead build's container (a lazily opened engine stays
    closed when there is none)."""
    store = engine.images
    dead: set[str] = set()
    tmp = os.path.join(store.root, "tmp")
    try:
        names = os.listdir(tmp)
    except FileNotFoundError:
        names = []
    for name in names:
        if name.startswith("build-") and not alive(name[len("build-"):]):
            dead.add(name[len("build-"):])
    for container_id, tag in store.conn.execute("SELECT id, json_extract(spec, ?) FROM containers",
                                                (f'$.labels."{OWNER_LABEL}"',)).fetchall():
        if tag and not alive(tag):
            dead.add(tag)
            engine.remove(engine.refresh(engine.records.get(container_id)), force=True)
    for holder in store.records.holders("build:"):
        tag = holder.split(":")[1]
        if not alive(tag):
            dead.add(tag)
            _drop_image_of(store, holder)
    for tag in dead:
        _remove_scratch(scratch_dir(store.root, tag))
    return sorted(dead)


def hold(store, image_id: str, tag: str, step: str = "") -> None:
    """An intermediate image, the build's until release(). `step` tells two
    of the build's steps apart (stages building at once may run on one image)."""
    store.records.lease(image_id, _holder(tag, image_id, step))


def release(store, image_id: str, tag: str, step: str = "") -> None:
    """The build is done with it: it goes, unless a name or someone else holds it."""
    _drop_image_of(store, _holder(tag, image_id, step))


def _holder(tag: str, image_id: str, step: str) -> str:
    return f"build:{tag}:{image_id}" + (f":{step}" if step else "")


def _drop_image_of(store, holder: str) -> None:
    rows = store.conn.execute("SELECT image_id FROM image_leases WHERE holder=?", (holder,)).fetchall()
    store.records.release(holder)
    for (image_id,) in rows:
        try:
            record = store.records.get(image_id)
        except NotFound:
            continue   # leased before it existed, and the build died before storing it
        if not record.tags and not store.records.lease_holders(image_id):
            store.records.remove(image_id)


def _remove_scratch(path: str) -> None:
    """Unmount what a dead build left mounted there (its stage trees), then remove it."""
    from minictr.engine.rootfs import unmount_rootfs   # detaches what is mounted at and below a path
    if os.path.isdir(path):
        unmount_rootfs(path)
    shutil.rmtree(path, ignore_errors=True)
