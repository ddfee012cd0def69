"""Python plans, C executes: a validated config becomes a `Plan`, every
decision made before the container's process exists. `to_struct` turns it
into the `struct mc_plan` the C shim carries out (cshim/plan.h).
"""
from __future__ import annotations

import os
import resource
from minictr.records import dataclass, field

from minictr.oci.runtime_config import Config, ConfigError, Process
from minictr.runtime import devices as devmod
from minictr.runtime import mount_options as mo

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

NS_FLAGS = {"mount": CLONE_NEWNS, "cgroup": CLONE_NEWCGROUP, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC,
            "user": CLONE_NEWUSER, "pid": CLONE_NEWPID, "network": CLONE_NEWNET, "time": CLONE_NEWTIME}
# /proc/<pid>/ns/<name> for joining a running container's namespaces
NS_PROC_NAMES = {"mount": "mnt", "cgroup": "cgroup", "uts": "uts", "ipc": "ipc", "user": "user",
                 "pid": "pid", "network": "net", "time": "time"}

RLIMITS = {"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
           "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
           "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
           "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15}
RLIM_INFINITY = 0xFFFFFFFFFFFFFFFF
CAP_SYS_RESOURCE = 24


@dataclass
class MountStep:
    source: str
    destination: str
    fstype: str
    data: str = ""
    flags: int = 0
    propagation: int = 0
    is_bind: bool = False
    remount_readonly: bool = False
    dest_is_file: bool = False


@dataclass
class Plan:
    namespaces: list[tuple[int, str | None]] = field(default_factory=list)
    wait_for_userns_maps: bool = False
    setup_rootfs: bool = False
    rootfs: str = ""
    root_propagation: int = 0
    rootfs_readonly: bool = False
    no_pivot: bool = False
    share_host_mounts: bool = False
    mounts: list[MountStep] = field(default_factory=list)
    cgroup_mounts_at: int = -1    # first step mounting the container's cgroups
    setup_dev: bool = False
    devices: list = field(default_factory=list)
    bind_devices: bool = False
    symlinks: list[tuple[str, str]] = field(default_factory=list)
    masked_paths: list[str] = field(default_factory=list)
    readonly_paths: list[str] = field(default_factory=list)
    parent_hooks: bool = False
    hostname: str | None = None
    domainname: str | None = None
    sysctls: list[tuple[str, str]] = field(default_factory=list)
    rlimits: list[tuple[int, int, int]] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)
    envp: list[str] = field(default_factory=list)
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    groups: list[int] | None = None
    umask: int = -1
    set_caps: bool = False
    cap_last: int = 40
    caps: dict[str, int] = field(default_factory=dict)
    no_new_privs: bool = False
    seccomp_bpf: bytes = b""
    seccomp_flags: int = 0
    exec_label_path: str = ""               # /proc/self/attr/... the LSM reads at execve
    exec_label: str = ""
    new_session: bool = True
    exec_fifo_fd: int = -1
    console_fd: int = -1
    preserve_fds: int = 0
    start_hooks: list = field(default_factory=list)
    create_hooks: list = field(default_factory=list)
    state_json: str = "{}"
    create_state_json: str = "{}"
    explain_fd: int = -1
    warnings: list[str] = field(default_factory=list)

    def has_new(self, flag: int) -> bool:
        return any(t == flag and p is None for t, p in self.namespaces)


def _has_cap(cap: int) -> bool:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> cap & 1)
    except OSError:
        pass
    return False


