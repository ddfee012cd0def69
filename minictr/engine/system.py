"""The engine's objects as a whole: volumes (which containers use them,
removing and pruning them), `system df` (what images, containers and
volumes take, and what could be reclaimed) and `system prune`.

Volume storage itself is engine/volumes.py; what lives here needs the
container records too (a volume is in use while any container, running
or not, names it)."""
from __future__ import annotations

import os
import re
import shutil

from minictr.engine import layout, status
from minictr.engine.errors import EngineError
from minictr.engine.volumes import VolumeInUse
from minictr.errors import MinictrError
from minictr.fsutil import dir_size
from minictr.image import gc
from minictr.image.gc import unreferenced_bytes
from minictr.image.remove import remove_image

ACTIVE = status.ACTIVE
VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


# -- volumes ---------------------------------------------------------------------

def _known_volume(engine, name: str) -> str:
    if not VOLUME_NAME.match(name or "") or not engine.volumes.exists(name):
        raise EngineError(f"get {name}: no such volume")
    return name


def create_volume(engine, name: str = "", labels: dict | None = None) -> str:
    if name and not VOLUME_NAME.match(name):
        raise EngineError(f'create {name}: "{name}" includes invalid characters for a local volume name, only '
                          f'"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
                          f"use absolute path")
    return engine.volumes.create(name, labels=labels or {})


def volume_users(engine) -> dict[str, list[str]]:
    """Volume name -> the IDs of the containers naming it."""
    out: dict[str, list[str]] = {}
    for rec in engine.records.all():
        for volume in rec.spec.volumes:
            if volume.type == "volume":
                out.setdefault(volume.source, []).append(rec.id)
    return out


def list_volumes(engine, dangling: bool | None = None) -> list[dict]:
    """`volume inspect` documents; dangling=True: only unused ones."""
    users = volume_users(engine)
    out = []
    for name in engine.volumes.list():
        if dangling is not None and (name not in users) != dangling:
            continue
        out.append(engine.volumes.inspect(name))
    return out


def inspect_volume(engine, name: str) -> dict:
    return engine.volumes.inspect(_known_volume(engine, name))


def remove_volume(engine, name: str, force: bool = False) -> bool:
    """docker volume rm; False when it did not exist and force said to
    ignore that. A volume some container names is never removed."""
    try:
        _known_volume(engine, name)
    except EngineError:
        if force:
            return False
        raise
    users = volume_users(engine).get(name, [])
    if users:
        raise VolumeInUse(f"remove {name}: volume is in use - [{', '.join(users)}]")
    engine.volumes.remove(name, [])
    return True


def prune_volumes(engine, all_: bool = False) -> tuple[list[str], int]:
    """Unused anonymous volumes (all unused ones with all_); (names, bytes)."""
    users = volume_users(engine)
    removed, reclaimed = [], 0
    for name in engine.volumes.list():
        if name in users or not VOLUME_NAME.match(name):
            continue
        if not all_ and not engine.volumes.meta(name).get("Anonymous"):
            continue
        size = dir_size(engine.volumes.path(name))
        shutil.rmtree(os.path.dirname(engine.volumes.path(name)), ignore_errors=True)
        removed.append(name)
        reclaimed += size
    return removed, reclaimed


# -- system df -------------------------------------------------------------------

class Usage:
    """One row of `system df`, as numbers (cli/system_group.usage_row renders it)."""

    def __init__(self, kind: str, total: int, active: int, size: int, reclaimable: int):
        self.kind, self.total, self.active, self.size, self.reclaimable = kind, total, active, size, reclaimable


