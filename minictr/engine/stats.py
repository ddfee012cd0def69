"""`stats` and `top`: what a running container uses, read where the
kernel keeps it: its cgroups (CPU time, memory, block I/O, pids; v1 or
v2, whichever the runtime made) and its network namespace's
/proc/<pid>/net/dev. CPU % is docker's: the container's CPU time over the
host's in the same interval, times the online CPUs, from two samples."""
from __future__ import annotations

import os
import time

from minictr.engine import status
from minictr.engine.errors import EngineError, NotRunning
from minictr.runtime import cgroups
from minictr.runtime.errors import ContainerNotFound, RuntimeFailure

ACTIVE = status.LIVE


class Usage:
    """One container's numbers (their text is the CLI's: cli/container/observe.stats_row)."""

    def __init__(self, rec):
        self.id, self.name, self.running = rec.id, rec.name, rec.status in ACTIVE
        self.cpu_percent = 0.0
        self.mem_usage = self.mem_limit = 0
        self.net_rx = self.net_tx = self.block_read = self.block_write = 0
        self.pids = 0
        self._cpu = self._system = 0

    @property
    def mem_percent(self) -> float:
        return self.mem_usage * 100.0 / self.mem_limit if self.mem_limit else 0.0


def system_cpu_ns() -> int:
    """The host's CPU time (all CPUs, every state) from /proc/stat, as docker counts it."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:9]
    return sum(int(v) for v in fields) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def host_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def cgroup_of(engine, rec):
    """The container's cgroup manager as the runtime made it, or None."""
    return _cgroup(engine, rec)


def net_io(pid: int) -> list[tuple[str, int, int, int, int]]:
    """(name, rx bytes, rx errors, tx bytes, tx errors) per interface but lo."""
    out = []
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return out
    for line in lines:
        name, _, data = line.partition(":")
        fields = data.split()
        if name.strip() != "lo" and len(fields) >= 11:
            out.append((name.strip(), int(fields[0]), int(fields[2]), int(fields[8]), int(fields[10])))
    return out


def _cgroup(engine, rec):
    try:
        st = engine.runtime.load(rec.id)
    except ContainerNotFound:
        return None
    return cgroups.from_state(st.cgroup) if st.cgroup else None


def _block_io(mgr) -> tuple[int, int]:
    """Bytes read and written: v2's io.stat, v1's blkio throttle counters."""
    read = write = 0
    if getattr(mgr, "driver", "") == "v2":
        try:
            with open(os.path.join(mgr.path, "io.stat")) as f:
                for line in f:
                    for field in line.split()[1:]:
                        key, _, value = field.partition("=")
                        if key == "rbytes":
                            read += int(value)
                        elif key == "wbytes":
                            write += int(value)
        except (OSError, ValueError):
            pass
        return read, write
    blkio = next((p for k, p in getattr(mgr, "paths", {}).items() if "blkio" in k.split(",")), None)
    for name in ("blkio.throttle.io_service_bytes_recursive", "blkio.io_service_bytes_recursive"):
        try:
            with open(os.path.join(blkio, name)) as f:
                lines = f.read().split("\n")
        except (OSError, TypeError):
            continue
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[1] == "Read":
                read += int(parts[2])
            elif len(parts) == 3 and parts[1] == "Write":
                write += int(parts[2])
        break
    return read, write


def _net_io(pid: int) -> tuple[int, int]:
    """Bytes received and sent on the container's interfaces (not lo)."""
    counts = net_io(pid)
    return sum(c[1] for c in counts), sum(c[3] for c in counts)


def _read(engine, rec, usage: Usage) -> None:
    mgr = _cgroup(engine, rec)
    if mgr is None:
        usage.running = False
        return
    try:
        data = mgr.stats()
    except OSError:
        usage.running = False
        return
    usage._cpu = data["cpu"]["usage"]["total"]
    usage._system = system_cpu_ns()
    memory = data["memory"]
    raw = memory.get("raw") or {}
    used = memory["usage"]["usage"]
    inactive = raw.get("total_inactive_file", raw.get("inactive_file", 0))
    usage.mem_usage = used - inactive if inactive < used else used
    limit, total = memory["usage"].get("limit") or 0, host_memory()
    usage.mem_limit = limit if 0 < limit < total else total
    usage.pids = data["pids"]["current"]
    usage.block_read, usage.block_write = _block_io(mgr)
    usage.net_rx, usage.net_tx = _net_io(rec.pid) if rec.pid else (0, 0)


def sample(engine, records, interval: float = 0.5) -> list[Usage]:
    """One reading per container, CPU % over `interval` seconds (one
    sleep for all of them); a container not running reads as zeros."""
    out = [Usage(rec) for rec in records]
    for rec, usage in zip(records, out):
        if usage.running:
            _read(engine, rec, usage)
    first = [(u._cpu, u._system) for u in out]
    if any(u.running for u in out):
        time.sleep(interval)
    cpus = os.sysconf("SC_NPROCESSORS_ONLN") or 1
    for rec, usage, (cpu0, system0) in zip(records, out, first):
        if not usage.running:
            continue
        _read(engine, rec, usage)
        cpu_delta, system_delta = usage._cpu - cpu0, usage._system - system0
        if usage.running and cpu_delta > 0 and system_delta > 0:
            usage.cpu_percent = cpu_delta / system_delta * cpus * 100.0
    return out


def top(engine, rec, ps_args: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """docker top: `ps` (default -ef) cut to the container's processes;
    (titles, rows), the last column keeping its spaces."""
    from minictr.runtime import control  # ~12 ms of imports: stats' stream only
    rec = engine.refresh(rec)
    if rec.status not in ACTIVE:
        raise NotRunning(rec.id)
    try:
        text = control.ps(engine.runtime, rec.id, "table", list(ps_args or ["-ef"]))
    except RuntimeFailure as e:
        raise EngineError(f"Error running top: {e}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return [], []
    titles = lines[0].split()
    rows = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        rows.append(fields + [""] * (len(titles) - len(fields)))
    return titles, rows
