"""Restart policies, as docker has them: no, on-failure[:N], always,
unless-stopped; a user's stop always wins. Between an exit and the
restart the container shows as Restarting, and the wait grows with each
restart (docker's back-off, capped here at a couple of seconds)."""
from __future__ import annotations

import time

from minictr.engine import status
from minictr.errors import MinictrError

DELAY_MAX = 2.0


def should_restart(rec) -> bool:
    policy = rec.spec.restart
    if policy == "no" or rec.stopped_by_user:
        return False
    if policy in ("always", "unless-stopped"):
        return True
    return rec.exit_code != 0 and (rec.spec.restart_max == 0 or rec.restart_count < rec.spec.restart_max)


def delay(restart_count: int) -> float:
    return min(0.1 * 2 ** restart_count, DELAY_MAX)


def restart(store, images, volumes, nets, driver, rec):
    """After an exit the policy restarts: wait, then start again unless a
    `stop` came in between. Called by the cleanup, under the container's lock."""
    from minictr.engine import start  # here: start -> truth -> restart would be a cycle
    store.records.update(rec.id, status=status.RESTARTING, restart_count=rec.restart_count + 1)
    time.sleep(delay(rec.restart_count))
    rec = store.records.get(rec.id)
    if rec.status != status.RESTARTING or rec.stopped_by_user:
        return rec
    try:
        return start.run(store, images, volumes, nets, driver, rec)
    except MinictrError:   # recorded as State.Error by the start
        return store.records.get(rec.id)