def plan_rlimits(process: Process, warnings: list[str]) -> list[tuple[int, int, int]]:
    """Without CAP_SYS_RESOURCE a hard limit cannot be raised: clamp and warn
    rather than fail the container (this host's bounding set lacks it)."""
    out = []
    can_raise = None
    for i, r in enumerate(process.rlimits):
        name = f"process.rlimits[{i}]"
        if r.type not in RLIMITS:
            raise ConfigError(f"{name}.type", f"unknown rlimit {r.type!r}")
        if r.soft > r.hard:
            raise ConfigError(name, f"soft limit {r.soft} is above the hard limit {r.hard}")
        num = RLIMITS[r.type]
        soft, hard = r.soft, r.hard
        _, cur_hard = resource.getrlimit(num)
        cur_hard = RLIM_INFINITY if cur_hard == resource.RLIM_INFINITY else cur_hard
        if hard > cur_hard:
            if can_raise is None:
                can_raise = _has_cap(CAP_SYS_RESOURCE)
            if not can_raise:
                warnings.append(f"{name}: {r.type} hard limit {hard} is above this host's {cur_hard} and "
                                f"CAP_SYS_RESOURCE is missing; clamped to {cur_hard}")
                hard = cur_hard
                soft = min(soft, hard)
        out.append((num, soft, hard))
    return out


