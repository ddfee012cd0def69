"""A container's OCI config.json, from the image's config and the user's
flags, with docker's defaults: its capability set, masked and read-only
/proc paths, mounts, memory-swap rule, CPU quota from --cpus, entrypoint
and command rules. The bundle is the contract with the runtime, so
`--runtime runc` runs the very same thing."""
from __future__ import annotations

import os

from minictr.engine import modes, seccomp_profile
from minictr.engine.errors import EngineError, InvalidOption
from minictr.engine.spec import ContainerSpec
from minictr.runtime.capabilities import NAMES, last_cap

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# docker's default capabilities (moby/oci/caps/defaults.go)
DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
MASKED_PATHS = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                "/sys/devices/virtual/powercap"]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
CPU_PERIOD = 100_000
MIN_MEMORY = 6 << 20   # dockerd's linuxMinMemory


DEFAULT_CGROUP_PARENT = "/minictr"


def cgroups_path(container_id: str, parent: str = "") -> str:
    """As docker's cgroupfs driver puts its containers under /docker, or
    under --cgroup-parent (the kubelet's pod cgroup, for CRI). A systemd
    slice name (kubepods-burstable-pod1.slice, the kubelet's systemd
    driver) becomes runc's slice:prefix:name form, which the runtime
    expands to /kubepods.slice/kubepods-burstable.slice/.../minictr-ID.scope."""
    if parent.endswith(".slice") and "/" not in parent:
        return f"{parent}:minictr:{container_id}"
    parent = "/" + (parent or DEFAULT_CGROUP_PARENT).strip("/")
    return f"{parent.rstrip('/')}/{container_id}"


def command(spec: ContainerSpec, image_config: dict) -> list[str]:
    """docker's rule: --entrypoint replaces the image's entrypoint and drops
    its Cmd; otherwise the given command replaces the image's Cmd."""
    if spec.entrypoint is not None:
        entrypoint = [a for a in spec.entrypoint if a != ""] if spec.entrypoint != [""] else []
        cmd = list(spec.cmd or [])
    else:
        entrypoint = list(image_config.get("Entrypoint") or [])
        cmd = list(spec.cmd) if spec.cmd else list(image_config.get("Cmd") or [])
    args = entrypoint + cmd
    if not args:
        raise EngineError("No command specified")
    return args


def environment(spec: ContainerSpec, image_config: dict, hostname: str) -> list[str]:
    """The image's Env, then ours (a key given again replaces the value)."""
    merged: dict[str, str] = {}
    for item in [f"HOSTNAME={hostname}"] + list(image_config.get("Env") or []) + list(spec.env):
        key, _, _ = item.partition("=")
        merged[key] = item
    if "PATH" not in merged:
        merged["PATH"] = DEFAULT_PATH
    if spec.tty and "TERM" not in merged:
        merged["TERM"] = "TERM=xterm"
    return list(merged.values())


def own_bounding_set() -> set[str]:
    """The capabilities this engine process may pass on (its CapBnd): a host
    or a parent container may lack some, CAP_SYS_RESOURCE here for one."""
    try:
        with open("/proc/self/status") as f:
            line = next(l for l in f if l.startswith("CapBnd:"))
        bits = int(line.split()[1], 16)
    except (OSError, StopIteration, ValueError):
        bits = (1 << (last_cap() + 1)) - 1
    return {name for i, name in enumerate(NAMES[:last_cap() + 1]) if bits >> i & 1}


def _all_grantable() -> list[str]:
    """--privileged and --cap-add ALL: every capability we hold, as podman
    grants them, rather than failing capset for one the host withholds."""
    own = own_bounding_set()
    return [name for name in NAMES[:last_cap() + 1] if name in own]


def capabilities(spec: ContainerSpec) -> list[str]:
    if spec.privileged:
        return _all_grantable()
    caps = list(DEFAULT_CAPS)

    def norm(name: str) -> str:
        name = name.upper()
        return name if name.startswith("CAP_") or name == "ALL" else "CAP_" + name
    drops = [norm(c) for c in spec.cap_drop]
    adds = [norm(c) for c in spec.cap_add]
    for name in drops + adds:
        if name != "ALL" and name not in NAMES:
            raise InvalidOption(f"unknown capability: \"{name}\"")
    if "ALL" in drops:
        caps = []
    caps = [c for c in caps if c not in drops]
    if "ALL" in adds:
        return _all_grantable()
    own = own_bounding_set()
    for c in adds:
        if c not in own:
            raise InvalidOption(f"--cap-add {c[4:]}: this host does not let minictr grant {c} "
                                f"(it is not in the engine's bounding set)")
        if c not in caps:
            caps.append(c)
    return [c for c in caps if c in own]


