"""The OCI runtime spec's config.json as plain, validated data.

Only shape and meaning are checked here (types, required fields, known
namespace types, absolute paths); whether the host can do it is the
runtime's business. Every error names the JSON field it is about, e.g.
`linux.namespaces[2].type: unknown namespace type "foo"`.
"""
from __future__ import annotations

from minictr import jsonio
from minictr.errors import MinictrError
import os
from minictr.records import dataclass, field

SPEC_VERSION = "1.0.2-dev"

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


class ConfigError(ValueError, MinictrError):
    """A config.json that does not follow the spec; the message names the field.
    (A container's config is the user's input: docker's 125.)"""

    exit_code = 125

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}" if field_name else message)
        self.field = field_name


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean", list: "an array", dict: "an object"}


def _check(value: Any, kind: type, name: str) -> Any:
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(name, f"must be {_TYPE_NAMES.get(kind, kind.__name__)}, got {jsonio.dumps(value)[:60]}")
    return value


def _opt(obj: dict, key: str, kind: type, name: str, default: Any = None) -> Any:
    if key not in obj or obj[key] is None:
        return default
    return _check(obj[key], kind, f"{name}.{key}" if name else key)


def _req(obj: dict, key: str, kind: type, name: str) -> Any:
    full = f"{name}.{key}" if name else key
    if key not in obj:
        raise ConfigError(full, "is required")
    return _check(obj[key], kind, full)


def _str_list(obj: dict, key: str, name: str) -> list[str]:
    items = _opt(obj, key, list, name, [])
    for i, item in enumerate(items):
        _check(item, str, f"{name}.{key}[{i}]" if name else f"{key}[{i}]")
    return items


def _uint(obj: dict, key: str, name: str, default: int | None = None, required: bool = False) -> int | None:
    value = _req(obj, key, int, name) if required else _opt(obj, key, int, name, default)
    if value is not None and value < 0:
        raise ConfigError(f"{name}.{key}", f"must not be negative, got {value}")
    return value


@dataclass
class User:
    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: list[int] = field(default_factory=list)


@dataclass
class Rlimit:
    type: str
    soft: int
    hard: int


@dataclass
class Process:
    args: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    terminal: bool = False
    console_size: tuple[int, int] | None = None
    user: User = field(default_factory=User)
    capabilities: dict[str, list[str]] | None = None
    rlimits: list[Rlimit] = field(default_factory=list)
    no_new_privileges: bool = False
    oom_score_adj: int | None = None
    apparmor_profile: str = ""
    selinux_label: str = ""


@dataclass
class Mount:
    destination: str
    type: str = ""
    source: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class Hook:
    path: str
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    timeout: int | None = None

    def to_json(self) -> dict:
        d: dict[str, Any] = {"path": self.path}
        if self.args:
            d["args"] = self.args
        if self.env:
            d["env"] = self.env
        if self.timeout is not None:
            d["timeout"] = self.timeout
        return d


@dataclass
class Namespace:
    type: str
    path: str | None = None


@dataclass
class IDMapping:
    container_id: int
    host_id: int
    size: int


@dataclass
class Device:
    type: str
    path: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@dataclass
class Linux:
    namespaces: list[Namespace] = field(default_factory=list)
    uid_mappings: list[IDMapping] = field(default_factory=list)
    gid_mappings: list[IDMapping] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    cgroups_path: str | None = None
    resources: dict = field(default_factory=dict)
    rootfs_propagation: str = ""
    masked_paths: list[str] = field(default_factory=list)
    readonly_paths: list[str] = field(default_factory=list)
    sysctl: dict[str, str] = field(default_factory=dict)
    seccomp: dict | None = None
    mount_label: str = ""
    personality: dict | None = None

    def namespace(self, kind: str) -> Namespace | None:
        return next((ns for ns in self.namespaces if ns.type == kind), None)


@dataclass
class Config:
    oci_version: str
    root_path: str
    root_readonly: bool
    process: Process | None
    hostname: str | None
    domainname: str | None
    mounts: list[Mount]
    hooks: dict[str, list[Hook]]
    annotations: dict[str, str]
    linux: Linux
    raw: dict


def _parse_user(obj: dict, name: str) -> User:
    gids = _opt(obj, "additionalGids", list, name, [])
    for i, g in enumerate(gids):
        _check(g, int, f"{name}.additionalGids[{i}]")
    return User(uid=_uint(obj, "uid", name, 0), gid=_uint(obj, "gid", name, 0),
                umask=_uint(obj, "umask", name), additional_gids=gids)


