"""docker stop, kill, pause, unpause and wait: signals to a running
container through its runtime, then the cleanup that follows every exit."""
from __future__ import annotations

import os
import time

from minictr import explain
from minictr.engine import options, status
from minictr.engine.cleanup import cleanup
from minictr.engine.errors import EngineError
from minictr.engine.records import ContainerRecord
from minictr.engine.truth import refresh
from minictr.runtime.errors import RuntimeFailure
from minictr.runtime.state import proc_alive, wait_dead


def stop_signal(images, rec: ContainerRecord) -> int:
    """--stop-signal, else the image's StopSignal, else SIGTERM."""
    text = rec.spec.stop_signal or images.config_of(rec).get("StopSignal") or "SIGTERM"
    return options.parse_signal(text)


def stop(store, images, volumes, nets, driver, rec: ContainerRecord, timeout: float | None = None,
         sig: int | None = None) -> ContainerRecord:
    """The stop signal (`sig`, else the container's), SIGKILL after
    `timeout` seconds (default the container's --stop-timeout, else 10),
    then cleanup."""
    rec = refresh(store, driver, rec)
    if rec.status == status.RESTARTING:
        # between an exit and its restart: cancel the restart, then wait
        # for the cleanup holding the lock (its start may be under way)
        store.records.update(rec.id, stopped_by_user=1)
        with store.lock(rec.id):
            pass
        rec = refresh(store, driver, store.records.get(rec.id))
        if rec.status == status.RESTARTING:
            store.records.update(rec.id, status=status.EXITED)
            return store.records.get(rec.id)
    if rec.status not in status.LIVE:
        return rec
    store.records.update(rec.id, stopped_by_user=1)
    if timeout is None:
        timeout = rec.spec.stop_timeout if rec.spec.stop_timeout is not None else 10
    state = driver.state(rec.id)
    if state is None:
        return cleanup(store, images, volumes, nets, driver, rec.id) or rec
    try:
        if rec.status == status.PAUSED:
            unpause(store, driver, rec)
        sig = sig or stop_signal(images, rec)
        explain.step(f"kill({state.pid}, {sig})", "stop: the container's stop signal")
        driver.kill(rec.id, sig)
    except (RuntimeFailure, EngineError):
        pass
    if not wait_dead(state.pid, state.start_time, max(timeout, 0)):
        explain.step("kill(SIGKILL)", f"stop: still running after {timeout} s")
        try:
            driver.kill(rec.id, 9, all_processes=True)
        except (RuntimeFailure, EngineError):
            pass
        wait_dead(state.pid, state.start_time, 10)
    _wait_exit_recorded(store, rec)
    return cleanup(store, images, volumes, nets, driver, rec.id) or rec


def _wait_exit_recorded(store, rec: ContainerRecord, timeout: float = 5.0) -> None:
    """The shim writes the exit record right after reaping the init."""
    deadline = time.monotonic() + timeout
    path = store.exit_path(rec.id)
    while not os.path.exists(path) and time.monotonic() < deadline:
        if rec.shim_pid and not proc_alive(rec.shim_pid, None):
            return
        time.sleep(0.005)


def kill(store, driver, rec: ContainerRecord, sig: int = 9) -> None:
    rec = refresh(store, driver, rec)
    if rec.status not in status.LIVE:
        raise EngineError(f"cannot kill container: {rec.short_id}: container {rec.id} is not running")
    try:
        driver.kill(rec.id, sig)
    except RuntimeFailure:
        raise EngineError(f"cannot kill container: {rec.short_id}: container {rec.id} is not running") from None


def pause(store, driver, rec: ContainerRecord) -> None:
    rec = refresh(store, driver, rec)
    if rec.status != status.RUNNING:
        raise EngineError(f"container {rec.id} is not running" if rec.status != status.PAUSED
                          else f"container {rec.id} is already paused")
    driver.pause(rec.id)
    store.records.update(rec.id, status=status.PAUSED)


def unpause(store, driver, rec: ContainerRecord) -> None:
    rec = refresh(store, driver, rec)
    if rec.status != status.PAUSED:
        raise EngineError(f"container {rec.id} is not paused")
    driver.resume(rec.id)
    store.records.update(rec.id, status=status.RUNNING)


def wait(store, driver, rec: ContainerRecord, poll: float = 0.01) -> int:
    """docker wait: block until the container is not running; its exit code."""
    while True:
        try:
            rec = refresh(store, driver, store.records.lookup(rec.id))
        except EngineError:
            return rec.exit_code
        if rec.status not in status.ACTIVE:
            return rec.exit_code
        time.sleep(poll)
