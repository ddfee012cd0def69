"""One root's containers as the lifecycle steps see them: their records
(one database connection, so one per thread), their files, their locks
and the exit record each shim leaves. Every step takes this and nothing
wider."""
from __future__ import annotations

import os

from minictr import jsonio
from minictr.engine.layout import ContainerPaths, run_root
from minictr.engine.records import ContainerRecords
from minictr.state.locks import FileLock


class ContainerStore:
    __slots__ = ("root", "records")

    def __init__(self, root: str, records: ContainerRecords):
        self.root = root
        self.records = records

    def paths(self, container_id: str) -> ContainerPaths:
        return ContainerPaths(self.root, container_id)

    def lock_path(self, container_id: str) -> str:
        return os.path.join(self.root, "locks", f"container-{container_id}.lock")

    def lock(self, container_id: str) -> FileLock:
        """Held by every step that changes a container (start, cleanup, rm)."""
        return FileLock(self.lock_path(container_id))

    def exit_path(self, container_id: str) -> str:
        return os.path.join(run_root(self.root), "containers", container_id, "exit")

    def exit_info(self, container_id: str) -> dict | None:
        """What the shim recorded when the init exited (exit_code,
        finished_at, oom_killed); None before that."""
        try:
            with open(self.exit_path(container_id)) as f:
                return jsonio.loads(f.read())
        except (OSError, ValueError):
            return None
