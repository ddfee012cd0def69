"""Verbs that act on a container's cgroups rather than its lifecycle:
pause, resume, ps, events, update, and `list` over all containers."""
from __future__ import annotations

from minictr import jsonio
import subprocess
import time

from minictr.runtime import cgroups
from minictr.runtime.errors import ContainerStopped, RuntimeFailure
from minictr.runtime.state import StateStore, oci_state, status


def _open(store: StateStore, container_id: str):
    st = store.load(container_id)
    if not st.cgroup:
        raise RuntimeFailure(f"container {container_id} has no cgroups recorded")
    mgr = cgroups.from_state(st.cgroup)
    return st, mgr, status(store, st, mgr)


def pause(store: StateStore, container_id: str) -> None:
    _st, mgr, current = _open(store, container_id)
    if current != "running":
        raise RuntimeFailure(f"container not running: {current}")
    mgr.freeze()


def resume(store: StateStore, container_id: str) -> None:
    _st, mgr, current = _open(store, container_id)
    if current != "paused":
        raise RuntimeFailure(f"container not paused: {current}")
    mgr.thaw()


def ps(store: StateStore, container_id: str, fmt: str, ps_args: list[str]) -> str:
    _st, mgr, current = _open(store, container_id)
    pids = sorted(mgr.pids())
    if fmt == "json":
        return jsonio.dumps(pids)
    out = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeFailure(f"ps {' '.join(ps_args)}: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    if not lines:
        return ""
    header = lines[0]
    try:
        column = header.split().index("PID")
    except ValueError:
        raise RuntimeFailure("ps output has no PID column") from None
    wanted = set(pids)
    rows = [line for line in lines[1:] if len(line.split()) > column and line.split()[column].isdigit()
            and int(line.split()[column]) in wanted]
    return "\n".join([header, *rows])


def stats_event(store: StateStore, container_id: str) -> dict:
    _st, mgr, current = _open(store, container_id)
    if current == "stopped":
        raise ContainerStopped("container not running")
    return {"type": "stats", "id": container_id, "data": mgr.stats()}


def events(store: StateStore, container_id: str, interval: float, only_stats: bool, emit) -> None:
    """--stats: one sample. Otherwise stats every interval, plus an "oom"
    event whenever the kernel OOM-kills inside the container, until it stops."""
    if only_stats:
        emit(stats_event(store, container_id))
        return
    st, mgr, _ = _open(store, container_id)
    ooms = mgr.oom_kill_count()
    deadline = time.monotonic()
    while True:
        running = status(store, st, mgr) != "stopped"
        # checked once more after the stop: an OOM kill is usually what stopped it
        count = mgr.oom_kill_count()
        if count > ooms:
            emit({"type": "oom", "id": container_id})
            ooms = count
        if not running:
            return
        if time.monotonic() >= deadline:
            emit({"type": "stats", "id": container_id, "data": mgr.stats()})
            deadline = time.monotonic() + interval
        time.sleep(min(0.1, interval))


def update(store: StateStore, container_id: str, resources: dict) -> None:
    _st, mgr, current = _open(store, container_id)
    if current == "stopped":
        raise ContainerStopped("container not running")
    mgr.update(resources)


def list_containers(store: StateStore) -> list[dict]:
    out = []
    for cid in store.ids():
        try:
            st = store.load(cid)
        except RuntimeFailure:
            continue
        mgr = cgroups.from_state(st.cgroup) if st.cgroup else None
        out.append(oci_state(st, status(store, st, mgr)))
    return out