def parse_process(obj: Any, name: str = "process") -> Process:
    _check(obj, dict, name)
    args = _str_list(obj, "args", name)
    if not args:
        raise ConfigError(f"{name}.args", "must name the program to run (it is empty or missing)")
    cwd = _req(obj, "cwd", str, name) if "cwd" in obj else "/"
    if not cwd.startswith("/"):
        raise ConfigError(f"{name}.cwd", f"must be an absolute path, got {cwd!r}")
    env = _str_list(obj, "env", name)
    for i, entry in enumerate(env):
        if "=" not in entry:
            raise ConfigError(f"{name}.env[{i}]", f"must be KEY=VALUE, got {entry!r}")
    caps = _opt(obj, "capabilities", dict, name)
    if caps is not None:
        caps = {k: _str_list(caps, k, f"{name}.capabilities")
                for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}
    rlimits = []
    for i, r in enumerate(_opt(obj, "rlimits", list, name, [])):
        rn = f"{name}.rlimits[{i}]"
        _check(r, dict, rn)
        rlimits.append(Rlimit(type=_req(r, "type", str, rn), soft=_uint(r, "soft", rn, required=True),
                              hard=_uint(r, "hard", rn, required=True)))
    size = _opt(obj, "consoleSize", dict, name)
    console_size = None
    if size is not None:
        console_size = (_uint(size, "height", f"{name}.consoleSize", 0), _uint(size, "width", f"{name}.consoleSize", 0))
    user = _parse_user(_opt(obj, "user", dict, name, {}), f"{name}.user")
    return Process(args=args, env=env, cwd=cwd, terminal=_opt(obj, "terminal", bool, name, False),
                   console_size=console_size, user=user, capabilities=caps, rlimits=rlimits,
                   no_new_privileges=_opt(obj, "noNewPrivileges", bool, name, False),
                   oom_score_adj=_opt(obj, "oomScoreAdj", int, name),
                   apparmor_profile=_opt(obj, "apparmorProfile", str, name, ""),
                   selinux_label=_opt(obj, "selinuxLabel", str, name, ""))


def _parse_hooks(obj: dict) -> dict[str, list[Hook]]:
    hooks: dict[str, list[Hook]] = {}
    for kind in HOOK_KINDS:
        entries = []
        for i, h in enumerate(_opt(obj, kind, list, "hooks", [])):
            hn = f"hooks.{kind}[{i}]"
            _check(h, dict, hn)
            path = _req(h, "path", str, hn)
            if not path.startswith("/"):
                raise ConfigError(f"{hn}.path", f"must be an absolute path, got {path!r}")
            timeout = _opt(h, "timeout", int, hn)
            if timeout is not None and timeout <= 0:
                raise ConfigError(f"{hn}.timeout", f"must be greater than zero, got {timeout}")
            entries.append(Hook(path=path, args=_str_list(h, "args", hn), env=_str_list(h, "env", hn),
                                timeout=timeout))
        hooks[kind] = entries
    for key in obj:
        if key not in HOOK_KINDS:
            raise ConfigError(f"hooks.{key}", f"unknown hook kind (known: {', '.join(HOOK_KINDS)})")
    return hooks


def _parse_mappings(obj: dict, key: str) -> list[IDMapping]:
    out = []
    for i, m in enumerate(_opt(obj, key, list, "linux", [])):
        mn = f"linux.{key}[{i}]"
        _check(m, dict, mn)
        out.append(IDMapping(_uint(m, "containerID", mn, required=True), _uint(m, "hostID", mn, required=True),
                             _uint(m, "size", mn, required=True)))
    return out


