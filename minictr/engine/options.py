"""docker's option texts turned into values: sizes (`512m`), CPUs (`1.5`),
restart policies, published ports, volumes, env files, extra hosts,
signals. Each parser raises InvalidOption with docker's own wording, so a
user (and a script written against docker) sees the message they know."""
from __future__ import annotations

import os

from minictr.engine.errors import InvalidOption
from minictr.engine.spec import Mount, Publish
from minictr.network.files import HOST_GATEWAY

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


def _flag_error(value: str, flag: str, why: str) -> InvalidOption:
    return InvalidOption(f'invalid argument "{value}" for "{flag}" flag: {why}')


def parse_bytes(text: str, flag: str = "-m, --memory") -> int:
    """docker's RAMInBytes: a number with an optional binary unit
    (b, k, m, g, t, p, optionally followed by b), case-insensitive."""
    raw = text.strip().lower()
    number = raw.rstrip("bkmgtp")
    unit = raw[len(number):]
    if len(unit) == 2 and unit.endswith("b"):
        unit = unit[0]
    try:
        value = float(number)
    except ValueError:
        raise _flag_error(text, flag, f"invalid size: '{text}'") from None
    if unit not in _UNITS or value < 0 or value != value:
        raise _flag_error(text, flag, f"invalid size: '{text}'")
    return int(value * _UNITS[unit])


def parse_memory_swap(text: str) -> int:
    """-1 means unlimited swap, as in docker."""
    return -1 if text.strip() == "-1" else parse_bytes(text, "--memory-swap")


def parse_cpus(text: str) -> int:
    """--cpus as nano-CPUs (docker's NanoCPUs)."""
    try:
        value = float(text)
    except ValueError:
        raise _flag_error(text, "--cpus", f"failed to parse {text} as a rational number") from None
    if value < 0 or value != value:
        raise _flag_error(text, "--cpus", "range of CPUs is from 0.01 to the number of CPUs available")
    nano = int(round(value * 1e9)) if value * 1e9 != float("inf") else -1
    host = len(os.sched_getaffinity(0))
    if nano and not 10_000_000 <= nano <= host * 1_000_000_000:
        # dockerd's words
        raise InvalidOption(f"Range of CPUs is from 0.01 to {host}.00, as there are only {host} CPUs available")
    return nano


def parse_restart(text: str) -> tuple[str, int]:
    """`no`, `always`, `unless-stopped`, `on-failure[:N]` → (name, max retries)."""
    name, _, count = text.partition(":")
    if name not in RESTART_POLICIES or (count and name != "on-failure"):
        if name in RESTART_POLICIES:
            raise InvalidOption(f"maximum retry count cannot be used with restart policy '{name}'")
        raise InvalidOption(f"invalid restart policy '{text}'")
    if not count:
        return name, 0
    try:
        retries = int(count)
    except ValueError:
        raise InvalidOption(f"maximum retry count must be an integer: {count!r}") from None
    if retries < 0:
        raise InvalidOption("invalid restart policy: maximum retry count cannot be negative")
    return name, retries


def _port_range(text: str, what: str, spec: str) -> list[int]:
    low, _, high = text.partition("-")
    try:
        first = int(low)
        last = int(high) if high else first
    except ValueError:
        raise InvalidOption(f"invalid {what}: {text}") from None
    if not (0 < first <= last <= 65535) and not (what == "hostPort" and first == 0 and last == 0):
        raise InvalidOption(f"invalid {what}: {text}")
    return list(range(first, last + 1))


def parse_publish(spec: str) -> list[Publish]:
    """-p [ip:][hostPort:]containerPort[/proto] (ranges allowed) → one
    record per port (host_port 0: any free port)."""
    rest, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidOption(f"invalid proto: {proto}")
    parts = rest.rsplit(":", 2) if not rest.startswith("[") else _split_v6(rest)
    host_ip, host_ports = "", ""
    if len(parts) == 3:
        host_ip, host_ports, ctr = parts
    elif len(parts) == 2:
        host_ports, ctr = parts
    else:
        ctr = parts[0]
    if host_ip:
        try:
            import ipaddress  # ~1 ms (re); only when an address is given
            ipaddress.ip_address(host_ip.strip("[]"))
        except ValueError:
            raise InvalidOption(f"invalid IP address: {host_ip}") from None
    ctr_ports = _port_range(ctr, "containerPort", spec)
    hosts = _port_range(host_ports, "hostPort", spec) if host_ports else [0] * len(ctr_ports)
    if len(hosts) != len(ctr_ports):
        if len(hosts) == 1 and hosts[0] == 0:
            hosts = [0] * len(ctr_ports)
        else:
            raise InvalidOption(f"invalid ranges specified for container and host Ports: {spec}")
    return [Publish(host_ip.strip("[]"), h, c, proto) for h, c in zip(hosts, ctr_ports)]


def _split_v6(text: str) -> list[str]:
    ip, _, rest = text[1:].partition("]")
    return [ip, *rest.lstrip(":").split(":", 1)]


