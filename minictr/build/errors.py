"""A build's failures: one line naming the Dockerfile and its line where
there is one, and a non-zero exit."""
from __future__ import annotations

from minictr.errors import MinictrError


class BuildError(MinictrError):
    exit_code = 1


class DockerfileError(BuildError):
    """Something wrong at a line of the Dockerfile (parse or build time)."""

    def __init__(self, path: str, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line = path, line


class RunFailed(BuildError):
    """A RUN step's command exited non-zero (build/run_step.py raises it)."""

    def __init__(self, code: int, tail: list[str]):
        super().__init__(f"exit code: {code}")
        self.code, self.tail = code, tail
