"""After every exit: the shim's exit command (engine.exit_cleanup), or an
attached CLI in-process, records the exit, tears down what the start made,
then restarts the container (its policy) or removes it (--rm). Done under
the container's lock; every step is idempotent, so a cleanup killed at any
point is finished by the next one or by `rm -f`."""
from __future__ import annotations

from minictr.clock import now_rfc3339
from minictr.engine import restart, status
from minictr.engine.errors import EngineError
from minictr.engine.records import ContainerRecord
from minictr.engine.remove import forget
from minictr.engine.teardown import teardown
from minictr.engine.truth import oom_killed, refresh, runtime_status


def cleanup(store, images, volumes, nets, driver, container_id: str) -> ContainerRecord | None:
    """Returns the record, None if it was removed."""
    with store.lock(container_id):
        try:
            rec = store.records.get(container_id)
        except EngineError:
            return None
        if rec.status == status.REMOVING:
            return rec   # an `rm` has it (or was killed: the next `rm` finishes)
        actual = runtime_status(driver, rec)
        if actual in status.LIVE or (actual == status.CREATED and rec.status != status.CREATED):
            if rec.status == status.CREATED:
                return refresh(store, driver, rec)
            return rec   # not ours to clean: it runs
        if rec.status == status.CREATED:
            teardown(store, driver, nets, rec)   # a start that never completed: it stays Created
            return rec
        exit_info = store.exit_info(rec.id)
        handled = exit_info is not None and exit_info["finished_at"] == rec.finished_at
        oom = exit_info is None and oom_killed(rec.id, rec.spec.cgroup_parent)   # else the shim has recorded it
        teardown(store, driver, nets, rec)
        if rec.status not in status.ACTIVE and handled:
            return rec
        if exit_info is None:
            if rec.status not in status.ACTIVE:
                return rec
            exit_info = {"exit_code": 137 if rec.stopped_by_user else 255, "finished_at": now_rfc3339()}
        store.records.update(rec.id, status=status.EXITED, pid=0, shim_pid=0, exit_code=exit_info["exit_code"],
                             oom_killed=int(oom or bool(exit_info.get("oom_killed"))),
                             finished_at=exit_info["finished_at"])
        rec = store.records.get(rec.id)
        if restart.should_restart(rec):
            return restart.restart(store, images, volumes, nets, driver, rec)
        if rec.spec.auto_remove:
            forget(store, images.leases, volumes, rec.id, rec.spec, remove_volumes=True)
            return None
        return rec
