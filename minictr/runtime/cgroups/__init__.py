"""cgroups for a container: the v2 driver on unified hosts, the v1 driver on
legacy and hybrid ones, chosen by looking at what is mounted.

    open_manager(cgroupsPath, id)  -> a manager for a new container
    from_state(dict)               -> the manager of an existing one
"""
from __future__ import annotations

import os

from minictr.runtime.cgroups.files import CgroupError
from minictr.runtime.cgroups.hierarchy import (host_path, mounted_hierarchies, own_cgroups, resolve,
                                               unified_mode)
from minictr.runtime.cgroups.resources import Limits, parse_limits
from minictr.runtime.cgroups.v1 import UNIFIED, V1Manager
from minictr.runtime.cgroups.v2 import V2Manager

__all__ = ["CgroupError", "Limits", "parse_limits", "open_manager", "from_state", "V1Manager", "V2Manager"]


def open_manager(cgroups_path: str | None, container_id: str):
    """Where the container's cgroups go; nothing is created yet."""
    hierarchies = mounted_hierarchies()
    own = own_cgroups()
    if unified_mode(hierarchies):
        h = next(h for h in hierarchies if h.version == 2 and h.mountpoint == "/sys/fs/cgroup")
        # as runc: a relative path sits beside our own cgroup, since our own
        # (with processes in it) cannot delegate controllers to a child
        base = os.path.dirname(own.get(UNIFIED, "/").rstrip("/")) or "/"
        return V2Manager(host_path(h, resolve(cgroups_path, container_id, base)))
    if not hierarchies:
        raise CgroupError("no cgroup hierarchy is mounted on this host")
    paths, mountpoints = {}, {}
    for h in hierarchies:
        if h.key not in own:
            continue
        paths[h.key] = host_path(h, resolve(cgroups_path, container_id, own[h.key]))
        mountpoints[h.key] = h.mountpoint
    return V1Manager(paths, mountpoints)


def can_limit(controller: str) -> bool:
    """Whether a container's limits for this controller can be applied here:
    a v1 hierarchy of it on legacy and hybrid hosts (whose cgroup2 mount
    holds no limits), or the controller in a unified host's root."""
    hierarchies = mounted_hierarchies()
    if unified_mode(hierarchies):
        try:
            with open("/sys/fs/cgroup/cgroup.controllers") as f:
                return controller in f.read().split()
        except OSError:
            return False
    return any(h.version == 1 and controller in h.controllers for h in hierarchies)


def from_state(state: dict):
    if state.get("driver") == "v2":
        return V2Manager(state["path"], state.get("made"))
    return V1Manager(state["paths"], state.get("mountpoints", {}), state.get("made"))
