"""A container's status, as docker's State.Status names it: one set of
constants and one parser, so a typo is an error, not a new state.

Plain string constants rather than an enum: the values go to SQLite and
JSON as they are, and `enum` is not otherwise imported on a start."""
from __future__ import annotations

from minictr.engine.errors import EngineError

CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
RESTARTING = "restarting"
REMOVING = "removing"
EXITED = "exited"
DEAD = "dead"

ALL = (CREATED, RUNNING, PAUSED, RESTARTING, REMOVING, EXITED, DEAD)
LIVE = frozenset((RUNNING, PAUSED))                 # a process exists
ACTIVE = frozenset((RUNNING, PAUSED, RESTARTING))   # docker's "up": ps without -a, rm without -f
STOPPED = frozenset((CREATED, EXITED, DEAD))        # what prune takes


def parse(text: str) -> str:
    """The status named by `text` (the record's column, a --filter status=)."""
    if text not in ALL:
        raise EngineError(f"invalid container status {text!r}: expected one of {', '.join(ALL)}")
    return text
