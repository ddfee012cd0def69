"""linux.resources checked once, field by field, into plain numbers both
drivers share; each bad value is reported with its config.json field name
before anything is created."""
from __future__ import annotations

from minictr.records import dataclass, field

from minictr.oci.runtime_config import ConfigError

def _is_cpu_list(text: str) -> bool:
    """'' or '0-2,4' (the kernel's cpuset list format)."""
    if not text.strip():
        return True
    for part in text.split(","):
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.isascii() and b.isdigit() for b in bounds):
            return False
    return True


@dataclass
class DeviceRule:
    allow: bool
    type: str       # a, c, b
    major: int      # -1 = any
    minor: int      # -1 = any
    access: str     # subset of rwm

    def v1_line(self) -> str:
        def num(n: int) -> str:
            return "*" if n < 0 else str(n)
        if self.type == "a":
            return "a"
        return f"{self.type} {num(self.major)}:{num(self.minor)} {self.access}"


@dataclass
class Limits:
    memory_limit: int | None = None          # bytes, -1 = unlimited
    memory_reservation: int | None = None
    memory_swap: int | None = None           # memory+swap, as in the spec (v1 semantics)
    memory_swappiness: int | None = None
    disable_oom_killer: bool = False
    cpu_shares: int | None = None
    cpu_quota: int | None = None             # -1 = unlimited
    cpu_period: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None            # <= 0 = unlimited
    devices: list[DeviceRule] = field(default_factory=list)
    unified: dict[str, str] = field(default_factory=dict)
    blkio_weight: int | None = None          # 10..1000
    blkio_weight_devices: list[tuple[int, int, int]] = field(default_factory=list)   # major, minor, weight
    # "read_bps", "write_bps", "read_iops", "write_iops" -> [(major, minor, rate)]
    blkio_throttle: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)
    hugepages: list[tuple[str, int]] = field(default_factory=list)   # ("2MB", bytes)
    net_cls_classid: int | None = None
    net_prio: list[tuple[str, int]] = field(default_factory=list)    # (interface, priority)

    def has_blkio(self) -> bool:
        return bool(self.blkio_weight or self.blkio_weight_devices or any(self.blkio_throttle.values()))


def _int(obj: dict, key: str, where: str, minimum: int | None = None) -> int | None:
    if key not in obj or obj[key] is None:
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}.{key}", f"must be an integer, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}.{key}", f"must be >= {minimum}, got {value}")
    return value


def _section(res: dict, key: str) -> dict:
    value = res.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"linux.resources.{key}", f"must be an object, got {type(value).__name__}")
    return value


def _devices(rules, where: str) -> list[DeviceRule]:
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise ConfigError(where, "must be an array")
    out = []
    for i, r in enumerate(rules):
        name = f"{where}[{i}]"
        if not isinstance(r, dict):
            raise ConfigError(name, "must be an object")
        allow = r.get("allow")
        if not isinstance(allow, bool):
            raise ConfigError(f"{name}.allow", "is required and must be a boolean")
        kind = r.get("type") or "a"
        if kind not in ("a", "c", "b"):
            raise ConfigError(f"{name}.type", f"must be a, c or b, got {kind!r}")
        major = _int(r, "major", name)
        minor = _int(r, "minor", name)
        access = r.get("access") or "rwm"
        if not isinstance(access, str) or not access or set(access) - set("rwm"):
            raise ConfigError(f"{name}.access", f"must be letters from 'rwm', got {access!r}")
        out.append(DeviceRule(allow, kind, -1 if major is None else major, -1 if minor is None else minor, access))
    return out


