"""The instructions that change only the image's config, as docker
applies them: each takes the current Config (not changed) and the
instruction's expanded arguments and gives the new Config and the history
entry's created_by (BuildKit's wording). Pure: no files, no containers."""
from __future__ import annotations

import json
import posixpath

from minictr.build.errors import DockerfileError

DEFAULT_SHELL = ["/bin/sh", "-c"]
_DURATIONS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
              "h": 3_600_000_000_000}


def copy_config(config: dict) -> dict:
    out = dict(config)
    for key in ("Env", "Cmd", "Entrypoint", "Shell", "OnBuild"):
        if out.get(key) is not None:
            out[key] = list(out[key])
    for key in ("Labels", "ExposedPorts", "Volumes"):
        if out.get(key) is not None:
            out[key] = dict(out[key])
    return out


def set_env(config: dict, pairs: list[tuple[str, str]]) -> dict:
    """ENV: each KEY=value replaces the same key, new ones at the end."""
    config = copy_config(config)
    env = list(config.get("Env") or [])
    for key, value in pairs:
        env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
    config["Env"] = env
    return config


def env_of(config: dict) -> dict:
    return dict(e.partition("=")[::2] for e in config.get("Env") or [])


def command(ins, shell: list[str]) -> list[str]:
    """CMD, ENTRYPOINT, RUN, HEALTHCHECK CMD: the exec form as written, or
    the shell form through SHELL."""
    if ins.json_args is not None:
        return list(ins.json_args)
    return list(shell) + [ins.args]


def workdir(config: dict, path: str) -> dict:
    config = copy_config(config)
    config["WorkingDir"] = posixpath.normpath(posixpath.join(config.get("WorkingDir") or "/", path))
    return config


def expose(config: dict, ports: list[str], where: tuple[str, int]) -> dict:
    config = copy_config(config)
    exposed = config.get("ExposedPorts") or {}
    for word in ports:
        port, _, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        lo, dash, hi = port.partition("-")
        if not _port(lo) or (dash and (not _port(hi) or int(hi) < int(lo))) or proto not in ("tcp", "udp", "sctp"):
            raise DockerfileError(*where, f"EXPOSE: invalid port {word!r}")
        for number in range(int(lo), int(hi or lo) + 1):   # docker lists each port of a range
            exposed[f"{number}/{proto}"] = {}
    config["ExposedPorts"] = exposed
    return config


def _port(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < int(text) < 65536


def volumes(config: dict, paths: list[str], where: tuple[str, int]) -> dict:
    config = copy_config(config)
    vols = config.get("Volumes") or {}
    for path in paths:
        if not path.strip():
            raise DockerfileError(*where, "VOLUME specified can not be an empty string")
        vols[path] = {}
    config["Volumes"] = vols
    return config


def healthcheck(config: dict, ins, flags: dict, shell: list[str], where: tuple[str, int]) -> dict:
    """HEALTHCHECK [--interval --timeout --start-period --start-interval --retries] CMD ... | NONE."""
    config = copy_config(config)
    text = ins.args.strip()
    if text.upper() == "NONE":
        if flags:
            raise DockerfileError(*where, "HEALTHCHECK NONE takes no options")
        config["Healthcheck"] = {"Test": ["NONE"]}
        return config
    word, _, rest = text.partition(" ")
    if word.upper() != "CMD" or not rest.strip():
        raise DockerfileError(*where, "HEALTHCHECK: expected CMD or NONE")
    rest = rest.strip()
    try:
        parsed = json.loads(rest)
        test = ["CMD"] + parsed if isinstance(parsed, list) and all(isinstance(a, str) for a in parsed) else None
    except ValueError:
        test = None
    check = {"Test": test or ["CMD-SHELL", rest]}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                      ("start-interval", "StartInterval")):
        if flag in flags:
            check[key] = duration_ns(flags.pop(flag), flag, where)
    if "retries" in flags:
        value = flags.pop("retries")
        if not value.isdigit() or int(value) < 1:
            raise DockerfileError(*where, f"HEALTHCHECK --retries: expected a positive number, got {value!r}")
        check["Retries"] = int(value)
    if flags:
        raise DockerfileError(*where, f"HEALTHCHECK: unknown flag --{next(iter(flags))}")
    config["Healthcheck"] = check
    return config


def duration_ns(text: str, flag: str, where: tuple[str, int]) -> int:
    """Go's time.ParseDuration, as docker reads HEALTHCHECK's durations."""
    import re   # HEALTHCHECK only
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise DockerfileError(*where, f"HEALTHCHECK --{flag}: invalid duration {text!r}")
    total = sum(int(float(n) * _DURATIONS[u]) for n, u in parts)
    if total and total < 1_000_000:
        raise DockerfileError(*where, f"HEALTHCHECK --{flag} cannot be less than 1ms")
    return total
