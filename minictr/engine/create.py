"""docker create: an image and a spec become a container record (in
SQLite), a lease on the image and the container's dir. Nothing runs yet;
what can be refused is refused here (no image, no command, a bad name, a
network that does not exist), before anything is made."""
from __future__ import annotations

import os

from minictr import ids
from minictr.clock import now_rfc3339
from minictr.engine import bundle, modes, names, options
from minictr.engine.errors import EngineError, InvalidOption
from minictr.engine.records import ContainerRecord
from minictr.engine.remove import forget
from minictr.engine.spec import ContainerSpec, Mount


def create(store, images, volumes, nets, spec: ContainerSpec, name: str = "", pull=None) -> ContainerRecord:
    """`pull(ref)` fetches a missing image (docker's auto-pull); without it
    a missing image is an error. `spec` is not changed: anonymous volumes
    get their names in the record's copy."""
    image = images.find(spec.image)
    if image is None:
        if pull is None:
            raise EngineError(f"No such image: {spec.image}")
        pull(spec.image)
        image = images.lookup(spec.image)
    if name and not options.valid_container_name(name):
        raise InvalidOption(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    bundle.command(spec, images.config(image))   # "No command specified" now, not at start
    bundle.resources(spec)                       # memory/swap rules
    _check_network(store.records, nets, spec)
    spec = _with_volume_names(spec)
    container_id = ids.new_id()
    name = name or names.generate(store.records.names())
    store.records.add(container_id, name, image.id, spec.image, now_rfc3339(), spec)
    try:
        images.leases.lease(image.id, f"container:{container_id}")
        os.makedirs(store.paths(container_id).dir, mode=0o710, exist_ok=True)
        for volume in spec.volumes:
            if volume.type == "volume":
                volumes.create(volume.source, anonymous=volume.anonymous)
    except BaseException:
        forget(store, images.leases, volumes, container_id, spec, remove_volumes=True)
        raise
    return store.records.get(container_id)


def _with_volume_names(spec: ContainerSpec) -> ContainerSpec:
    """The spec with each anonymous volume (-v /data) named, as docker names it."""
    if not any(v.type == "volume" and not v.source for v in spec.volumes):
        return spec
    named = [Mount(v.type, ids.new_id(), v.destination, v.read_only, v.propagation, anonymous=True)
             if v.type == "volume" and not v.source else v for v in spec.volumes]
    return ContainerSpec.from_dict({**spec.to_dict(), "volumes": named})


def _check_network(records, nets, spec: ContainerSpec) -> None:
    mode = modes.network(spec.network)
    if mode.kind in (modes.NONE, modes.HOST, modes.CONTAINER) and spec.publish:
        raise InvalidOption("conflicting options: port publishing and the container type network mode")
    if mode.joins:
        records.lookup(mode.target)
    elif mode.kind == modes.NAMED:
        nets().get(mode.target)   # "network X not found"
    for kind in ("ipc", "pid", "uts"):
        shared = modes.parse(kind, getattr(spec, kind))
        if shared.joins:
            records.lookup(shared.target)   # "No such container: X" at create, as docker
