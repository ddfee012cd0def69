"""What a user asked for when creating a container (`run`/`create` flags),
fixed at create and kept with the record as JSON. Everything later (the
bundle, the network, restarts) is derived from it."""
from __future__ import annotations

from minictr.engine.errors import InvalidOption
from minictr.records import asdict, dataclass, field

LOG_FORMATS = ("json-file", "cri")   # docker's json-file; the CRI format (engine/cri_log.py)


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
    publish: list = field(default_factory=list)  # dicts from options.parse_publish
    publish_all: bool = False
    volumes: list = field(default_factory=list)  # dicts from options.parse_volume
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

    def __post_init__(self) -> None:
        if self.log_format not in LOG_FORMATS:
            raise InvalidOption(f"unknown log format {self.log_format!r}: use one of {', '.join(LOG_FORMATS)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ContainerSpec":
        known = cls.__record_fields__
        return cls(**{k: v for k, v in data.items() if k in known})