def seccomp(spec: ContainerSpec, caps: list[str]) -> dict | None:
    """docker's choice: no filter for --privileged or seccomp=unconfined,
    else the user's profile or the default, resolved for these capabilities."""
    if spec.privileged or spec.seccomp_profile == "unconfined":
        return None
    if spec.seccomp_profile:
        profile = seccomp_profile.parse_profile(spec.seccomp_profile, "(--security-opt seccomp)")
    else:
        profile = seccomp_profile.default_profile()
    return seccomp_profile.resolve(profile, caps)


def resources(spec: ContainerSpec, device_rules: list[dict] = ()) -> dict:
    res: dict = {"devices": [{"allow": spec.privileged, "access": "rwm"}] + list(device_rules)}
    memory = {}
    if spec.memory:
        if spec.memory < MIN_MEMORY:
            raise InvalidOption("Minimum memory limit allowed is 6MB")
        memory["limit"] = spec.memory
        if spec.memory_swap == -1:
            memory["swap"] = -1
        elif spec.memory_swap:
            if spec.memory_swap < spec.memory:
                raise InvalidOption("Minimum memoryswap limit should be larger than memory limit, "
                                  "see usage")
            memory["swap"] = spec.memory_swap
        else:
            memory["swap"] = spec.memory * 2  # docker: as much swap as memory
    elif spec.memory_swap and spec.memory_swap != -1:
        raise InvalidOption("You should always set the Memory limit when using Memoryswap limit, "
                          "see usage")
    if memory:
        res["memory"] = memory
    cpu = {}
    if spec.nano_cpus:
        cpu["period"] = CPU_PERIOD
        cpu["quota"] = spec.nano_cpus * CPU_PERIOD // 1_000_000_000
    if spec.cpu_quota:
        cpu["quota"] = spec.cpu_quota
        cpu.setdefault("period", spec.cpu_period or CPU_PERIOD)
    if spec.cpu_period:
        cpu["period"] = spec.cpu_period
    if spec.cpu_shares:
        cpu["shares"] = spec.cpu_shares
    if spec.cpuset_cpus:
        cpu["cpus"] = spec.cpuset_cpus
    if spec.cpuset_mems:
        cpu["mems"] = spec.cpuset_mems
    if cpu:
        res["cpu"] = cpu
    if spec.pids_limit:
        res["pids"] = {"limit": spec.pids_limit}
    if spec.hugepage_limits:
        res["hugepageLimits"] = [{"pageSize": size, "limit": int(limit)}
                                 for size, limit in sorted(spec.hugepage_limits.items())]
    if spec.unified:
        res["unified"] = {k: str(v) for k, v in spec.unified.items()}
    return res


def mounts(spec: ContainerSpec, files: dict[str, str], volume_sources: list[tuple[dict, str]],
           shm_source: str | None = None) -> list[dict]:
    """docker's default mounts, the network files, then volumes (by
    destination depth, so a parent is mounted before what lies in it)."""
    sys_opts = ["nosuid", "noexec", "nodev"] + ([] if spec.privileged else ["ro"])
    out = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    ]
    shm = _shm_mount(spec, shm_source)
    if shm is not None:
        out.append(shm)
    taken = {m["destination"] for m in out}
    for volume, source in sorted(volume_sources, key=lambda vs: vs[0].destination.count("/")):
        dest = volume.destination
        options = ["rbind", "ro" if volume.read_only else "rw"]
        if volume.propagation:
            options.append(volume.propagation)
        out.append({"destination": dest, "type": "bind", "source": source, "options": options})
        taken.add(dest)
    for dest, source in files.items():  # a volume on /etc/hosts wins, as in docker
        if dest not in taken:
            out.append({"destination": dest, "type": "bind", "source": source, "options": ["rbind", "rprivate"]})
    out += [dict(m) for m in sorted(spec.oci_mounts, key=lambda m: m["destination"].count("/"))]
    return out


