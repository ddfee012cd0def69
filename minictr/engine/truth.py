"""What the kernel says of a container, over what its record says: a CLI
killed midway may have left the record behind the facts. An exit is only
shown here, never written: the cleanup that follows every exit records
it, and decides on a restart or --rm, which a record already marked
exited would keep it from doing."""
from __future__ import annotations

import fcntl
import os

from minictr.clock import now_rfc3339
from minictr.engine import status
from minictr.engine.bundle import cgroups_path
from minictr.engine.records import ZERO_TIME, ContainerRecord
from minictr.engine.restart import should_restart
from minictr.runtime import cgroups
from minictr.runtime.state import proc_alive


def runtime_status(driver, rec: ContainerRecord) -> str | None:
    state = driver.state(rec.id)
    return state.status if state else None


def refresh(store, driver, rec: ContainerRecord) -> ContainerRecord:
    if rec.status not in (status.CREATED, status.RUNNING, status.PAUSED):
        return rec
    state = driver.state(rec.id)
    actual = state.status if state else None
    if actual in status.LIVE:
        if actual == rec.status:
            return rec
        fields = {"status": actual, "pid": state.pid}
        if rec.started_at == ZERO_TIME:
            fields["started_at"] = now_rfc3339()
        store.records.update(rec.id, **fields)
        return store.records.get(rec.id)
    info = store.exit_info(rec.id)
    if rec.status == status.CREATED and (actual is None or info is None):
        return rec
    if info is None and actual is not None and rec.shim_pid and proc_alive(rec.shim_pid, None):
        return rec   # it has just exited: its shim is writing the exit record
    info = info or {"exit_code": 255 if actual is None else 137, "finished_at": now_rfc3339()}
    if actual is None and _record_if_unowned(store, rec, info):
        return store.records.get(rec.id)   # no runtime state and nobody cleaning: the record is behind
    rec.status, rec.exit_code, rec.finished_at = status.EXITED, info["exit_code"], info["finished_at"]
    if should_restart(rec):
        rec.status = status.RESTARTING
    return rec


def _record_if_unowned(store, rec: ContainerRecord, info: dict) -> bool:
    """Writes the exit if no cleanup holds the container's lock (it would
    write it itself); False if one does."""
    try:
        fd = os.open(store.lock_path(rec.id), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    try:
        current = store.records.get(rec.id)
        if current.status in status.LIVE:
            store.records.update(rec.id, status=status.EXITED, pid=0, exit_code=info["exit_code"],
                                 finished_at=info["finished_at"])
        return True
    finally:
        os.close(fd)


def oom_killed(container_id: str, cgroup_parent: str = "") -> bool:
    """Whether the kernel OOM-killed in the container's cgroup (when the
    shim could not record it)."""
    try:
        return cgroups.open_manager(cgroups_path(container_id, cgroup_parent), container_id).oom_kill_count() > 0
    except (OSError, ValueError, cgroups.CgroupError):
        return False