def disk_usage(engine) -> list[Usage]:
    """docker system df: images (each layer counted once), containers'
    writable layers, local volumes, and a build cache that is always empty."""
    containers = engine.list(all_=True)
    in_use = {rec.image_id for rec in containers}
    images = engine.images.records.all()
    layer_sizes: dict[str, int] = {}
    used_layers: set[str] = set()
    for image in images:
        for layer in image.layers:
            layer_sizes[layer.chain_id] = layer.unpacked_size
            if image.id in in_use:
                used_layers.add(layer.chain_id)
    leftovers = unreferenced_bytes(engine.images)   # reclaimable: no image holds it
    image_size = sum(layer_sizes.values()) + leftovers
    used_size = sum(layer_sizes[c] for c in used_layers)
    rw = {rec.id: dir_size(engine.paths(rec.id).upper) for rec in containers}
    active = [rec for rec in containers if rec.status in ACTIVE]
    users = volume_users(engine)
    volumes = {name: dir_size(engine.volumes.path(name)) for name in engine.volumes.list()}
    return [
        Usage("Images", len(images), sum(1 for i in images if i.id in in_use), image_size, image_size - used_size),
        Usage("Containers", len(containers), len(active), sum(rw.values()),
              sum(rw[rec.id] for rec in containers if rec.status not in ACTIVE)),
        Usage("Local Volumes", len(volumes), sum(1 for n in volumes if n in users), sum(volumes.values()),
              sum(size for n, size in volumes.items() if n not in users)),
        Usage("Build Cache", 0, 0, 0, 0),
    ]


# -- system prune ----------------------------------------------------------------

class Pruned:
    def __init__(self):
        self.containers: list[str] = []
        self.networks: list[str] = []
        self.volumes: list[str] = []
        self.images: list[tuple[str, str]] = []   # (Untagged|Deleted, what)
        self.warnings: list[str] = []
        self.reclaimed = 0


def prune_containers(engine, pruned: Pruned) -> None:
    """Stopped containers, those a killed `rm` left half-removed, and the
    files of containers that have no record any more."""
    for rec in engine.list(all_=True):
        if rec.status in status.STOPPED or rec.status == status.REMOVING:
            size = dir_size(engine.paths(rec.id).upper)
            try:
                engine.remove(rec)
            except EngineError:
                continue   # started meanwhile
            pruned.containers.append(rec.id)
            pruned.reclaimed += size
    pruned.containers += engine.sweep_orphans()


def prune_networks(engine, pruned: Pruned, default_too: bool = False) -> None:
    """User-defined networks no container uses (default_too: and the
    default network's bridge and rules, when no container uses it)."""
    try:
        pruned.networks += engine.networks.prune(default_too=default_too)
    except MinictrError as e:   # the rest of the prune still goes on
        pruned.warnings.append(f"networks not pruned: {e}")


def prune_images(engine, pruned: Pruned, all_: bool = False) -> None:
    """Dangling images (all_: every image no container uses), then the
    blobs and snapshots nothing references any more."""
    store = engine.images
    for record in store.records.all():
        if store.records.lease_holders(record.id) or (record.tags and not all_):
            continue
        pruned.images += remove_image(store, record.id, force=True, collect_blobs=False)
    pruned.reclaimed += gc.collect(store).bytes_freed


def prune(engine, all_: bool = False, volumes: bool = False) -> Pruned:
    """docker system prune: stopped containers, unused networks, (with
    volumes: unused anonymous volumes), dangling images (all_: unused)."""
    pruned = Pruned()
    prune_containers(engine, pruned)
    prune_networks(engine, pruned, default_too=all_)
    if volumes:
        names, size = prune_volumes(engine)
        pruned.volumes += names
        pruned.reclaimed += size
    prune_images(engine, pruned, all_)
    return pruned


def reset(engine) -> list[str]:
    """podman's `system reset`: every container (killed), network (bridges
    and rules), volume and image of this root, then the root's directories
    themselves. Returns what was removed from the host, for the report."""
    removed = []
    for rec in engine.list(all_=True):
        engine.remove(rec, force=True, volumes=True)
        removed.append(f"container {rec.id}")
    engine.sweep_orphans()
    networks = engine.networks
    for net in networks.list():
        networks.remove(net, default_too=True)
        removed.append(f"network {net.name} (bridge {net.bridge})")
    networks.teardown_host_rules()
    networks.close()
    for name in engine.volumes.list():
        remove_volume(engine, name, force=True)
        removed.append(f"volume {name}")
    store = engine.images
    for record in store.records.all():
        remove_image(store, record.id, force=True, collect_blobs=False)
        removed.append(f"image {record.id}")
    root, run_root = engine.root, layout.run_root(engine.root)
    engine.close()
    for path in (run_root, root):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(f"directory {path}")
    return removed