def parse_limits(res: dict | None, where: str = "linux.resources") -> Limits:
    res = res or {}
    if not isinstance(res, dict):
        raise ConfigError(where, "must be an object")
    lim = Limits()
    mem = _section(res, "memory")
    mw = f"{where}.memory"
    lim.memory_limit = _int(mem, "limit", mw, minimum=-1)
    lim.memory_reservation = _int(mem, "reservation", mw, minimum=-1)
    lim.memory_swap = _int(mem, "swap", mw, minimum=-1)
    lim.memory_swappiness = _int(mem, "swappiness", mw, minimum=0)
    if lim.memory_swappiness is not None and lim.memory_swappiness > 100:
        raise ConfigError(f"{mw}.swappiness", f"must be 0..100, got {lim.memory_swappiness}")
    if mem.get("disableOOMKiller") is not None:
        if not isinstance(mem["disableOOMKiller"], bool):
            raise ConfigError(f"{mw}.disableOOMKiller", "must be a boolean")
        lim.disable_oom_killer = mem["disableOOMKiller"]
    if (lim.memory_limit not in (None, -1) and lim.memory_swap not in (None, -1)
            and lim.memory_swap < lim.memory_limit):
        raise ConfigError(f"{mw}.swap", f"memory+swap limit ({lim.memory_swap}) must not be below "
                                        f"the memory limit ({lim.memory_limit})")
    if lim.memory_limit is not None and 0 < lim.memory_limit < 6 * 1024 * 1024:
        raise ConfigError(f"{mw}.limit", f"{lim.memory_limit} bytes is below the minimum of 6 MiB a container needs")
    cpu = _section(res, "cpu")
    cw = f"{where}.cpu"
    lim.cpu_shares = _int(cpu, "shares", cw, minimum=0)
    lim.cpu_quota = _int(cpu, "quota", cw, minimum=-1)
    lim.cpu_period = _int(cpu, "period", cw, minimum=0)
    if lim.cpu_period is not None and lim.cpu_period and not 1000 <= lim.cpu_period <= 1_000_000:
        raise ConfigError(f"{cw}.period", f"must be between 1000 and 1000000 microseconds, got {lim.cpu_period}")
    if lim.cpu_quota not in (None, -1, 0) and lim.cpu_quota < 1000:
        raise ConfigError(f"{cw}.quota", f"must be at least 1000 microseconds, got {lim.cpu_quota}")
    for key in ("cpus", "mems"):
        value = cpu.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not _is_cpu_list(value):
            raise ConfigError(f"{cw}.{key}", f"must be a list like '0-2,4', got {value!r}")
        setattr(lim, f"cpuset_{key}", value.strip() or None)
    pids = _section(res, "pids")
    if pids:
        if "limit" not in pids:
            raise ConfigError(f"{where}.pids.limit", "is required")
        lim.pids_limit = _int(pids, "limit", f"{where}.pids")
    lim.devices = _devices(res.get("devices"), f"{where}.devices")
    unified = res.get("unified") or {}
    if not isinstance(unified, dict) or not all(isinstance(k, str) and isinstance(v, str) and "/" not in k
                                                for k, v in unified.items()):
        raise ConfigError(f"{where}.unified", "must map cgroup v2 file names to string values")
    lim.unified = dict(unified)
    _block_io(_section(res, "blockIO"), f"{where}.blockIO", lim)
    _hugepages(res.get("hugepageLimits"), f"{where}.hugepageLimits", lim)
    net = _section(res, "network")
    lim.net_cls_classid = _int(net, "classID", f"{where}.network", minimum=0) or None
    for i, p in enumerate(net.get("priorities") or []):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p["name"]:
            raise ConfigError(f"{where}.network.priorities[{i}].name", "must be an interface name")
        lim.net_prio.append((p["name"], _int(p, "priority", f"{where}.network.priorities[{i}]", minimum=0) or 0))
    return lim


THROTTLES = {"throttleReadBpsDevice": "read_bps", "throttleWriteBpsDevice": "write_bps",
             "throttleReadIOPSDevice": "read_iops", "throttleWriteIOPSDevice": "write_iops"}


def _block_io(bio: dict, where: str, lim: Limits) -> None:
    lim.blkio_weight = _int(bio, "weight", where, minimum=0) or None
    if lim.blkio_weight is not None and not 10 <= lim.blkio_weight <= 1000:
        raise ConfigError(f"{where}.weight", f"must be 10..1000, got {lim.blkio_weight}")
    if _int(bio, "leafWeight", where, minimum=0):
        raise ConfigError(f"{where}.leafWeight", "is not supported by the kernel any more (removed in Linux 5.0)")

    def devices(key: str, value_key: str) -> list[tuple[int, int, int]]:
        out = []
        items = bio.get(key) or []
        if not isinstance(items, list):
            raise ConfigError(f"{where}.{key}", "must be an array")
        for i, d in enumerate(items):
            name = f"{where}.{key}[{i}]"
            if not isinstance(d, dict):
                raise ConfigError(name, "must be an object")
            major, minor = _int(d, "major", name, minimum=0), _int(d, "minor", name, minimum=0)
            value = _int(d, value_key, name, minimum=0)
            if major is None or minor is None or value is None:
                raise ConfigError(name, f"needs major, minor and {value_key}")
            out.append((major, minor, value))
        return out
    lim.blkio_weight_devices = devices("weightDevice", "weight")
    for key, short in THROTTLES.items():
        lim.blkio_throttle[short] = devices(key, "rate")


def _hugepages(items, where: str, lim: Limits) -> None:
    if items is None:
        return
    if not isinstance(items, list):
        raise ConfigError(where, "must be an array")
    for i, h in enumerate(items):
        name = f"{where}[{i}]"
        if not isinstance(h, dict) or not isinstance(h.get("pageSize"), str) or not h["pageSize"]:
            raise ConfigError(f"{name}.pageSize", "must be a size like 2MB")
        size = h["pageSize"]
        if not (size[:-2].isdigit() and size[-2:] in ("KB", "MB", "GB")):
            raise ConfigError(f"{name}.pageSize", f"must be a size like 2MB or 1GB, got {size!r}")
        limit = _int(h, "limit", name, minimum=0)
        if limit is None:
            raise ConfigError(f"{name}.limit", "is required")
        lim.hugepages.append((size, limit))


def cpu_weight(shares: int) -> int:
    """cgroup v1 shares (2..262144) to v2 weight (1..10000), the formula runc and crun use."""
    if shares == 0:
        return 0
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142
