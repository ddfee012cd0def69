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
        self.name, self.holder = name, holder
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
    docker's CLI gives: 127 or 126 when the program could not run (the
    runtime's error says so in its program_code), else 125."""

    def __init__(self, reason: str, program_code: int | None = None):
        super().__init__(f"failed to start the container: {reason}")
        self.program_code = program_code
        self.exit_code = program_code or 125


class RuntimeCreateFailed(EngineError):
    """A --runtime binary's `create` failed; its words, and the program
    code docker's daemon reads from them."""

    def __init__(self, message: str, program_code: int | None = None):
        super().__init__(message)
        self.program_code = program_code
