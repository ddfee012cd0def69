"""cgroups no runtime state names: a create killed between making the
cgroups and saving its state leaves them without a record. They are found
by their fixed path (engine.bundle.cgroups_path), emptied and removed."""
from __future__ import annotations

import os
import time

from minictr import explain
from minictr.engine.bundle import cgroups_path
from minictr.runtime import cgroups


def remove(container_id: str, parents: bool = True, cgroup_parent: str = "") -> None:
    """With parents, also the engine's own parent (/minictr in every
    hierarchy) once no container is left in it: the runtime removes only
    what one container made, and the first container's parent outlives it
    whenever a sibling still runs then. A --cgroup-parent is another's
    (the kubelet's pod cgroup): never removed here."""
    try:
        mgr = cgroups.open_manager(cgroups_path(container_id, cgroup_parent), container_id)
    except (OSError, cgroups.CgroupError):
        return
    dirs = mgr.dirs()
    if any(os.path.isdir(d) for d in dirs):
        _kill_and_remove(mgr, dirs)
    if parents and not cgroup_parent:
        for parent in {os.path.dirname(d) for d in dirs}:
            try:
                os.rmdir(parent)   # EBUSY while another container's cgroup is in it
            except OSError:
                pass


def _kill_and_remove(mgr, dirs: list[str]) -> None:
    explain.step("rmdir cgroup", f"left by an interrupted create: {mgr.describe()}")
    # the create may have died before making every directory: kill what
    # any of them holds, without the freezer the manager would use
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pids = set()
        for d in dirs:
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    pids.update(int(p) for p in f.read().split())
            except OSError:
                pass
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        time.sleep(0.005)
    try:
        mgr.destroy()
    except (OSError, cgroups.CgroupError):
        pass
