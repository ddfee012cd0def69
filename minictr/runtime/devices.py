"""The device nodes and symlinks every container's /dev gets, and the
device-cgroup rules that let it use them (runc's defaults)."""
import os

from minictr.oci.runtime_config import Device

DEFAULT_DEVICES = [
    Device("c", "/dev/null", 1, 3, 0o666, 0, 0),
    Device("c", "/dev/zero", 1, 5, 0o666, 0, 0),
    Device("c", "/dev/full", 1, 7, 0o666, 0, 0),
    Device("c", "/dev/tty", 5, 0, 0o666, 0, 0),
    Device("c", "/dev/urandom", 1, 9, 0o666, 0, 0),
    Device("c", "/dev/random", 1, 8, 0o666, 0, 0),
]

# Rules appended after linux.resources.devices, as runc's AllowedDevices.
DEFAULT_ALLOW_RULES = [
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
]


def dev_symlinks() -> list[tuple[str, str]]:
    """(target, link) pairs; /dev/core only where the host has /proc/kcore."""
    links = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
             ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr")]
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    links.append(("pts/ptmx", "/dev/ptmx"))
    return links


def merged_devices(config_devices: list[Device]) -> list[Device]:
    """Defaults first; a config entry for the same path replaces the default."""
    paths = {d.path for d in config_devices}
    out = [d for d in DEFAULT_DEVICES if d.path not in paths]
    for d in config_devices:
        mode = d.file_mode if d.file_mode is not None else 0o666
        out.append(Device(d.type if d.type != "u" else "c", d.path, d.major, d.minor, mode,
                          d.uid or 0, d.gid or 0))
    return out


def cgroup_rules(resources_devices: list[dict], config_devices: list[Device]) -> list[dict]:
    """linux.resources.devices, then the defaults, then one allow per
    linux.devices entry (fifos need no rule: the devices cgroup governs
    only block and character devices)."""
    rules = list(resources_devices) + DEFAULT_ALLOW_RULES
    for d in config_devices:
        if d.type == "p":
            continue
        rules.append({"allow": True, "type": d.type if d.type != "u" else "c", "major": d.major,
                      "minor": d.minor, "access": "rwm"})
    return rules
