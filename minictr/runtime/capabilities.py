"""Capability names to the bit masks capset(2) takes. Like runc, a name this
kernel does not know is dropped with a warning rather than failing the
container, so one config works across kernels."""
from __future__ import annotations

from minictr.oci.runtime_config import ConfigError

NAMES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]
NUMBERS = {name: i for i, name in enumerate(NAMES)}

_last_cap: int | None = None


def last_cap() -> int:
    """The highest capability this kernel knows."""
    global _last_cap
    if _last_cap is None:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                _last_cap = int(f.read())
        except (OSError, ValueError):
            _last_cap = len(NAMES) - 1
    return _last_cap


def mask(names, field: str, warnings: list[str] | None = None) -> int:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(field, "must be an array of capability names")
    bits = 0
    unknown = []
    for name in names:
        key = name.upper()
        if not key.startswith("CAP_"):
            key = "CAP_" + key
        num = NUMBERS.get(key)
        if num is None or num > last_cap():
            unknown.append(name)
            continue
        bits |= 1 << num
    if unknown and warnings is not None:
        warnings.append(f"{field}: ignoring capabilities unknown to this kernel: {', '.join(unknown)}")
    return bits
