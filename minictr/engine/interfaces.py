"""The interface every low-level runtime driver implements
(engine.runtimes.InProcess: ours in this process; External: a
runc-compatible binary). The lifecycle steps call only these. Declared for
readers, type checkers and tests/unit/test_interfaces.py; nothing on a
container start imports it."""
from __future__ import annotations

from typing import Protocol

from minictr.engine.runtimes import RuntimeState


class Launch(Protocol):
    """A created container under its shim, not yet watched."""
    pid: int
    shim_pid: int

    def adopt(self) -> None:
        """The network is ready: the shim starts watching the process."""

    def abandon(self) -> None:
        """The start failed: the shim goes."""


class RuntimeDriver(Protocol):
    def create(self, root: str, rec, paths) -> Launch:
        """runc create under a new shim, from the bundle at paths.bundle.
        Keeps nothing in the driver: threads may create side by side."""

    def start(self, container_id: str) -> None:
        """runc start: the process runs its program."""

    def state(self, container_id: str) -> RuntimeState | None:
        """runc state; None if the runtime knows no such container."""

    def kill(self, container_id: str, sig: int, all_processes: bool = False) -> None:
        """runc kill [--all]; RuntimeFailure if it is not running."""

    def delete(self, container_id: str) -> None:
        """runc delete --force: a no-op if it is gone."""

    def pause(self, container_id: str) -> None:
        """runc pause."""

    def resume(self, container_id: str) -> None:
        """runc resume."""

    def update(self, container_id: str, resources: dict) -> None:
        """runc update --resources: new limits for a running container's cgroups."""