def plan_process(plan: Plan, process: Process, seccomp: dict | None, seccomp_cache: str | None = None) -> None:
    """The parts shared by a container's init and an `exec`ed process
    (`seccomp_cache`: where compiled filters are kept by profile digest)."""
    from minictr.runtime import capabilities

    plan.exec_label_path, plan.exec_label = exec_label(process)
    plan.argv = list(process.args)
    plan.envp = list(process.env)
    plan.cwd = process.cwd
    plan.uid, plan.gid = process.user.uid, process.user.gid
    plan.groups = list(process.user.additional_gids)
    plan.umask = process.user.umask if process.user.umask is not None else 0o022
    plan.rlimits = plan_rlimits(process, plan.warnings)
    plan.no_new_privs = process.no_new_privileges
    plan.cap_last = capabilities.last_cap()
    if process.capabilities is not None:
        plan.set_caps = True
        plan.caps = {kind: capabilities.mask(process.capabilities.get(kind, []), f"process.capabilities.{kind}",
                                                  plan.warnings)
                     for kind in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    if seccomp:
        from minictr.runtime import seccomp as seccomp_mod
        plan.seccomp_bpf, plan.seccomp_flags = seccomp_mod.compile_cached(seccomp, seccomp_cache)


def _mount_dest(dest: str) -> str:
    return dest if dest.startswith("/") else "/" + dest


def plan_mounts(config: Config, bundle: str, cgroup_mounts) -> tuple[list[MountStep], int]:
    """config.mounts as mount steps, and the index of the first cgroup one
    (-1: none); the cgroup mount is expanded by the cgroup manager into what
    this host needs (`cgroup_mounts(dest, options)`)."""
    steps: list[MountStep] = []
    first_cgroup_step = -1
    for i, m in enumerate(config.mounts):
        opts = mo.parse(m.options)
        dest = _mount_dest(m.destination)
        if m.type in ("cgroup", "cgroup2") and not opts.is_bind:
            if first_cgroup_step < 0:
                first_cgroup_step = len(steps)
            steps.extend(cgroup_mounts(dest, m.options))
            continue
        if opts.is_bind or m.type == "bind":
            source = m.source if m.source.startswith("/") else os.path.join(bundle, m.source)
            if not os.path.exists(source):
                raise ConfigError(f"mounts[{i}].source", f"bind source {source} does not exist")
            steps.append(MountStep(source, dest, "bind", "", opts.flags | mo.MS_BIND, opts.propagation, is_bind=True,
                                   dest_is_file=not os.path.isdir(source)))
            continue
        if not m.type:
            raise ConfigError(f"mounts[{i}].type", f"is required for a mount of {m.source or 'nothing'} on {dest}")
        remount_ro = m.type == "tmpfs" and bool(opts.flags & mo.MS_RDONLY)
        steps.append(MountStep(m.source or m.type, dest, m.type, opts.data, opts.flags, opts.propagation,
                               remount_readonly=remount_ro))
    return steps, first_cgroup_step


def lsm_enabled(name: str) -> bool:
    """Whether the host's kernel runs this LSM (apparmor, selinux)."""
    try:
        with open("/sys/kernel/security/lsm") as f:
            return name in f.read().strip().split(",")
    except OSError:   # securityfs not mounted: what the LSM itself shows
        if name == "apparmor":
            try:
                with open("/sys/module/apparmor/parameters/enabled") as f:
                    return f.read().strip() == "Y"
            except OSError:
                return False
        return name == "selinux" and os.path.exists("/sys/fs/selinux/enforce")


def exec_label(process: Process) -> tuple[str, str]:
    """(attribute file, what to write there) for the process's AppArmor
    profile or SELinux label, applied by the C shim just before execve, as
    runc does. A label for an LSM this host does not run fails the create:
    the container never runs without the confinement it asked for."""
    profile, label = process.apparmor_profile, process.selinux_label
    if profile and label:
        raise ConfigError("process", "apparmorProfile and selinuxLabel are set: one LSM confines a process")
    if profile:
        if not lsm_enabled("apparmor"):
            raise ConfigError("process.apparmorProfile", f"{profile!r} asks for AppArmor, which is not enabled "
                                                         "on this host")
        path = "/proc/self/attr/apparmor/exec"
        return (path if os.path.exists(path) else "/proc/self/attr/exec"), f"exec {profile}"
    if label:
        if not lsm_enabled("selinux"):
            raise ConfigError("process.selinuxLabel", f"{label!r} asks for SELinux, which is not enabled on this host")
        return "/proc/self/attr/exec", label
    return "", ""


def mount_label_option(mount_label: str) -> str:
    """linux.mountLabel as the context= option of the container's own
    filesystems (tmpfs, mqueue, devpts), as runc formats it."""
    if not mount_label:
        return ""
    if not lsm_enabled("selinux"):
        raise ConfigError("linux.mountLabel", f"{mount_label!r} asks for SELinux, which is not enabled on this host")
    return f'context="{mount_label}"'


SYSTEM_DIRS = ("/proc", "/sys", "/dev")


def check_system_dirs(rootfs: str, steps: list[MountStep]) -> None:
    """/proc, /sys and /dev must be real directories of the image: a symlink
    there would put the kernel's files wherever the image points it (runc
    refuses it for /proc since CVE-2019-19921)."""
    from minictr.runtime.errors import RuntimeFailure
    targets = {os.path.normpath(step.destination) for step in steps}
    for name in SYSTEM_DIRS:
        if name not in targets:
            continue
        path = os.path.join(rootfs, name.lstrip("/"))
        if os.path.islink(path):
            raise RuntimeFailure(f"the image's {name} is a symbolic link (to {os.readlink(path)}): "
                                 f"{name} must be an ordinary directory to mount it in the container")
        if os.path.lexists(path) and not os.path.isdir(path):
            raise RuntimeFailure(f"the image's {name} is not a directory: {name} must be an ordinary "
                                 f"directory to mount it in the container")


def needs_setup_dev(config: Config) -> bool:
    """A fresh /dev is populated unless /dev is bind-mounted from somewhere."""
    for m in config.mounts:
        if os.path.normpath(_mount_dest(m.destination)) == "/dev" and (m.type == "bind" or "bind" in m.options
                                                                       or "rbind" in m.options):
            return False
    return True


def plan_container(config: Config, bundle: str, rootfs: str, cgroup_mounts,
                   seccomp_cache: str | None = None) -> Plan:
    """Everything the new container's init does, decided up front."""
    linux = config.linux
    plan = Plan(setup_rootfs=True, rootfs=rootfs, rootfs_readonly=config.root_readonly)
    for ns in linux.namespaces:
        plan.namespaces.append((NS_FLAGS[ns.type], ns.path))
    plan.wait_for_userns_maps = plan.has_new(CLONE_NEWUSER)
    if not any(t == CLONE_NEWNS for t, _ in plan.namespaces):
        # No mount namespace: the container shares the host's mount table
        # (as runc allows). Its mounts appear on the host under the rootfs
        # and `delete` takes them away; it is chrooted, not pivoted, and
        # nothing that needs a private mount table can be honoured.
        plan.share_host_mounts = True
        for field_name, present in (("linux.maskedPaths", linux.masked_paths),
                                    ("linux.readonlyPaths", linux.readonly_paths),
                                    ("linux.rootfsPropagation", linux.rootfs_propagation)):
            if present:
                raise ConfigError(field_name, "needs a private mount namespace in linux.namespaces")
    if linux.rootfs_propagation:
        plan.root_propagation = mo.PROPAGATION[linux.rootfs_propagation]
    plan.mounts, plan.cgroup_mounts_at = plan_mounts(config, bundle, cgroup_mounts)
    check_system_dirs(rootfs, plan.mounts)
    context = mount_label_option(linux.mount_label)
    if context:
        for step in plan.mounts:
            if step.fstype in ("tmpfs", "mqueue", "devpts"):
                step.data = f"{step.data},{context}" if step.data else context
    plan.setup_dev = needs_setup_dev(config)
    plan.devices = devmod.merged_devices(linux.devices)
    plan.bind_devices = plan.has_new(CLONE_NEWUSER)
    plan.symlinks = devmod.dev_symlinks() if plan.setup_dev else []
    plan.masked_paths = list(linux.masked_paths)
    plan.readonly_paths = list(linux.readonly_paths)
    # a uts namespace joined by path is the container's own too: set its names there
    has_uts = any(t == CLONE_NEWUTS for t, _ in plan.namespaces)
    if config.hostname:
        if not has_uts:
            raise ConfigError("hostname", "setting a hostname needs a uts namespace in linux.namespaces")
        plan.hostname = config.hostname
    if config.domainname:
        if not has_uts:
            raise ConfigError("domainname", "setting a domainname needs a uts namespace in linux.namespaces")
        plan.domainname = config.domainname
    for key, value in linux.sysctl.items():
        plan.sysctls.append((key, value))
    if config.process is None:
        raise ConfigError("process", "is required to create a container")
    plan_process(plan, config.process, linux.seccomp, seccomp_cache)
    return plan


class _Keeper:
    """cffi frees what nothing references: keep every buffer until spawn returns."""

    def __init__(self, ffi):
        self.ffi = ffi
        self.refs: list = []

    def str(self, s: str | None):
        if s is None:
            return self.ffi.NULL
        b = self.ffi.new("char[]", s.encode())
        self.refs.append(b)
        return b

    def strv(self, items: list[str] | None):
        if items is None:
            return self.ffi.NULL
        arr = self.ffi.new("char *[]", len(items) + 1)
        for i, s in enumerate(items):
            arr[i] = self.str(s)
        arr[len(items)] = self.ffi.NULL
        self.refs.append(arr)
        return arr

    def array(self, ctype: str, n: int):
        arr = self.ffi.new(f"{ctype}[]", max(n, 1))
        self.refs.append(arr)
        return arr


def to_struct(plan: Plan):
    """Returns (struct, keeper); the keeper must outlive the spawn call."""
    from minictr._native._shim import ffi

    k = _Keeper(ffi)
    s = ffi.new("struct mc_plan *")
    k.refs.append(s)
    ns = k.array("struct mc_namespace", len(plan.namespaces))
    for i, (t, p) in enumerate(plan.namespaces):
        ns[i].type = t
        ns[i].path = k.str(p)
    s.ns_count, s.namespaces = len(plan.namespaces), ns
    s.wait_for_userns_maps = plan.wait_for_userns_maps
    s.setup_rootfs = plan.setup_rootfs
    s.rootfs = k.str(plan.rootfs)
    s.root_propagation = plan.root_propagation
    s.rootfs_readonly = plan.rootfs_readonly
    s.no_pivot = plan.no_pivot
    s.share_host_mounts = plan.share_host_mounts
    ms = k.array("struct mc_mount", len(plan.mounts))
    for i, m in enumerate(plan.mounts):
        ms[i].source, ms[i].destination = k.str(m.source), k.str(m.destination)
        ms[i].fstype, ms[i].data = k.str(m.fstype), k.str(m.data)
        ms[i].flags, ms[i].propagation = m.flags, m.propagation
        ms[i].is_bind, ms[i].remount_readonly, ms[i].dest_is_file = m.is_bind, m.remount_readonly, m.dest_is_file
    s.mount_count, s.mounts = len(plan.mounts), ms
    s.cgroup_mounts_at = plan.cgroup_mounts_at
    s.setup_dev = plan.setup_dev
    ds = k.array("struct mc_device", len(plan.devices))
    for i, d in enumerate(plan.devices):
        ds[i].path = k.str(d.path)
        ds[i].type = ord(d.type)
        ds[i].major, ds[i].minor = d.major, d.minor
        ds[i].mode, ds[i].uid, ds[i].gid = d.file_mode, d.uid, d.gid
    s.device_count, s.devices = len(plan.devices), ds
    s.bind_devices = plan.bind_devices
    ls = k.array("struct mc_symlink", len(plan.symlinks))
    for i, (target, link) in enumerate(plan.symlinks):
        ls[i].target, ls[i].linkpath = k.str(target), k.str(link)
    s.symlink_count, s.symlinks = len(plan.symlinks), ls
    s.masked_count, s.masked_paths = len(plan.masked_paths), k.strv(plan.masked_paths)
    s.readonly_count, s.readonly_paths = len(plan.readonly_paths), k.strv(plan.readonly_paths)
    s.parent_hooks = plan.parent_hooks
    s.hostname, s.domainname = k.str(plan.hostname), k.str(plan.domainname)
    sy = k.array("struct mc_sysctl", len(plan.sysctls))
    for i, (key, value) in enumerate(plan.sysctls):
        sy[i].key, sy[i].value = k.str(key), k.str(value)
    s.sysctl_count, s.sysctls = len(plan.sysctls), sy
    rl = k.array("struct mc_rlimit", len(plan.rlimits))
    for i, (num, soft, hard) in enumerate(plan.rlimits):
        rl[i].resource, rl[i].soft, rl[i].hard = num, soft, hard
    s.rlimit_count, s.rlimits = len(plan.rlimits), rl
    s.argv, s.envp, s.cwd = k.strv(plan.argv), k.strv(plan.envp), k.str(plan.cwd)
    s.uid, s.gid = plan.uid, plan.gid
    if plan.groups is None:
        s.ngroups = -1
    else:
        g = k.array("gid_t", len(plan.groups))
        for i, gid in enumerate(plan.groups):
            g[i] = gid
        s.ngroups, s.groups = len(plan.groups), g
    s.umask = plan.umask
    s.set_caps = plan.set_caps
    s.cap_last = plan.cap_last
    if plan.set_caps:
        s.cap_bounding = plan.caps["bounding"]
        s.cap_effective = plan.caps["effective"]
        s.cap_permitted = plan.caps["permitted"]
        s.cap_inheritable = plan.caps["inheritable"]
        s.cap_ambient = plan.caps["ambient"]
    s.no_new_privs = plan.no_new_privs
    if plan.seccomp_bpf:
        buf = ffi.new("unsigned char[]", plan.seccomp_bpf)
        k.refs.append(buf)
        s.seccomp_bpf, s.seccomp_len = buf, len(plan.seccomp_bpf) // 8
        s.seccomp_flags = plan.seccomp_flags
    if plan.exec_label_path:
        s.exec_label_path, s.exec_label = k.str(plan.exec_label_path), k.str(plan.exec_label)
    s.new_session = plan.new_session
    s.exec_fifo_fd, s.console_fd = plan.exec_fifo_fd, plan.console_fd
    s.preserve_fds = plan.preserve_fds
    s.start_hook_count, s.start_hooks = len(plan.start_hooks), _hooks(k, plan.start_hooks)
    s.create_hook_count, s.create_hooks = len(plan.create_hooks), _hooks(k, plan.create_hooks)
    s.state_json = k.str(plan.state_json)
    s.create_state_json = k.str(plan.create_state_json)
    s.explain_fd = plan.explain_fd
    return s, k


def _hooks(k, hooks: list):
    hs = k.array("struct mc_hook", len(hooks))
    for i, h in enumerate(hooks):
        hs[i].path = k.str(h.path)
        hs[i].args = k.strv(h.args or [h.path])
        hs[i].env = k.strv(h.env)
        hs[i].timeout = h.timeout or 0
    return hs
