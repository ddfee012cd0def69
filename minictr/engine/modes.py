"""How a container shares a namespace, docker's `--network`, `--ipc`,
`--pid` and `--uts` values, parsed in one place into a small record:

    --network  bridge | none | host | container:X | a network's name
    --ipc      "" (private) | private | shareable | none | host | container:X
    --pid      "" (private) | host | container:X
    --uts      "" (private) | host  (container:X too, for pods; not a docker CLI value)
    any        ns:PATH  (podman's: the namespace file of a process, such as a pod's sandbox)

The spec keeps the text the user gave (docker's HostConfig shows it so);
every decision is taken on the parsed mode."""
from __future__ import annotations

from minictr.engine.errors import InvalidOption
from minictr.records import dataclass

PRIVATE = ""
HOST = "host"
CONTAINER = "container"
NONE = "none"
BRIDGE = "bridge"
NAMED = "network"           # a user-defined network, by name or ID
SHAREABLE = "shareable"
PATH = "ns"                 # ns:/proc/PID/ns/TYPE, joined as it is

_WORDS = {"network": "network", "ipc": "IPC", "pid": "PID", "uts": "UTS"}
_KINDS = {
    "network": (BRIDGE, NONE, HOST, CONTAINER, NAMED),
    "ipc": (PRIVATE, "private", SHAREABLE, NONE, HOST, CONTAINER),
    "pid": (PRIVATE, HOST, CONTAINER),
    "uts": (PRIVATE, HOST, CONTAINER),
}


@dataclass(frozen=True)
class Mode:
    kind: str
    target: str = ""        # the container (container:X) or the network's name

    @property
    def joins(self) -> bool:
        """Shares another container's namespace."""
        return self.kind == CONTAINER

    @property
    def private(self) -> bool:
        """A namespace of its own (private, shareable, none, a bridge)."""
        return self.kind not in (HOST, CONTAINER, PATH)


def parse(flag: str, text: str) -> Mode:
    """`flag` is network, ipc, pid or uts; an unknown value is an InvalidOption
    naming the flag, as docker's CLI says it."""
    kinds = _KINDS[flag]
    if text.startswith("ns:"):
        path = text[3:]
        if not path.startswith("/"):
            raise InvalidOption(f"--{flag}: ns: needs an absolute path to a namespace file")
        return Mode(PATH, path)
    if text.startswith("container:"):
        target = text.split(":", 1)[1]
        if CONTAINER not in kinds:
            raise _invalid(flag)
        if not target:
            raise InvalidOption(f"--{flag}: container: needs a container name or ID")
        return Mode(CONTAINER, target)
    if flag == "network":
        if text in ("bridge", "default"):
            return Mode(BRIDGE)
        if text in (NONE, HOST):
            return Mode(text)
        if not text:
            return Mode(BRIDGE)
        return Mode(NAMED, text)
    if text == "private":
        text = PRIVATE
    if text not in kinds:
        raise _invalid(flag)
    return Mode(text)


def _invalid(flag: str) -> InvalidOption:
    """docker's CLI words (opts.ValidateIpcMode and its siblings)."""
    return InvalidOption(f"--{flag}: invalid {_WORDS[flag]} mode")


def network(text: str) -> Mode:
    return parse("network", text)
