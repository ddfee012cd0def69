"""What a pod and its containers are asked to be, as typed records: read
from CRI's PodSandboxConfig and ContainerConfig in their JSON form
(protobuf's MessageToDict with the proto field names: int64 values come
as strings, enums as their names, absent fields at their zero value) or
built directly by a caller (our kubelet). The raw form is kept too: it is
what the pod's record stores and what status/list give back."""
from __future__ import annotations

from minictr.pods.errors import PodError
from minictr.records import dataclass, field


class InvalidConfig(PodError):
    """A config the runtime cannot run (the CRI layer answers InvalidArgument)."""


def _int(value, what: str, default: int = 0) -> int:
    if value in (None, ""):
        return default
    if isinstance(value, dict):   # CRI's Int64Value message: {"value": ...}
        value = value.get("value", default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidConfig(f"{what}: expected an integer, got {value!r}") from None


def _opt_int(value, what: str) -> int | None:
    return None if value in (None, "", {}) else _int(value, what)


def _strs(value, what: str) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidConfig(f"{what}: expected a list of strings")
    return list(value)


def _map(value, what: str) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidConfig(f"{what}: expected a map of strings")
    return dict(value)


def _obj(value, what: str) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise InvalidConfig(f"{what}: expected an object")
    return value


def _enum(value, names: tuple[str, ...], what: str) -> str:
    """An enum as its name; a number (use_integers_for_enums) is mapped too."""
    if value in (None, ""):
        return names[0]
    if isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    if value in names:
        return value
    raise InvalidConfig(f"{what}: unknown value {value!r} (expected one of {', '.join(names)})")


NAMESPACE_MODES = ("POD", "CONTAINER", "NODE", "TARGET")
PROPAGATIONS = ("PROPAGATION_PRIVATE", "PROPAGATION_HOST_TO_CONTAINER", "PROPAGATION_BIDIRECTIONAL")
PROFILE_TYPES = ("RuntimeDefault", "Unconfined", "Localhost")


@dataclass(frozen=True)
class Namespaces:
    network: str = "POD"
    pid: str = "POD"        # proto3 zero values: what an absent field means
    ipc: str = "POD"
    target_id: str = ""

    @classmethod
    def from_cri(cls, d: dict, what: str) -> "Namespaces":
        d = _obj(d, what)
        return cls(_enum(d.get("network"), NAMESPACE_MODES, f"{what}.network"),
                   _enum(d.get("pid"), NAMESPACE_MODES, f"{what}.pid"),
                   _enum(d.get("ipc"), NAMESPACE_MODES, f"{what}.ipc"), str(d.get("target_id") or ""))


@dataclass(frozen=True)
class Seccomp:
    """RuntimeDefault (the engine's default profile), Unconfined, or Localhost (a profile file)."""
    kind: str = "RuntimeDefault"
    localhost_ref: str = ""

    @classmethod
    def from_cri(cls, security: dict, what: str) -> "Seccomp":
        profile = _obj(security.get("seccomp"), f"{what}.seccomp")
        if profile:
            return cls(_enum(profile.get("profile_type"), PROFILE_TYPES, f"{what}.seccomp.profile_type"),
                       str(profile.get("localhost_ref") or ""))
        legacy = str(security.get("seccomp_profile_path") or "")   # the deprecated field, as kubelets once sent it
        if legacy in ("unconfined",):
            return cls("Unconfined")
        if legacy.startswith("localhost/"):
            return cls("Localhost", legacy[len("localhost"):])
        return cls()


@dataclass(frozen=True)
class PortMapping:
    protocol: str            # tcp | udp | sctp
    container_port: int
    host_port: int
    host_ip: str = ""


@dataclass(frozen=True)
class PodConfig:
    name: str
    namespace: str
    uid: str
    attempt: int = 0
    hostname: str = ""
    log_directory: str = ""
    dns_servers: list = field(default_factory=list)
    dns_searches: list = field(default_factory=list)
    dns_options: list = field(default_factory=list)
    port_mappings: list = field(default_factory=list)   # PortMapping records
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    cgroup_parent: str = ""
    sysctls: dict = field(default_factory=dict)
    namespaces: Namespaces = Namespaces()
    run_as_user: int | None = None
    run_as_group: int | None = None
    readonly_rootfs: bool = False
    supplemental_groups: list = field(default_factory=list)
    privileged: bool = False
    seccomp: Seccomp = Seccomp()
    raw: dict = field(default_factory=dict)             # the CRI form, as given

    @classmethod
    def from_cri(cls, d: dict) -> "PodConfig":
        d = _obj(d, "config")
        meta = _obj(d.get("metadata"), "config.metadata")
        for key in ("name", "namespace", "uid"):
            if not meta.get(key):
                raise InvalidConfig(f"config.metadata.{key} is required")
        dns = _obj(d.get("dns_config"), "config.dns_config")
        linux = _obj(d.get("linux"), "config.linux")
        security = _obj(linux.get("security_context"), "config.linux.security_context")
        ports = []
        for i, p in enumerate(d.get("port_mappings") or []):
            where = f"config.port_mappings[{i}]"
            p = _obj(p, where)
            proto = _enum(p.get("protocol"), ("TCP", "UDP", "SCTP"), f"{where}.protocol").lower()
            container_port = _int(p.get("container_port"), f"{where}.container_port")
            host_port = _int(p.get("host_port"), f"{where}.host_port")
            if not 0 < container_port < 65536 or not 0 <= host_port < 65536:
                raise InvalidConfig(f"{where}: ports must be in 1-65535")
            ports.append(PortMapping(proto, container_port, host_port, str(p.get("host_ip") or "")))
        return cls(
            name=str(meta["name"]), namespace=str(meta["namespace"]), uid=str(meta["uid"]),
            attempt=_int(meta.get("attempt"), "config.metadata.attempt"),
            hostname=str(d.get("hostname") or ""), log_directory=str(d.get("log_directory") or ""),
            dns_servers=_strs(dns.get("servers"), "config.dns_config.servers"),
            dns_searches=_strs(dns.get("searches"), "config.dns_config.searches"),
            dns_options=_strs(dns.get("options"), "config.dns_config.options"),
            port_mappings=ports, labels=_map(d.get("labels"), "config.labels"),
            annotations=_map(d.get("annotations"), "config.annotations"),
            cgroup_parent=str(linux.get("cgroup_parent") or ""), sysctls=_map(linux.get("sysctls"), "config.linux.sysctls"),
            namespaces=Namespaces.from_cri(security.get("namespace_options"),
                                           "config.linux.security_context.namespace_options"),
            run_as_user=_opt_int(security.get("run_as_user"), "run_as_user"),
            run_as_group=_opt_int(security.get("run_as_group"), "run_as_group"),
            readonly_rootfs=bool(security.get("readonly_rootfs")),
            supplemental_groups=[_int(g, "supplemental_groups") for g in security.get("supplemental_groups") or []],
            privileged=bool(security.get("privileged")),
            seccomp=Seccomp.from_cri(security, "config.linux.security_context"), raw=d)


@dataclass(frozen=True)
class PodMount:
    container_path: str
    host_path: str
    readonly: bool = False
    propagation: str = "PROPAGATION_PRIVATE"


@dataclass(frozen=True)
class PodDevice:
    container_path: str
    host_path: str
    permissions: str = "rwm"


@dataclass(frozen=True)
class Resources:
    """LinuxContainerResources: 0 (or "") is "not set"."""
    cpu_period: int = 0
    cpu_quota: int = 0
    cpu_shares: int = 0
    memory_limit_in_bytes: int = 0
    oom_score_adj: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    hugepage_limits: dict = field(default_factory=dict)   # page size -> bytes
    unified: dict = field(default_factory=dict)
    memory_swap_limit_in_bytes: int = 0

    @classmethod
    def from_cri(cls, d: dict, what: str) -> "Resources":
        d = _obj(d, what)
        pages = {}
        for i, h in enumerate(d.get("hugepage_limits") or []):
            h = _obj(h, f"{what}.hugepage_limits[{i}]")
            pages[str(h.get("page_size") or "")] = _int(h.get("limit"), f"{what}.hugepage_limits[{i}].limit")
        return cls(*(_int(d.get(k), f"{what}.{k}") for k in ("cpu_period", "cpu_quota", "cpu_shares",
                                                             "memory_limit_in_bytes", "oom_score_adj")),
                   str(d.get("cpuset_cpus") or ""), str(d.get("cpuset_mems") or ""), pages,
                   _map(d.get("unified"), f"{what}.unified"),
                   _int(d.get("memory_swap_limit_in_bytes"), f"{what}.memory_swap_limit_in_bytes"))


@dataclass(frozen=True)
class ContainerConfig:
    name: str
    image: str
    attempt: int = 0
    command: list = field(default_factory=list)
    args: list = field(default_factory=list)
    working_dir: str = ""
    envs: list = field(default_factory=list)            # KEY=VALUE
    mounts: list = field(default_factory=list)          # PodMount records
    devices: list = field(default_factory=list)         # PodDevice records
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    log_path: str = ""
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    resources: Resources = Resources()
    cap_add: list = field(default_factory=list)
    cap_drop: list = field(default_factory=list)
    privileged: bool = False
    namespaces: Namespaces = Namespaces()
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_username: str = ""
    readonly_rootfs: bool = False
    supplemental_groups: list = field(default_factory=list)
    no_new_privs: bool = False
    masked_paths: list | None = None                    # None: the runtime's defaults
    readonly_paths: list | None = None
    seccomp: Seccomp = Seccomp()
    raw: dict = field(default_factory=dict)

    @classmethod
    def from_cri(cls, d: dict) -> "ContainerConfig":
        d = _obj(d, "config")
        meta = _obj(d.get("metadata"), "config.metadata")
        if not meta.get("name"):
            raise InvalidConfig("config.metadata.name is required")
        image = str(_obj(d.get("image"), "config.image").get("image") or "")
        if not image:
            raise InvalidConfig("config.image.image is required")
        linux = _obj(d.get("linux"), "config.linux")
        security = _obj(linux.get("security_context"), "config.linux.security_context")
        caps = _obj(security.get("capabilities"), "config.linux.security_context.capabilities")
        envs = []
        for i, kv in enumerate(d.get("envs") or []):
            kv = _obj(kv, f"config.envs[{i}]")
            if not kv.get("key"):
                raise InvalidConfig(f"config.envs[{i}].key is required")
            envs.append(f"{kv['key']}={kv.get('value') or ''}")
        mounts = []
        for i, m in enumerate(d.get("mounts") or []):
            where = f"config.mounts[{i}]"
            m = _obj(m, where)
            if not m.get("container_path") or not str(m["container_path"]).startswith("/"):
                raise InvalidConfig(f"{where}.container_path: an absolute path is required")
            if not m.get("host_path"):
                raise InvalidConfig(f"{where}.host_path is required")
            mounts.append(PodMount(str(m["container_path"]), str(m["host_path"]), bool(m.get("readonly")),
                                   _enum(m.get("propagation"), PROPAGATIONS, f"{where}.propagation")))
        devices = []
        for i, dev in enumerate(d.get("devices") or []):
            dev = _obj(dev, f"config.devices[{i}]")
            devices.append(PodDevice(str(dev.get("container_path") or dev.get("host_path") or ""),
                                     str(dev.get("host_path") or ""), str(dev.get("permissions") or "rwm")))
        masked = security.get("masked_paths")
        readonly = security.get("readonly_paths")
        return cls(
            name=str(meta["name"]), image=image, attempt=_int(meta.get("attempt"), "config.metadata.attempt"),
            command=_strs(d.get("command"), "config.command"), args=_strs(d.get("args"), "config.args"),
            working_dir=str(d.get("working_dir") or ""), envs=envs, mounts=mounts, devices=devices,
            labels=_map(d.get("labels"), "config.labels"), annotations=_map(d.get("annotations"), "config.annotations"),
            log_path=str(d.get("log_path") or ""), stdin=bool(d.get("stdin")), stdin_once=bool(d.get("stdin_once")),
            tty=bool(d.get("tty")), resources=Resources.from_cri(linux.get("resources"), "config.linux.resources"),
            cap_add=_strs(caps.get("add_capabilities"), "capabilities.add_capabilities"),
            cap_drop=_strs(caps.get("drop_capabilities"), "capabilities.drop_capabilities"),
            privileged=bool(security.get("privileged")),
            namespaces=Namespaces.from_cri(security.get("namespace_options"),
                                           "config.linux.security_context.namespace_options"),
            run_as_user=_opt_int(security.get("run_as_user"), "run_as_user"),
            run_as_group=_opt_int(security.get("run_as_group"), "run_as_group"),
            run_as_username=str(security.get("run_as_username") or ""),
            readonly_rootfs=bool(security.get("readonly_rootfs")),
            supplemental_groups=[_int(g, "supplemental_groups") for g in security.get("supplemental_groups") or []],
            no_new_privs=bool(security.get("no_new_privs")),
            masked_paths=None if masked is None else _strs(masked, "masked_paths"),
            readonly_paths=None if readonly is None else _strs(readonly, "readonly_paths"),
            seccomp=Seccomp.from_cri(security, "config.linux.security_context"), raw=d)
