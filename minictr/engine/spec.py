"""What a user asked for when creating a container (`run`/`create` flags),
fixed at create and kept with the record as JSON. Everything later (the
bundle, the network, restarts) is derived from it."""
from __future__ import annotations

from minictr.engine.errors import InvalidOption
from minictr.records import asdict, dataclass, field

LOG_FORMATS = ("json-file", "cri")   # docker's json-file; the CRI format (engine/cri_log.py)


@dataclass(frozen=True)
class Mount:
    """-v: a bind mount (a host path) or a volume (by name; an anonymous
    one is named by create, in the record's copy of the spec)."""
    type: str                                   # bind | volume
    source: str                                 # host path | volume name ("" until create names it)
    destination: str
    read_only: bool = False
    propagation: str = ""                       # "", shared, rslave...
    anonymous: bool = False


@dataclass(frozen=True)
class Publish:
    """-p: one port; host_port 0 asks for a free one, host_ip "" is every address."""
    host_ip: str = ""
    host_port: int = 0
    container_port: int = 0
    proto: str = "tcp"


@dataclass(frozen=True)
class DeviceMapping:
    """--device host[:container[:rwm]] (CRI's Device): a host device node
    made in the container, with a device-cgroup rule allowing it."""
    host_path: str
    container_path: str = ""                    # "": the host path
    permissions: str = "rwm"


@dataclass
class ContainerSpec:
    image: str                                  # as given (docker's Config.Image)
    cmd: list | None = None                     # None: the image's Cmd
    entrypoint: list | None = None              # None: the image's; [] clears it
    env: list = field(default_factory=list)     # KEY=VALUE, after the image's
    workdir: str = ""
    user: str = ""
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    hostname: str = ""
    domainname: str = ""
    labels: dict = field(default_factory=dict)
    network: str = "bridge"                     # bridge | none | host | container:X | a network's name
    ipc: str = ""                               # engine.modes: "" | shareable | none | host | container:X
    pid: str = ""                               # "" | host | container:X
    uts: str = ""                               # "" | host (| container:X for pods)
    publish: list = field(default_factory=list)  # Publish records (options.parse_publish)
    publish_all: bool = False
    volumes: list = field(default_factory=list)  # Mount records (options.parse_volume)
    memory: int = 0
    memory_swap: int = 0                        # -1: unlimited
    nano_cpus: int = 0
    cpu_shares: int = 0
    pids_limit: int = 0
    restart: str = "no"
    restart_max: int = 0
    read_only: bool = False
    cap_add: list = field(default_factory=list)
    cap_drop: list = field(default_factory=list)
    privileged: bool = False
    security_opt: list = field(default_factory=list)  # --security-opt as given (HostConfig.SecurityOpt)
    seccomp_profile: str = ""                   # "": docker's default; "unconfined"; else the profile's JSON
    no_new_privileges: bool = False
    unmask_systempaths: bool = False            # systempaths=unconfined: no masked or read-only /proc paths
    stop_signal: str = ""                       # "": the image's, else SIGTERM
    stop_timeout: int | None = None             # None: 10 s
    add_hosts: list = field(default_factory=list)  # [host, ip]
    dns: list = field(default_factory=list)
    init: bool = False
    auto_remove: bool = False
    log_format: str = "json-file"               # one of LOG_FORMATS; records from before it: json-file
    log_max_size: int = 0                       # max-size (either format); 0: no rotation
    log_max_file: int = 1
    runtime: str = ""                           # "": in-process; else a runc-compatible binary
    oci_mounts: list = field(default_factory=list)  # OCI mount dicts given whole, last (a build's RUN --mount)
    # docker's less common options, and what CRI asks for (docker's names)
    log_path: str = ""                          # "": <container dir>/<id>-json.log; CRI: the kubelet's path
    oom_score_adj: int | None = None            # None: inherited
    sysctls: dict = field(default_factory=dict)  # --sysctl (namespaced ones only, as docker checks)
    cgroup_parent: str = ""                     # "": /minictr; else the cgroup the container goes under
    group_add: list = field(default_factory=list)  # --group-add: gids or group names
    dns_search: list = field(default_factory=list)
    dns_options: list = field(default_factory=list)
    cpu_quota: int = 0                          # --cpu-quota/--cpu-period (µs): --cpus in two parts
    cpu_period: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    hugepage_limits: dict = field(default_factory=dict)   # page size ("2MB") -> bytes
    unified: dict = field(default_factory=dict)           # cgroup v2 file -> value
    devices: list = field(default_factory=list)  # DeviceMapping records
    masked_paths: list | None = None            # None: docker's; [] none (CRI's procMount Unmasked)
    readonly_paths: list | None = None

    def __post_init__(self) -> None:
        if self.log_format not in LOG_FORMATS:
            raise InvalidOption(f"unknown log format {self.log_format!r}: use one of {', '.join(LOG_FORMATS)}")
        # from the record's JSON: the lists come back as dicts
        self.volumes = [v if isinstance(v, Mount) else Mount(**v) for v in self.volumes]
        self.publish = [p if isinstance(p, Publish) else Publish(**p) for p in self.publish]
        self.devices = [d if isinstance(d, DeviceMapping) else DeviceMapping(**d) for d in self.devices]
        if self.nano_cpus and (self.cpu_quota or self.cpu_period):
            raise InvalidOption("Conflicting options: Nano CPUs and CPU Period cannot both be set")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ContainerSpec":
        known = cls.__record_fields__
        return cls(**{k: v for k, v in data.items() if k in known})
