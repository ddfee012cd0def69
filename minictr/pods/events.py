"""Container lifecycle events (CRI's GetContainerEvents, which kubelet's
evented PLEG reads instead of relisting): two snapshots of every pod
container's and sandbox's state, compared. The engine keeps no event log
(a container exits in its shim, not in this process), so the stream is a
poll of the engine's records at a short interval: the events are those a
relist would find, in the order created, started, stopped, deleted."""
from __future__ import annotations

CREATED, STARTED, STOPPED, DELETED = "CREATED", "STARTED", "STOPPED", "DELETED"
_RUNNING = ("CONTAINER_RUNNING", "SANDBOX_READY")
_DONE = ("CONTAINER_EXITED", "SANDBOX_NOTREADY")


def snapshot(sandboxes, containers) -> dict[str, tuple[str, str]]:
    """{id: (state, sandbox id)} of every sandbox and pod container."""
    out = {box.id: (box.state, box.id) for box in sandboxes.list()}
    out.update({c.id: (c.state, c.sandbox_id) for c in containers.list()})
    return out


def changes(before: dict, after: dict) -> list[tuple[str, str, str]]:
    """(id, event, sandbox id) for what happened between two snapshots;
    a container that was made and ran in between gets each of its events."""
    events = []
    for cid, (state, sandbox) in after.items():
        old = before.get(cid, (None, sandbox))[0]
        if old is None:
            events.append((cid, CREATED, sandbox))
        if state in _RUNNING and old not in _RUNNING and old not in _DONE:
            events.append((cid, STARTED, sandbox))
        if state in _DONE and old not in _DONE:
            if old not in _RUNNING and state == "CONTAINER_EXITED":
                events.append((cid, STARTED, sandbox))   # it ran between two looks
            events.append((cid, STOPPED, sandbox))
    for cid, (state, sandbox) in before.items():
        if cid not in after:
            if state in _RUNNING:
                events.append((cid, STOPPED, sandbox))   # stopped and removed between two looks
            events.append((cid, DELETED, sandbox))
    return events
