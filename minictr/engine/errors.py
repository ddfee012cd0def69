"""The engine's user-facing failures, worded as docker words them (users
and scripts match on these texts)."""
from __future__ import annotations

from minictr.errors import MinictrError


class EngineError(MinictrError):
    pass


class NoSuchContainer(EngineError):
    def __init__(self, name: str):
        super().__init__(f"No such container: {name}")


class NameConflict(EngineError):
    def __init__(self, name: str, holder: str):
        super().__init__(f'Conflict. The container name "/{name}" is already in use by container "{holder}". '
                         f"You have to remove (or rename) that container to be able to reuse that name.")


class NotRunning(EngineError):
    def __init__(self, container_id: str):
        super().__init__(f"container {container_id} is not running")


class InvalidOption(EngineError):
    """A flag's value is wrong; the exit code docker's CLI uses for bad flags."""
    exit_code = 125


def program_failure_code(reason: str) -> int | None:
    """127 when the container's program is not there, 126 when it cannot be
    executed (or is a directory), as docker (and a shell) say; None for any
    other reason a start failed."""
    low = reason.lower()
    if "no such file or directory" in low or "not found" in low:
        return 127
    if "permission denied" in low or "is a directory" in low:
        return 126
    return None


class StartFailed(EngineError):
    """The runtime could not start the container's process; the exit code
    docker's CLI gives: 127 or 126 (program_failure_code), else 125."""

    def __init__(self, reason: str):
        super().__init__(f"failed to start the container: {reason}")
        self.exit_code = program_failure_code(reason) or 125
