"""The unified (v2) driver: one directory, limits in memory.max, cpu.max,
cpu.weight, cpuset.*, pids.max; cgroup.freeze and cgroup.kill; OOM kills
counted in memory.events."""
from __future__ import annotations

import os
from minictr.runtime import signals
import time

from minictr import explain
from minictr.runtime.cgroups import files
from minictr.runtime.cgroups.resources import Limits, cpu_weight, parse_limits


def _max(value: int | None) -> str:
    return "max" if value is None or value < 0 else str(value)


class V2Manager:
    driver = "v2"

    def __init__(self, path: str, made: list[str] | None = None):
        self.path = path
        self.made = list(made or [])

    def describe(self) -> str:
        return self.path

    def dirs(self) -> list[str]:
        """The container's cgroup directories (one on v2)."""
        return [self.path]

    def to_state(self) -> dict:
        return {"driver": self.driver, "path": self.path, "made": self.made}

    # -- life of the directory -------------------------------------------
    def create(self) -> None:
        self.made = files.make_dirs(self.path)
        self._enable_controllers()

    def _enable_controllers(self) -> None:
        """Each cgroup we made needs its parent to delegate the controllers."""
        for d in self.made:
            parent = os.path.dirname(d)
            try:
                available = files.read(parent, "cgroup.controllers").split()
            except OSError:
                continue
            wanted = [c for c in ("cpu", "cpuset", "memory", "pids", "io", "hugetlb") if c in available]
            if wanted:
                try:
                    files.write(parent, "cgroup.subtree_control", " ".join("+" + c for c in wanted),
                                "delegate controllers to the container's cgroup")
                except files.CgroupError:
                    # a parent with processes of its own cannot delegate; limits will say so
                    pass

    def destroy(self) -> None:
        files.remove_dirs(self.made or [self.path])

    def add(self, pid: int) -> None:
        files.write(self.path, "cgroup.procs", pid)

    def pids(self) -> list[int]:
        return files.procs(self.path)

    # -- limits -----------------------------------------------------------
    def apply(self, limits: Limits | dict) -> None:
        lim = limits if isinstance(limits, Limits) else parse_limits(limits)
        w = self.path
        r = "linux.resources"
        if lim.memory_reservation is not None:
            files.write(w, "memory.low", _max(lim.memory_reservation) if lim.memory_reservation else "0",
                        f"{r}.memory.reservation")
        if lim.memory_limit is not None:
            files.write(w, "memory.max", _max(lim.memory_limit if lim.memory_limit else -1), f"{r}.memory.limit")
        if lim.memory_swap is not None:
            # the spec's swap is memory+swap (v1 semantics); v2 limits swap alone
            if lim.memory_swap < 0:
                swap = "max"
            elif lim.memory_limit and lim.memory_limit > 0:
                swap = str(lim.memory_swap - lim.memory_limit)
            else:
                raise files.CgroupError(f"{r}.memory.swap: a swap limit needs {r}.memory.limit on cgroup v2")
            if os.path.exists(os.path.join(w, "memory.swap.max")):
                files.write(w, "memory.swap.max", swap, f"{r}.memory.swap")
        if lim.cpu_shares:
            files.write(w, "cpu.weight", cpu_weight(lim.cpu_shares), f"{r}.cpu.shares")
        if lim.cpu_quota is not None or lim.cpu_period:
            period = lim.cpu_period or 100000
            quota = "max" if lim.cpu_quota in (None, -1, 0) else str(lim.cpu_quota)
            files.write(w, "cpu.max", f"{quota} {period}", f"{r}.cpu.quota")
        if lim.cpuset_cpus:
            files.write(w, "cpuset.cpus", lim.cpuset_cpus, f"{r}.cpu.cpus")
        if lim.cpuset_mems:
            files.write(w, "cpuset.mems", lim.cpuset_mems, f"{r}.cpu.mems")
        if lim.pids_limit is not None:
            files.write(w, "pids.max", "max" if lim.pids_limit <= 0 else lim.pids_limit, f"{r}.pids.limit")
        for name, value in lim.unified.items():
            files.write(w, name, value, f"{r}.unified.{name}")
        if lim.has_blkio():
            self._apply_io(w, lim, r)
        for size, limit in lim.hugepages:
            files.write(w, f"hugetlb.{size}.max", limit, f"{r}.hugepageLimits ({size})")
        if lim.net_cls_classid or lim.net_prio:
            raise files.CgroupError(f"{r}.network: net_cls and net_prio do not exist on cgroup v2 "
                                    f"(mark packets with nftables or tc by cgroup path instead)")
        if lim.devices:
            from minictr.runtime.cgroups import device_filter
            explain.step("bpf(BPF_PROG_LOAD, BPF_PROG_ATTACH)",
                         f"device program on {w}: cgroup v2 decides device access with eBPF")
            device_filter.attach(w, lim.devices)

    update = apply

    @staticmethod
    def _apply_io(w: str, lim: Limits, r: str) -> None:
        """blockIO on v2: weights in io.weight (io.bfq.weight under BFQ),
        throttles as one io.max line per device."""
        weight_file = "io.weight" if os.path.exists(os.path.join(w, "io.weight")) else "io.bfq.weight"
        if (lim.blkio_weight or lim.blkio_weight_devices) and not os.path.exists(os.path.join(w, weight_file)):
            raise files.CgroupError(f"{r}.blockIO.weight: this host's I/O scheduler takes no weights "
                                    f"(io.weight and io.bfq.weight are missing)")
        if lim.blkio_weight:
            # v1's 10..1000 onto v2's 1..10000, as runc converts it
            files.write(w, weight_file, f"default {1 + (lim.blkio_weight - 10) * 9999 // 990}", f"{r}.blockIO.weight")
        for major, minor, weight in lim.blkio_weight_devices:
            files.write(w, weight_file, f"{major}:{minor} {1 + (weight - 10) * 9999 // 990}",
                        f"{r}.blockIO.weightDevice")
        per_device: dict[tuple[int, int], list[str]] = {}
        names = {"read_bps": "rbps", "write_bps": "wbps", "read_iops": "riops", "write_iops": "wiops"}
        for short, entries in lim.blkio_throttle.items():
            for major, minor, rate in entries:
                per_device.setdefault((major, minor), []).append(f"{names[short]}={rate}")
        for (major, minor), parts in per_device.items():
            files.write(w, "io.max", f"{major}:{minor} {' '.join(parts)}", f"{r}.blockIO (io.max)")

    # -- control ----------------------------------------------------------
    def freeze(self) -> None:
        files.write(self.path, "cgroup.freeze", 1, "pause")
        self._wait_frozen(True)

    def thaw(self) -> None:
        files.write(self.path, "cgroup.freeze", 0, "resume")
        self._wait_frozen(False)

    def _wait_frozen(self, want: bool, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.frozen() != want and time.monotonic() < deadline:
            time.sleep(0.005)

    def frozen(self) -> bool:
        return files.read_keyed(self.path, "cgroup.events").get("frozen") == 1

    def kill_all(self, sig: int) -> None:
        if sig == signals.SIGKILL and os.path.exists(os.path.join(self.path, "cgroup.kill")):
            files.write(self.path, "cgroup.kill", 1, "kill every process of the container")
            return
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def oom_file(self) -> str | None:
        """Where the kernel counts this cgroup's OOM kills ("oom_kill N")."""
        return os.path.join(self.path, "memory.events")

    def oom_kill_count(self) -> int:
        return files.read_keyed(self.path, "memory.events").get("oom_kill", 0)

    def stats(self) -> dict:
        cpu = files.read_keyed(self.path, "cpu.stat")
        mem = files.read_keyed(self.path, "memory.stat")
        return {
            "cpu": {"usage": {"total": cpu.get("usage_usec", 0) * 1000, "user": cpu.get("user_usec", 0) * 1000,
                              "kernel": cpu.get("system_usec", 0) * 1000},
                    "throttling": {"periods": cpu.get("nr_periods", 0),
                                   "throttledPeriods": cpu.get("nr_throttled", 0),
                                   "throttledTime": cpu.get("throttled_usec", 0) * 1000}},
            "memory": {"usage": {"usage": files.read_int(self.path, "memory.current"),
                                 "limit": files.read_limit(self.path, "memory.max")},
                       "cache": mem.get("file", 0), "raw": mem},
            "pids": {"current": files.read_int(self.path, "pids.current"),
                     "limit": files.read_limit(self.path, "pids.max")},
        }

    # -- what the container sees ------------------------------------------
    def mounts_for_container(self, cgroupns: bool, destination: str, options: list[str]) -> list[dict]:
        """With its own cgroup namespace the container mounts cgroup2 itself;
        without one it gets its own directory bound at the destination."""
        flags = [o for o in options if o not in ("rbind", "bind")]
        if cgroupns:
            return [{"source": "cgroup", "destination": destination, "type": "cgroup2", "flags": flags}]
        return [{"source": self.path, "destination": destination, "type": "bind", "flags": flags + ["rbind"],
                 "bind": True}]