def parse_volume(spec: str) -> Mount:
    """-v [source:]destination[:options]: a source with '/' is a bind
    mount, a bare name a named volume, none an anonymous volume."""
    parts = spec.split(":")
    if not spec or len(parts) > 3 or any(not p for p in parts):
        raise InvalidOption(f"invalid volume specification: '{spec}'")
    options: list[str] = []
    if len(parts) == 3:
        source, dest, opts = parts
        options = opts.split(",")
    elif len(parts) == 2:
        if parts[1].startswith("/"):
            source, dest = parts
        else:
            source, dest, options = "", parts[0], parts[1].split(",")
    else:
        source, dest = "", parts[0]
    if not dest.startswith("/"):
        raise InvalidOption(f"invalid volume specification: '{spec}': invalid mount config: "
                            f"invalid mount path: '{dest}' mount path must be absolute")
    if os.path.normpath(dest) == "/":
        raise InvalidOption(f"invalid volume specification: '{spec}': invalid mount config: "
                            "destination can't be '/'")
    known = {"ro", "rw", "z", "Z", "shared", "rshared", "slave", "rslave", "private", "rprivate", "nocopy"}
    for opt in options:
        if opt not in known:
            raise InvalidOption(f"invalid mode: {opt}")
    if source and not source.startswith("/") and not _valid_volume_name(source):
        raise InvalidOption(f'"{source}" includes invalid characters for a local volume name, only '
                            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                            "directory, use absolute path")
    kind = "bind" if source.startswith("/") else "volume"
    return Mount(kind, os.path.normpath(source) if kind == "bind" else source, os.path.normpath(dest),
                 read_only="ro" in options,
                 propagation=next((o for o in options if o.endswith(("shared", "slave", "private"))), ""))


def _valid_volume_name(name: str) -> bool:
    ok = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
    return name[0].isalnum() and set(name) <= ok


def valid_container_name(name: str) -> bool:
    """docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+"""
    return len(name) >= 2 and _valid_volume_name(name)


def parse_env_file(path: str) -> list[str]:
    """docker's --env-file: KEY=VALUE lines; a bare KEY takes the value
    from our environment (skipped if unset); blank lines and # comments."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InvalidOption(f"open {path}: {e.strerror.lower() if e.strerror else e}") from None
    except UnicodeDecodeError:
        raise InvalidOption(f"{path}: not UTF-8 text") from None
    out = []
    for number, line in enumerate(lines, 1):
        text = line.lstrip()
        if not text or text.startswith("#"):
            continue
        key, eq, value = text.partition("=")
        if not key or any(c.isspace() for c in key):
            raise InvalidOption(f"{path}:{number}: variable '{key}' contains whitespaces")
        if eq:
            out.append(f"{key}={value}")
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out


def parse_env(items: list[str]) -> list[str]:
    """-e KEY=VALUE, or -e KEY to pass ours through (dropped if unset)."""
    out = []
    for item in items:
        key, eq, _ = item.partition("=")
        if not key:
            raise InvalidOption(f"invalid environment variable: {item}")
        if eq:
            out.append(item)
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out


def parse_dns(text: str) -> str:
    """--dns takes IP addresses only (docker's ValidateIPAddress)."""
    import ipaddress  # ~1 ms (re); only when an address is given
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise _flag_error(text, "--dns", f"{text} is not an ip address") from None


def parse_add_host(text: str) -> tuple[str, str]:
    """`--add-host name=ip` or `name:ip` (docker's ValidateExtraHost: `=`
    first, as an IPv6 address has colons; brackets allowed) → (name, ip);
    ip may be "host-gateway", the network's gateway: the host seen from inside."""
    host, sep, ip = text.partition("=")
    if not sep:
        host, sep, ip = text.partition(":")
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if not host or not sep or any(c.isspace() for c in host):
        raise _flag_error(text, "--add-host", f'bad format for add-host: "{text}"')
    if ip != HOST_GATEWAY:
        import ipaddress  # ~1 ms (re); only when an address is given
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise _flag_error(text, "--add-host", f'invalid IP address in add-host: "{ip}"') from None
    return host, ip


def parse_labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise InvalidOption(f"invalid label: {item}")
        out[key] = value
    return out


def parse_signal(text: str | int) -> int:
    """A signal by number or name, with or without SIG (docker's ParseSignal)."""
    import signal  # ~2 ms (enum); only a signal given by name
    if isinstance(text, int):
        return text
    raw = text.strip().upper()
    if raw.isdigit():
        number = int(raw)
        if 0 < number < signal.NSIG:
            return number
        raise InvalidOption(f"Invalid signal: {text}")
    name = raw if raw.startswith("SIG") else "SIG" + raw
    value = getattr(signal, name, None)
    if not isinstance(value, int) or name.startswith("SIG_"):
        raise InvalidOption(f"Invalid signal: {text}")
    return int(value)


def parse_network(text: str) -> str:
    if text.startswith("container:") and len(text) == len("container:"):
        raise InvalidOption("--network: container: needs a container name or ID")
    return text or "bridge"


def parse_sysctls(items: list[str]) -> dict[str, str]:
    """--sysctl key=value (docker's ValidateSysctl; which keys may be set is engine.sysctls')."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise _flag_error(item, "--sysctl", f"sysctl '{item}' is not allowed")
        out[key.strip()] = value
    return out


def parse_device(text: str):
    """--device host[:container][:permissions] (docker's parseDevice)."""
    from minictr.engine.spec import DeviceMapping   # --device only (spec imports this module's errors)
    parts = text.split(":")
    perms = "rwm"
    if len(parts) >= 2 and parts[-1] and all(c in "rwm" for c in parts[-1]):
        perms = parts.pop()
    if len(parts) > 2 or not parts[0]:
        raise _flag_error(text, "--device", f"invalid device specification: {text}")
    host = parts[0]
    container = parts[1] if len(parts) == 2 and parts[1] else host
    for path in (host, container):
        if not path.startswith("/"):
            raise _flag_error(text, "--device", f"{path} is not an absolute path")
    return DeviceMapping(host, container, perms)


def parse_oom_score_adj(value: int | None) -> int | None:
    if value is not None and not -1000 <= value <= 1000:
        raise InvalidOption(f"Invalid value {value}, range for oom score adj is [-1000, 1000]")
    return value
