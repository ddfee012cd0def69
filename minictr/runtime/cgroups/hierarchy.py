"""What this host mounts: which cgroup hierarchies exist, where, and where
the calling process sits in each. Read from /proc, never assumed."""
from __future__ import annotations

import os
from minictr.records import dataclass


@dataclass(frozen=True)
class Hierarchy:
    mountpoint: str     # /sys/fs/cgroup/memory
    root: str           # the cgroup the mount shows at its top ("/" on a host)
    controllers: tuple  # ("memory",) or ("name=systemd",) or () for cgroup2
    version: int        # 1 or 2

    @property
    def key(self) -> str:
        """How /proc/self/cgroup names this hierarchy ('' for cgroup2)."""
        return ",".join(self.controllers) if self.version == 1 else ""


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


_OWN_MOUNTINFO = "/proc/self/mountinfo"
_seen: list[Hierarchy] | None = None


def mounted_hierarchies(mountinfo: str = _OWN_MOUNTINFO) -> list[Hierarchy]:
    """Every cgroup/cgroup2 mount, first mount of each hierarchy only. Our
    own mount table is read once per process: a container start asks three
    times, and the host's cgroup mounts do not change under it."""
    global _seen
    if mountinfo == _OWN_MOUNTINFO:
        if _seen is None:
            _seen = _read_hierarchies(mountinfo)
        return list(_seen)
    return _read_hierarchies(mountinfo)


def _read_hierarchies(mountinfo: str) -> list[Hierarchy]:
    found: dict[str, Hierarchy] = {}
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            fstype, _source, superopts = (right.split() + ["", ""])[:3]
            if fstype == "cgroup2":
                h = Hierarchy(_unescape(fields[4]), _unescape(fields[3]), (), 2)
            elif fstype == "cgroup":
                opts = superopts.split(",")
                names = tuple(o for o in opts if o not in ("rw", "ro") and ("=" not in o or o.startswith("name=")))
                h = Hierarchy(_unescape(fields[4]), _unescape(fields[3]), names, 1)
            else:
                continue
            found.setdefault(h.key, h)
    return list(found.values())


def own_cgroups(pid: int | str = "self") -> dict[str, str]:
    """/proc/<pid>/cgroup as {hierarchy key: path}."""
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            out[names] = path
    return out


def unified_mode(hierarchies: list[Hierarchy]) -> bool:
    """A pure cgroup v2 host: cgroup2 at /sys/fs/cgroup and no v1 controllers."""
    return any(h.version == 2 and h.mountpoint == "/sys/fs/cgroup" for h in hierarchies)


def host_path(h: Hierarchy, cgroup: str) -> str:
    """The directory of `cgroup` (a path as /proc/self/cgroup shows it) under
    this mount, which may show only a subtree."""
    rel = cgroup
    if h.root != "/" and (cgroup == h.root or cgroup.startswith(h.root + "/")):
        rel = cgroup[len(h.root):]
    return os.path.normpath(h.mountpoint + "/" + rel.lstrip("/"))


def resolve(cgroups_path: str | None, container_id: str, own: str) -> str:
    """The container's cgroup, as a path within one hierarchy. As runc:
    an absolute cgroupsPath is taken from the hierarchy's root; a relative
    one, or none (then the container id), sits below the runtime's own cgroup.
    systemd's 'slice:prefix:name' is mapped onto plain directories."""
    path = cgroups_path or container_id
    if path.count(":") == 2 and not path.startswith("/"):
        path = systemd_path(path)
    if path.startswith("/"):
        return os.path.normpath(path)
    return os.path.normpath(own.rstrip("/") + "/" + path)


def systemd_path(spec: str) -> str:
    """'machine.slice:libpod:ID' -> '/machine.slice/libpod-ID.scope', expanding
    nested slices ('a-b.slice' lives in 'a.slice') as systemd does."""
    slice_name, prefix, name = spec.split(":")
    parts = []
    if slice_name and slice_name != "-.slice":
        stem = slice_name[:-len(".slice")] if slice_name.endswith(".slice") else slice_name
        pieces = stem.split("-")
        for i in range(1, len(pieces) + 1):
            parts.append("-".join(pieces[:i]) + ".slice")
    unit = name if name.endswith((".scope", ".slice")) else f"{prefix}-{name}.scope" if prefix else f"{name}.scope"
    return "/" + "/".join(parts + [unit])
