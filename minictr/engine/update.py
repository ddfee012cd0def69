"""`update` (docker update, CRI's UpdateContainerResources): new resource
limits for a container. The new spec is checked whole first (the same
rules as at create); a running container's cgroups get the new limits
through the runtime's `update`; only then is the record's spec changed,
so a refused update changes nothing and the next start uses what was set."""
from __future__ import annotations

from minictr import explain
from minictr.engine import bundle, status
from minictr.engine.errors import EngineError, InvalidOption
from minictr.engine.records import ContainerRecord
from minictr.engine.spec import ContainerSpec
from minictr.runtime.errors import ContainerStopped, RuntimeFailure

RESOURCES = ("memory", "memory_swap", "nano_cpus", "cpu_shares", "cpu_quota", "cpu_period", "cpuset_cpus",
             "cpuset_mems", "pids_limit", "hugepage_limits", "unified")
UPDATABLE = RESOURCES + ("restart", "restart_max")


def updated_spec(spec: ContainerSpec, changes: dict) -> ContainerSpec:
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise InvalidOption(f"update: {', '.join(unknown)} cannot be changed on an existing container")
    data = spec.to_dict()
    if "nano_cpus" in changes and changes["nano_cpus"]:
        data["cpu_quota"] = data["cpu_period"] = 0        # --cpus replaces a quota, as docker's update
    elif changes.get("cpu_quota") or changes.get("cpu_period"):
        data["nano_cpus"] = 0
    if changes.get("memory") and "memory_swap" not in changes and spec.memory_swap not in (0, -1):
        if changes["memory"] > spec.memory_swap:
            raise InvalidOption("Memory limit should be smaller than already set memoryswap limit, "
                                "update the memoryswap at the same time")
    data.update(changes)
    new = ContainerSpec.from_dict(data)
    bundle.resources(new)   # create's checks (minimum memory, swap rules)
    return new


def update(store, driver, rec: ContainerRecord, changes: dict) -> ContainerRecord:
    with store.lock(rec.id):
        rec = store.records.get(rec.id)
        new = updated_spec(rec.spec, changes)
        if rec.status in (status.RUNNING, status.PAUSED) and set(changes) & set(RESOURCES):
            resources = bundle.resources(new)
            resources.pop("devices", None)   # not changed by an update
            explain.step("runtime update", f"{rec.short_id}: new cgroup limits {sorted(resources)}")
            try:
                driver.update(rec.id, resources)
            except ContainerStopped:
                pass    # it exited meanwhile: the next start applies the spec
            except (RuntimeFailure, OSError) as e:
                raise EngineError(f"Cannot update container {rec.id}: {e}") from None
        store.records.set_spec(rec.id, new)
        return store.records.get(rec.id)
