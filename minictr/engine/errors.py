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


class StartFailed(EngineError):
    """The runtime could not start the container's process; the exit code
    docker's CLI gives: 127 no such program, 126 not executable (or a
    directory), else 125."""

    def __init__(self, reason: str):
        super().__init__(f"failed to start the container: {reason}")
        low = reason.lower()
        if "no such file or directory" in low or "not found" in low:
            self.exit_code = 127
        elif "permission denied" in low or "is a directory" in low:
            self.exit_code = 126
        else:
            self.exit_code = 125
