"""The interface both cgroup drivers implement (V1Manager for v1 and hybrid
hosts, V2Manager for the unified hierarchy): the runtime, the engine and
stats call only these. Declared for readers, type checkers and
tests/unit/test_interfaces.py; nothing on a container start imports it."""
from __future__ import annotations

from typing import Protocol

from minictr.runtime.cgroups.resources import Limits


class CgroupManager(Protocol):
    driver: str                          # "v1" | "v2", kept in the runtime's state

    def describe(self) -> str:
        """The directories, for --explain and errors."""

    def dirs(self) -> list[str]:
        """The container's cgroup directories (one per hierarchy on v1)."""

    def to_state(self) -> dict:
        """What cgroups.from_state() needs to reopen it in a later process."""

    def create(self) -> None:
        """Make the directories (what existed before is never removed)."""

    def destroy(self) -> None:
        """Remove what create() made, waiting for the kernel to empty it."""

    def add(self, pid: int) -> None:
        """Move a process in (cgroup.procs)."""

    def pids(self) -> list[int]:
        """Every process inside."""

    def apply(self, limits: Limits | dict) -> None:
        """linux.resources at create."""

    def update(self, limits: Limits | dict) -> None:
        """runc update: only the given values change."""

    def freeze(self) -> None:
        """Pause every process (waits until the kernel says frozen)."""

    def thaw(self) -> None:
        """Resume them."""

    def frozen(self) -> bool:
        """Whether it is frozen now."""

    def kill_all(self, sig: int) -> None:
        """Signal every process inside (frozen first, so none forks away)."""

    def oom_file(self) -> str | None:
        """The file counting OOM kills, for the shim."""

    def oom_kill_count(self) -> int:
        """OOM kills so far."""

    def stats(self) -> dict:
        """runc events --stats' data (cpu, memory, pids, blkio)."""

    def mounts_for_container(self, cgroupns: bool, destination: str, options: list[str]) -> list[dict]:
        """The mounts that show the container its own cgroups at /sys/fs/cgroup."""