def _shm_mount(spec: ContainerSpec, shm_source: str | None) -> dict | None:
    """/dev/shm goes with the IPC namespace, as docker has it: a tmpfs of
    the container's own, or a bind of `shm_source` (the host's, a shareable
    container's), none for --ipc none."""
    if modes.parse("ipc", spec.ipc).kind == modes.NONE:
        return None
    source = shm_source
    if source is not None:
        return {"destination": "/dev/shm", "type": "bind", "source": source, "options": ["rbind", "rprivate"]}
    return {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}


def namespaces(spec: ContainerSpec, joined: dict[str, str]) -> list[dict]:
    """A new namespace of each kind but those shared: the host's are left
    out, another container's are named by path (`joined`, by type)."""
    out = []
    for kind in ("pid", "ipc", "uts", "mount", "network"):
        text = getattr(spec, kind) if kind != "mount" else ""
        if kind != "mount" and modes.parse(kind, text).kind == modes.HOST:
            continue
        out.append({"type": kind, "path": joined[kind]} if kind in joined else {"type": kind})
    return out


def shares_uts(spec: ContainerSpec) -> bool:
    """The host's or another container's hostname: not ours to set."""
    return not modes.parse("uts", spec.uts).private


INIT_PATH = "/sbin/docker-init"
INIT_CANDIDATES = ("/usr/bin/tini-static", "/usr/bin/docker-init", "/usr/libexec/docker/docker-init")


def init_binary() -> str:
    """--init runs tini as the container's pid 1, as docker does (a static
    build: the image may have no libc)."""
    for path in INIT_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    raise EngineError("--init: no init binary found (looked for " + ", ".join(INIT_CANDIDATES)
                      + "; apt install tini)")


def build_config(container_id: str, spec: ContainerSpec, image_config: dict, rootfs: str, hostname: str,
                 user: tuple[int, int, list[int]], files: dict[str, str],
                 volume_sources: list[tuple[dict, str]], joined: dict[str, str],
                 shm_source: str | None = None) -> dict:
    uid, gid, extra_gids = user
    caps = capabilities(spec)
    device_nodes, device_rules = [], []
    if spec.devices:
        from minictr.engine import devices   # --device only
        device_nodes, device_rules = devices.resolve(spec.devices)
    args = command(spec, image_config)
    if spec.init:
        args = [INIT_PATH, "--"] + args
    process = {
        "terminal": spec.tty,
        "user": {"uid": uid, "gid": gid, **({"additionalGids": extra_gids} if extra_gids else {})},
        "args": args,
        "env": environment(spec, image_config, hostname),
        "cwd": spec.workdir or image_config.get("WorkingDir") or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": spec.no_new_privileges,
    }
    if spec.oom_score_adj is not None:
        process["oomScoreAdj"] = spec.oom_score_adj
    if not os.path.isabs(process["cwd"]):
        raise EngineError(f"the working directory '{process['cwd']}' is invalid, it needs to be an absolute path")
    linux: dict = {
        "resources": resources(spec, device_rules),
        "cgroupsPath": cgroups_path(container_id, spec.cgroup_parent),
        "namespaces": namespaces(spec, joined),
    }
    if device_nodes:
        linux["devices"] = device_nodes
    if spec.sysctls:
        from minictr.engine import sysctls   # --sysctl only
        linux["sysctl"] = sysctls.check(spec)
    profile = seccomp(spec, caps)
    if profile is not None:
        linux["seccomp"] = profile
    if not spec.privileged and not spec.unmask_systempaths:
        linux["maskedPaths"] = list(MASKED_PATHS if spec.masked_paths is None else spec.masked_paths)
        linux["readonlyPaths"] = list(READONLY_PATHS if spec.readonly_paths is None else spec.readonly_paths)
    all_mounts = mounts(spec, files, volume_sources, shm_source)
    if spec.init:
        all_mounts.append({"destination": INIT_PATH, "type": "bind", "source": init_binary(),
                           "options": ["rbind", "ro"]})
    config = {
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": rootfs, "readonly": spec.read_only},
        "hostname": hostname,
        "mounts": all_mounts,
        "linux": linux,
        "annotations": {"org.minictr.container.id": container_id},
    }
    if shares_uts(spec):
        del config["hostname"]
    return config
