"""--device (and CRI's devices): a host device node made again in the
container (linux.devices) with a device-cgroup rule letting it be used
with the given permissions (linux.resources.devices), as docker writes
them. A directory brings every device node under it, as docker does."""
from __future__ import annotations

import os
import stat

from minictr.engine.errors import InvalidOption
from minictr.engine.spec import DeviceMapping


def _check_permissions(mapping: DeviceMapping) -> str:
    perms = mapping.permissions or "rwm"
    if not perms or any(c not in "rwm" for c in perms) or len(set(perms)) != len(perms):
        raise InvalidOption(f"--device {mapping.host_path}: invalid device mode {perms!r}: "
                            f"use one or more of r, w, m")
    return perms


def _node(host_path: str, container_path: str, perms: str) -> tuple[dict, dict]:
    try:
        st = os.stat(host_path)
    except OSError as e:
        raise InvalidOption(f"error gathering device information while adding custom device "
                            f"{host_path!r}: {e.strerror.lower() if e.strerror else e}") from None
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise InvalidOption(f"error gathering device information while adding custom device "
                            f"{host_path!r}: not a device node")
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    node = {"path": container_path, "type": kind, "major": major, "minor": minor,
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
    rule = {"allow": True, "type": kind, "major": major, "minor": minor, "access": perms}
    return node, rule


def resolve(mappings: list[DeviceMapping]) -> tuple[list[dict], list[dict]]:
    """(linux.devices entries, linux.resources.devices rules)."""
    nodes, rules = [], []
    for m in mappings:
        perms = _check_permissions(m)
        target = m.container_path or m.host_path
        if not os.path.isabs(target):
            raise InvalidOption(f"--device {m.host_path}:{target}: the container path must be absolute")
        if os.path.isdir(m.host_path):
            for dirpath, _dirs, names in os.walk(m.host_path):
                for name in sorted(names):
                    path = os.path.join(dirpath, name)
                    mode = os.lstat(path).st_mode
                    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                        rel = os.path.relpath(path, m.host_path)
                        node, rule = _node(path, os.path.join(target, rel), perms)
                        nodes.append(node)
                        rules.append(rule)
            continue
        node, rule = _node(m.host_path, target, perms)
        nodes.append(node)
        rules.append(rule)
    return nodes, rules
