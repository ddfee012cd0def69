"""Docker's `--change` instructions (`commit -c`): the Dockerfile
instructions that alter only an image's config (CMD, ENV, EXPOSE, ...),
parsed and applied to the config as plain data. This is the step where a
container's config, or a build step's, becomes the new image's config.

Every fault is an InvalidChange (a ValueError) whose message names the
instruction and shows what was given; the layer that calls this words it
for its user. Nothing here touches files."""
from __future__ import annotations

import json
import posixpath
import re
import shlex

CHANGE_COMMANDS = ("CMD", "ENTRYPOINT", "ENV", "WORKDIR", "USER", "LABEL", "EXPOSE", "VOLUME", "STOPSIGNAL")
PROTOCOLS = ("tcp", "udp", "sctp")
_PORT = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?(?:/([A-Za-z]*))?", re.ASCII)
_SHOWN = 200


class InvalidChange(ValueError):
    """A --change that cannot be applied; `instruction` is its word."""

    def __init__(self, message: str, instruction: str = ""):
        super().__init__(message)
        self.instruction = instruction


def _shown(text: str) -> str:
    """What an error quotes of the input: all of it unless it is long."""
    return text if len(text) <= _SHOWN else f"{text[:120]}...({len(text)} characters)"


def parse_changes(changes: list[str]) -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) pairs, every one checked in order (applied to
    an empty config) before anything is written."""
    out = []
    for text in changes:
        if not isinstance(text, str):
            raise InvalidChange(f"change {_shown(repr(text))}: expected a Dockerfile instruction as text")
        text = text.strip()
        if not text:
            continue
        word, _, rest = text.partition(" ") if " " in text else text.partition("\t")
        # ASCII only: str.upper() would turn a dotless "ı" into "I"
        if not word.isascii() or word.upper() not in CHANGE_COMMANDS:
            raise InvalidChange(f"{_shown(word.upper())} is not a valid change command", word.upper())
        word, rest = word.upper(), rest.strip()
        if not rest:
            raise InvalidChange(f"{word} requires at least one argument", word)
        if "\0" in rest:
            raise InvalidChange(f"{word} {_shown(rest)!r}: contains a NUL character", word)
        try:
            rest.encode("utf-8")
        except UnicodeEncodeError:   # argv bytes that were not UTF-8 (surrogate escapes)
            raise InvalidChange(f"{word} {_shown(rest)!r}: not valid UTF-8", word) from None
        apply_changes({}, [(word, rest)])
        out.append((word, rest))
    return out


def exec_form(word: str, rest: str) -> list[str]:
    """CMD/ENTRYPOINT: a JSON array of strings as given, else the shell
    form. Text that is not JSON is the shell form, as docker has it; JSON
    that is not an array of strings is an error, as docker has it too."""
    value = _json_list(word, rest)
    return value if value is not None else ["/bin/sh", "-c", rest]


def _json_list(word: str, rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except (ValueError, RecursionError):   # not JSON (or nested past the parser's depth): not the exec form
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidChange(f"{word} {_shown(rest)}: when using JSON array syntax, arrays must be comprised "
                            f"of strings only", word)
    if any("\0" in v for v in value):
        raise InvalidChange(f"{word} {_shown(rest)}: contains a NUL character", word)
    return value


def pairs(word: str, rest: str) -> list[tuple[str, str]]:
    """ENV/LABEL: `K=V K2="V 2"`, or ENV's old `K V` form."""
    try:
        parts = shlex.split(rest)
    except ValueError as e:
        raise InvalidChange(f"{word} {_shown(rest)}: {e}", word) from None
    if word == "ENV" and parts and "=" not in parts[0]:
        key_value = rest.split(None, 1)
        if len(key_value) < 2:
            raise InvalidChange(f"{word} {_shown(rest)}: expected KEY=VALUE (or KEY VALUE)", word)
        return [(key_value[0], key_value[1].strip())]
    out = []
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise InvalidChange(f"{word} {_shown(rest)}: expected KEY=VALUE", word)
        out.append((key, value))
    return out


def exposed_ports(rest: str) -> list[str]:
    """EXPOSE: `80 443/tcp 53/udp 8000-8010`, as `port[-end]/proto` keys."""
    out = []
    for port in rest.split():
        m = _PORT.fullmatch(port)
        if not m:
            raise InvalidChange(f"EXPOSE {_shown(rest)}: invalid port {_shown(port)!r}", "EXPOSE")
        start, end, proto = m.group(1), m.group(2), (m.group(3) or "tcp").lower()
        if int(start) > 65535 or (end is not None and not int(start) <= int(end) <= 65535):
            raise InvalidChange(f"EXPOSE {_shown(rest)}: invalid port range {port!r}", "EXPOSE")
        if proto not in PROTOCOLS:
            raise InvalidChange(f"EXPOSE {_shown(rest)}: invalid protocol {proto!r} in {port!r} "
                                f"(one of {', '.join(PROTOCOLS)})", "EXPOSE")
        out.append(f"{start}-{end}/{proto}" if end is not None else f"{start}/{proto}")
    return out


def volumes(rest: str) -> list[str]:
    """VOLUME: a JSON array, else paths separated by white space."""
    paths = _json_list("VOLUME", rest)
    if paths is None:
        paths = rest.split()
    if not paths or any(not p.strip() for p in paths):
        raise InvalidChange(f"VOLUME {_shown(rest)}: a volume cannot be an empty string", "VOLUME")
    return paths


def apply_changes(config: dict, changes: list[tuple[str, str]]) -> dict:
    """A copy of the image config `config` (docker's Config object) with
    the changes applied in order."""
    config = json.loads(json.dumps(config))
    for word, rest in changes:
        if word in ("CMD", "ENTRYPOINT"):
            config["Cmd" if word == "CMD" else "Entrypoint"] = exec_form(word, rest)
        elif word == "ENV":
            env = list(config.get("Env") or [])
            for key, value in pairs(word, rest):
                env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
            config["Env"] = env
        elif word == "LABEL":
            config["Labels"] = {**(config.get("Labels") or {}), **dict(pairs(word, rest))}
        elif word == "WORKDIR":
            config["WorkingDir"] = posixpath.normpath(posixpath.join(config.get("WorkingDir") or "/", rest))
        elif word == "USER":
            config["User"] = rest
        elif word == "STOPSIGNAL":
            config["StopSignal"] = rest
        elif word == "EXPOSE":
            config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}), **{p: {} for p in exposed_ports(rest)}}
        elif word == "VOLUME":
            config["Volumes"] = {**(config.get("Volumes") or {}), **{p: {} for p in volumes(rest)}}
        else:
            raise InvalidChange(f"{_shown(str(word))} is not a valid change command", str(word))
    return config