def _parse_linux(obj: dict) -> Linux:
    linux = Linux()
    seen = set()
    for i, ns in enumerate(_opt(obj, "namespaces", list, "linux", [])):
        nn = f"linux.namespaces[{i}]"
        _check(ns, dict, nn)
        kind = _req(ns, "type", str, nn)
        if kind not in NAMESPACE_TYPES:
            raise ConfigError(f"{nn}.type", f"unknown namespace type {kind!r} (known: {', '.join(NAMESPACE_TYPES)})")
        if kind in seen:
            raise ConfigError(f"{nn}.type", f"namespace type {kind!r} is listed twice")
        seen.add(kind)
        path = _opt(ns, "path", str, nn) or None
        if path is not None and not path.startswith("/"):
            raise ConfigError(f"{nn}.path", f"must be an absolute path, got {path!r}")
        linux.namespaces.append(Namespace(kind, path))
    linux.uid_mappings = _parse_mappings(obj, "uidMappings")
    linux.gid_mappings = _parse_mappings(obj, "gidMappings")
    for i, d in enumerate(_opt(obj, "devices", list, "linux", [])):
        dn = f"linux.devices[{i}]"
        _check(d, dict, dn)
        kind = _req(d, "type", str, dn)
        if kind not in ("c", "b", "u", "p"):
            raise ConfigError(f"{dn}.type", f"must be one of c, b, u, p; got {kind!r}")
        path = _req(d, "path", str, dn)
        if not path.startswith("/"):
            raise ConfigError(f"{dn}.path", f"must be an absolute path, got {path!r}")
        linux.devices.append(Device(kind, path, _uint(d, "major", dn, 0), _uint(d, "minor", dn, 0),
                                    _uint(d, "fileMode", dn), _uint(d, "uid", dn), _uint(d, "gid", dn)))
    linux.cgroups_path = _opt(obj, "cgroupsPath", str, "linux") or None
    linux.resources = _opt(obj, "resources", dict, "linux", {})
    linux.rootfs_propagation = _opt(obj, "rootfsPropagation", str, "linux", "")
    if linux.rootfs_propagation not in ("", "private", "rprivate", "shared", "rshared", "slave", "rslave",
                                        "unbindable", "runbindable"):
        raise ConfigError("linux.rootfsPropagation", f"unknown propagation {linux.rootfs_propagation!r}")
    linux.masked_paths = _str_list(obj, "maskedPaths", "linux")
    linux.readonly_paths = _str_list(obj, "readonlyPaths", "linux")
    sysctl = _opt(obj, "sysctl", dict, "linux", {})
    for k, v in sysctl.items():
        _check(v, str, f"linux.sysctl.{k}")
    linux.sysctl = sysctl
    linux.seccomp = _opt(obj, "seccomp", dict, "linux")
    linux.mount_label = _opt(obj, "mountLabel", str, "linux", "")
    linux.personality = _opt(obj, "personality", dict, "linux")
    return linux


def parse_config(obj: Any) -> Config:
    _check(obj, dict, "")
    version = _req(obj, "ociVersion", str, "")
    if not version.startswith("1."):
        raise ConfigError("ociVersion", f"unsupported version {version!r} (this runtime implements {SPEC_VERSION})")
    root = _req(obj, "root", dict, "")
    root_path = _req(root, "path", str, "root")
    if not root_path:
        raise ConfigError("root.path", "must not be empty")
    process = parse_process(obj["process"]) if obj.get("process") is not None else None
    mounts = []
    for i, m in enumerate(_opt(obj, "mounts", list, "", [])):
        mn = f"mounts[{i}]"
        _check(m, dict, mn)
        dest = _req(m, "destination", str, mn)
        if not dest:
            raise ConfigError(f"{mn}.destination", "must not be empty")
        mounts.append(Mount(destination=dest, type=_opt(m, "type", str, mn, ""), source=_opt(m, "source", str, mn, ""),
                            options=_str_list(m, "options", mn)))
    annotations = _opt(obj, "annotations", dict, "", {})
    for k, v in annotations.items():
        _check(v, str, f"annotations.{k}")
    return Config(oci_version=version, root_path=root_path, root_readonly=_opt(root, "readonly", bool, "root", False),
                  process=process, hostname=_opt(obj, "hostname", str, ""), domainname=_opt(obj, "domainname", str, ""),
                  mounts=mounts, hooks=_parse_hooks(_opt(obj, "hooks", dict, "", {})), annotations=annotations,
                  linux=_parse_linux(_opt(obj, "linux", dict, "", {})), raw=obj)


def load_bundle_config(bundle: str) -> Config:
    """Read <bundle>/config.json; errors name the file as well as the field."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError("", f"{path}: no such file (is --bundle right?)") from None
    except OSError as e:
        raise ConfigError("", f"{path}: {e.strerror}") from None
    try:
        obj = jsonio.loads(text)
    except jsonio.JSONError as e:
        raise ConfigError("", f"{path}: invalid JSON at line {e.line} column {e.column}: {e.msg}") from None
    try:
        return parse_config(obj)
    except ConfigError as e:
        raise ConfigError(e.field, f"{path}: {e}") from None
