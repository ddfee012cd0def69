"""--sysctl: only the kernel settings a container's own namespaces hold
may be set (docker's and runc's rule); net.* not with the host's network,
the IPC ones not with the host's IPC namespace."""
from __future__ import annotations

from minictr.engine import modes
from minictr.engine.errors import InvalidOption

IPC_KEYS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
            "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
UTS_KEYS = {"kernel.domainname", "kernel.hostname"}


def check(spec) -> dict[str, str]:
    """The sysctls as linux.sysctl wants them (string values), or InvalidOption."""
    out = {}
    for key, value in spec.sysctls.items():
        if not isinstance(key, str) or not key or any(c.isspace() or c == "=" for c in key):
            raise InvalidOption(f"--sysctl {key!r}: not a sysctl name")
        name = key.replace("/", ".")
        if name in IPC_KEYS or name.startswith("fs.mqueue."):
            if modes.parse("ipc", spec.ipc).kind == modes.HOST:
                raise InvalidOption(f"sysctl {key!r} is not allowed in the host's IPC namespace (--ipc host)")
        elif name.startswith("net."):
            if modes.network(spec.network).kind == modes.HOST:
                raise InvalidOption(f"sysctl {key!r} is not allowed in the host's network namespace "
                                    f"(--network host)")
        elif name in UTS_KEYS:
            raise InvalidOption(f"sysctl {key!r} is not allowed: use --hostname / --domainname")
        else:
            raise InvalidOption(f"sysctl {key!r} is not allowed: it is not namespaced, so it would "
                                f"change the host")
        out[key] = str(value)
    return out
