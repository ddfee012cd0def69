"""The v1 driver for legacy and hybrid hosts: one directory per mounted
hierarchy (memory, cpu, cpuacct, cpuset, pids, freezer, devices, ...), as
runc makes them. On a hybrid host the container also joins the (controller-
less) cgroup2 hierarchy, which gives a reliable cgroup.kill."""
from __future__ import annotations

import os
from minictr.runtime import signals
import time

from minictr.runtime.cgroups import files
from minictr.runtime.cgroups.resources import THROTTLES, Limits, parse_limits

UNIFIED = ""   # the key of the cgroup2 hierarchy in /proc/self/cgroup


class V1Manager:
    driver = "v1"

    def __init__(self, paths: dict[str, str], mountpoints: dict[str, str], made: list[str] | None = None):
        self.paths = paths              # hierarchy key -> the container's directory
        self.mountpoints = mountpoints  # hierarchy key -> where the hierarchy is mounted
        self.made = list(made or [])

    def describe(self) -> str:
        return ", ".join(sorted(self.paths.values()))

    def dirs(self) -> list[str]:
        """The container's cgroup directories, one per hierarchy."""
        return list(self.paths.values())

    def to_state(self) -> dict:
        return {"driver": self.driver, "paths": self.paths, "mountpoints": self.mountpoints, "made": self.made}

    def _dir(self, controller: str) -> str | None:
        for key, path in self.paths.items():
            if controller in key.split(","):
                return path
        return None

    # -- life of the directories --------------------------------------------
    def create(self) -> None:
        for key, path in self.paths.items():
            made = files.make_dirs(path)
            self.made += made
            if "cpuset" in key.split(","):
                self._inherit_cpuset(path, self.mountpoints.get(key, ""))

    @staticmethod
    def _inherit_cpuset(path: str, mountpoint: str) -> None:
        """A new v1 cpuset starts empty and refuses tasks: fill every empty
        level from its parent, top down. Every level, not only the ones this
        call made: a parent another start has just made may still be empty
        (concurrent starts, the parent re-made after the last container
        left; a child copied from it stayed empty and refused its task)."""
        levels = [path]
        d = os.path.dirname(path)
        while mountpoint and d.startswith(mountpoint + "/"):
            levels.append(d)
            d = os.path.dirname(d)
        for d in reversed(levels):
            parent = os.path.dirname(d)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not files.read(d, name).strip():
                    files.write(d, name, files.read(parent, name).strip(), f"{name} from the parent cgroup")

    def destroy(self) -> None:
        files.remove_dirs(self.made or list(self.paths.values()))

    def add(self, pid: int) -> None:
        for path in self.paths.values():
            files.write(path, "cgroup.procs", pid)

    def _tracking_dir(self) -> str:
        for key in (UNIFIED, "pids", "freezer", "memory"):
            d = self._dir(key)
            if d:
                return d
        return next(iter(self.paths.values()))

    def pids(self) -> list[int]:
        return files.procs(self._tracking_dir())

    # -- limits ---------------------------------------------------------------
    def apply(self, limits: Limits | dict) -> None:
        lim = limits if isinstance(limits, Limits) else parse_limits(limits)
        r = "linux.resources"
        mem = self._dir("memory")
        if mem:
            self._apply_memory(mem, lim, r)
        cpu = self._dir("cpu")
        if cpu:
            if lim.cpu_shares:
                files.write(cpu, "cpu.shares", lim.cpu_shares, f"{r}.cpu.shares")
            if lim.cpu_period:
                files.write(cpu, "cpu.cfs_period_us", lim.cpu_period, f"{r}.cpu.period")
            if lim.cpu_quota is not None:
                files.write(cpu, "cpu.cfs_quota_us", lim.cpu_quota if lim.cpu_quota > 0 else -1, f"{r}.cpu.quota")
        cpuset = self._dir("cpuset")
        if cpuset:
            if lim.cpuset_cpus:
                files.write(cpuset, "cpuset.cpus", lim.cpuset_cpus, f"{r}.cpu.cpus")
            if lim.cpuset_mems:
                files.write(cpuset, "cpuset.mems", lim.cpuset_mems, f"{r}.cpu.mems")
        pids = self._dir("pids")
        if pids and lim.pids_limit is not None:
            files.write(pids, "pids.max", "max" if lim.pids_limit <= 0 else lim.pids_limit, f"{r}.pids.limit")
        devices = self._dir("devices")
        if devices and lim.devices:
            self._apply_devices(devices, lim)
        if lim.unified:
            raise files.CgroupError(f"{r}.unified: cgroup v2 settings on a host whose controllers are v1")
        if lim.has_blkio():
            self._apply_blkio(self._need("blkio", f"{r}.blockIO"), lim, r)
        for size, limit in lim.hugepages:
            files.write(self._need("hugetlb", f"{r}.hugepageLimits"), f"hugetlb.{size}.limit_in_bytes", limit,
                        f"{r}.hugepageLimits ({size})")
        if lim.net_cls_classid:
            files.write(self._need("net_cls", f"{r}.network.classID"), "net_cls.classid", lim.net_cls_classid,
                        f"{r}.network.classID")
        for iface, prio in lim.net_prio:
            files.write(self._need("net_prio", f"{r}.network.priorities"), "net_prio.ifpriomap", f"{iface} {prio}",
                        f"{r}.network.priorities ({iface})")

    def _need(self, controller: str, field: str) -> str:
        """The container's dir in that controller, or runc's kind of failure:
        a limit the host cannot apply is never dropped in silence."""
        d = self._dir(controller)
        if d is None:
            raise files.CgroupError(f"{field}: the {controller} cgroup controller is not mounted on this host, "
                                    f"so this limit cannot be applied")
        return d

    @staticmethod
    def _apply_blkio(d: str, lim: Limits, r: str) -> None:
        bfq = not os.path.exists(os.path.join(d, "blkio.weight"))
        prefix = "blkio.bfq." if bfq else "blkio."
        if (lim.blkio_weight or lim.blkio_weight_devices) and not os.path.exists(os.path.join(d, prefix + "weight")):
            raise files.CgroupError(f"{r}.blockIO.weight: this host's I/O scheduler takes no weights "
                                    f"(blkio.weight and blkio.bfq.weight are missing)")
        if lim.blkio_weight:
            files.write(d, prefix + "weight", lim.blkio_weight, f"{r}.blockIO.weight")
        for major, minor, weight in lim.blkio_weight_devices:
            files.write(d, prefix + "weight_device", f"{major}:{minor} {weight}", f"{r}.blockIO.weightDevice")
        for key, short in THROTTLES.items():
            for major, minor, rate in lim.blkio_throttle.get(short, []):
                files.write(d, f"blkio.throttle.{short}_device", f"{major}:{minor} {rate}", f"{r}.blockIO.{key}")

    def update(self, limits: Limits | dict) -> None:
        """runc update: only the given values change; devices stay as created."""
        lim = limits if isinstance(limits, Limits) else parse_limits(limits)
        lim.devices = []
        self.apply(lim)

    @staticmethod
    def _apply_memory(d: str, lim: Limits, r: str) -> None:
        if lim.memory_reservation is not None:
            files.write(d, "memory.soft_limit_in_bytes", lim.memory_reservation, f"{r}.memory.reservation")
        has_swap = os.path.exists(os.path.join(d, "memory.memsw.limit_in_bytes"))
        steps = []
        if lim.memory_limit is not None:
            steps.append(("memory.limit_in_bytes", lim.memory_limit or -1, f"{r}.memory.limit"))
        if lim.memory_swap is not None and has_swap:
            steps.append(("memory.memsw.limit_in_bytes", lim.memory_swap, f"{r}.memory.swap"))
        # memsw must stay >= limit at every moment: raise memsw first when growing
        if len(steps) == 2:
            current = files.read_int(d, "memory.memsw.limit_in_bytes")
            if lim.memory_swap == -1 or (current != -1 and lim.memory_swap > current):
                steps.reverse()
        for name, value, setting in steps:
            files.write(d, name, value, setting)
        if lim.memory_swappiness is not None:
            files.write(d, "memory.swappiness", lim.memory_swappiness, f"{r}.memory.swappiness")
        if lim.disable_oom_killer:
            files.write(d, "memory.oom_control", 1, f"{r}.memory.disableOOMKiller")

    @staticmethod
    def _apply_devices(d: str, lim: Limits) -> None:
        """Rules in order, as the spec says (runc's default list starts by
        denying everything, then allows the standard devices)."""
        for rule in lim.devices:
            files.write(d, "devices.allow" if rule.allow else "devices.deny", rule.v1_line(),
                        "linux.resources.devices")

    # -- control ----------------------------------------------------------------
    def _freezer(self) -> str:
        d = self._dir("freezer")
        if not d:
            raise files.CgroupError("pause needs the freezer cgroup controller, which this host does not mount")
        return d

    def freeze(self) -> None:
        d = self._freezer()
        files.write(d, "freezer.state", "FROZEN", "pause")
        deadline = time.monotonic() + 5
        while files.read(d, "freezer.state").strip() != "FROZEN":
            if time.monotonic() > deadline:
                files.write(d, "freezer.state", "THAWED", "pause timed out")
                raise files.CgroupError("pause: the freezer did not settle within 5 s")
            time.sleep(0.005)
            files.write(d, "freezer.state", "FROZEN", "pause")

    def thaw(self) -> None:
        files.write(self._freezer(), "freezer.state", "THAWED", "resume")

    def frozen(self) -> bool:
        d = self._dir("freezer")
        return bool(d) and files.read(d, "freezer.state").strip() == "FROZEN"

    def kill_all(self, sig: int) -> None:
        unified = self.paths.get(UNIFIED)
        if sig == signals.SIGKILL and unified and os.path.exists(os.path.join(unified, "cgroup.kill")):
            files.write(unified, "cgroup.kill", 1, "kill every process of the container")
            return
        # freeze so nothing forks away between listing and signalling
        freezer = self._dir("freezer")
        if freezer:
            files.write(freezer, "freezer.state", "FROZEN", "hold the processes still while signalling")
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if freezer:
                files.write(freezer, "freezer.state", "THAWED", "let them receive the signal")

    def oom_file(self) -> str | None:
        """Where the kernel counts this cgroup's OOM kills ("oom_kill N")."""
        d = self._dir("memory")
        return os.path.join(d, "memory.oom_control") if d else None

    def oom_kill_count(self) -> int:
        d = self._dir("memory")
        return files.read_keyed(d, "memory.oom_control").get("oom_kill", 0) if d else 0

    def stats(self) -> dict:
        cpu = self._dir("cpu")
        acct = self._dir("cpuacct")
        mem = self._dir("memory")
        pids = self._dir("pids")
        throttle = files.read_keyed(cpu, "cpu.stat") if cpu else {}
        return {
            "cpu": {"usage": {"total": files.read_int(acct, "cpuacct.usage") if acct else 0},
                    "throttling": {"periods": throttle.get("nr_periods", 0),
                                   "throttledPeriods": throttle.get("nr_throttled", 0),
                                   "throttledTime": throttle.get("throttled_time", 0)}},
            "memory": {"usage": {"usage": files.read_int(mem, "memory.usage_in_bytes") if mem else 0,
                                 "limit": files.read_int(mem, "memory.limit_in_bytes") if mem else 0,
                                 "failcnt": files.read_int(mem, "memory.failcnt") if mem else 0},
                       "raw": files.read_keyed(mem, "memory.stat") if mem else {}},
            "pids": {"current": files.read_int(pids, "pids.current") if pids else 0,
                     "limit": files.read_limit(pids, "pids.max")},
        }

    # -- what the container sees ----------------------------------------------------
    def mounts_for_container(self, cgroupns: bool, destination: str, options: list[str]) -> list[dict]:
        """As runc on v1: a tmpfs at the destination, then the container's own
        directory of each v1 hierarchy bound read-only (per the options) at
        its usual name. The cgroup2 hierarchy of a hybrid host is not shown."""
        flags = [o for o in options if o not in ("rbind", "bind")]
        mounts = [{"source": "tmpfs", "destination": destination, "type": "tmpfs",
                   "flags": ["nosuid", "nodev", "noexec"], "data": "mode=755"}]
        for key, path in self.paths.items():
            if key == UNIFIED:
                continue
            name = os.path.basename(self.mountpoints[key])
            mounts.append({"source": path, "destination": f"{destination.rstrip('/')}/{name}", "type": "bind",
                           "flags": flags + ["rbind"], "bind": True})
        return mounts

