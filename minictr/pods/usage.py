"""What a pod's containers use, in the CRI's terms (kubelet's summary API
and `crictl stats`): CPU time and the cores used since the last reading,
memory (usage, working set = usage less inactive file pages, RSS, page
faults), the writable layer's bytes and inodes, and for a pod its
network counters and process count. Read from the cgroups the runtime
made and the pod's network namespace; nothing is sampled in the
background: the rate is computed between two asks, as containerd does."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from minictr.engine import stats as engine_stats


@dataclass
class Usage:
    timestamp: int = 0                  # ns since the epoch
    cpu_ns: int = 0
    nano_cores: int | None = None       # None until a second reading
    memory_usage: int = 0
    working_set: int = 0
    available: int | None = None        # None without a limit
    rss: int = 0
    page_faults: int = 0
    major_page_faults: int = 0
    processes: int = 0

    def add(self, other: "Usage") -> None:
        for name in ("cpu_ns", "memory_usage", "working_set", "rss", "page_faults", "major_page_faults",
                     "processes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.nano_cores is not None:
            self.nano_cores = (self.nano_cores or 0) + other.nano_cores


@dataclass
class LayerUsage:
    mountpoint: str
    used_bytes: int = 0
    inodes: int = 0


@dataclass
class PodUsage:
    usage: Usage
    interfaces: list = field(default_factory=list)   # engine.stats.net_io rows
    containers: list = field(default_factory=list)   # (PodContainer, Usage, LayerUsage)


def cgroup_usage(engine, rec) -> Usage | None:
    """One reading of a running container's cgroup; None when it has none."""
    mgr = engine_stats.cgroup_of(engine, rec)
    if mgr is None:
        return None
    try:
        data = mgr.stats()
    except OSError:
        return None
    memory = data["memory"]
    raw = memory.get("raw") or {}
    used = memory["usage"]["usage"]
    inactive = raw.get("total_inactive_file", raw.get("inactive_file", 0))
    limit = memory["usage"].get("limit") or 0
    working = used - inactive if inactive < used else 0
    host = engine_stats.host_memory()
    return Usage(timestamp=time.time_ns(), cpu_ns=data["cpu"]["usage"]["total"], memory_usage=used,
                 working_set=working, available=max(limit - working, 0) if 0 < limit < host else None,
                 rss=raw.get("total_rss", raw.get("anon", 0)),
                 page_faults=raw.get("total_pgfault", raw.get("pgfault", 0)),
                 major_page_faults=raw.get("total_pgmajfault", raw.get("pgmajfault", 0)),
                 processes=data["pids"]["current"])


def layer_usage(upper: str) -> LayerUsage:
    """Bytes and inodes of the container's own writable layer (hard links once)."""
    out = LayerUsage(mountpoint=os.path.dirname(os.path.dirname(upper)))
    seen = set()
    for dirpath, dirnames, filenames in os.walk(upper):
        for name in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            out.inodes += 1
            out.used_bytes += st.st_blocks * 512
    return out


class Rates:
    """The last CPU reading per container, to turn CPU time into cores."""

    def __init__(self):
        self._last: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def fill(self, key: str, usage: Usage) -> Usage:
        with self._lock:
            previous = self._last.get(key)
            self._last[key] = (usage.cpu_ns, usage.timestamp)
        if previous is not None and usage.timestamp > previous[1] and usage.cpu_ns >= previous[0]:
            usage.nano_cores = (usage.cpu_ns - previous[0]) * 1_000_000_000 // (usage.timestamp - previous[1])
        return usage

    def forget(self, live: set[str]) -> None:
        with self._lock:
            for key in [k for k in self._last if k not in live]:
                del self._last[key]


class PodStats:
    """Container and pod readings over the pods layer."""

    def __init__(self, engine, sandboxes, containers):
        self.engine, self.sandboxes, self.containers = engine, sandboxes, containers
        self.rates = Rates()

    def container(self, c) -> tuple[Usage, LayerUsage]:
        usage = cgroup_usage(self.engine, c.record) if c.state == "CONTAINER_RUNNING" else None
        usage = self.rates.fill(c.id, usage) if usage is not None else Usage(timestamp=time.time_ns())
        return usage, layer_usage(self.engine.paths(c.id).upper)

    def pod(self, box, containers: list) -> PodUsage:
        """The pod's numbers: its pause container's and its containers' summed."""
        total = Usage(timestamp=time.time_ns())
        pause = cgroup_usage(self.engine, box.record) if box.state == "SANDBOX_READY" else None
        if pause is not None:
            total.add(self.rates.fill(box.id, pause))
        rows = []
        for c in containers:
            usage, layer = self.container(c)
            total.add(usage)
            rows.append((c, usage, layer))
        interfaces = engine_stats.net_io(box.record.pid) if box.record.pid and box.netns else []
        return PodUsage(total, interfaces, rows)
