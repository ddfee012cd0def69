"""Platforms (os/architecture/variant) and how a manifest list entry is
chosen for one, as containerd's platform matcher does: names normalized
(x86_64 is amd64, aarch64 is arm64), arm64's variant defaults to v8 and
arm's to v7, and an exact variant is preferred to a compatible one."""
from __future__ import annotations


_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
                 "armel": "arm", "i386": "386", "i686": "386"}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}
# variants an arm CPU of a given variant can run, best first
_ARM_COMPATIBLE = {"v8": ("v8", "v7", "v6", "v5"), "v7": ("v7", "v6", "v5"), "v6": ("v6", "v5"), "v5": ("v5",)}


class InvalidPlatform(ValueError):
    pass


class Platform:
    __slots__ = ("os", "architecture", "variant")

    def __init__(self, os: str, architecture: str, variant: str = ""):
        self.os = os.lower()
        arch = architecture.lower()
        self.architecture = _ARCH_ALIASES.get(arch, arch)
        self.variant = variant.lower() if variant else ""
        if arch == "aarch64" and not self.variant:
            self.variant = "v8"

    def normalized_variant(self) -> str:
        return self.variant or _DEFAULT_VARIANT.get(self.architecture, "")

    def __str__(self) -> str:
        out = f"{self.os}/{self.architecture}"
        return f"{out}/{self.variant}" if self.variant else out

    def __repr__(self) -> str:
        return f"Platform({str(self)!r})"

    def __eq__(self, other) -> bool:
        return (isinstance(other, Platform) and (self.os, self.architecture, self.normalized_variant())
                == (other.os, other.architecture, other.normalized_variant()))

    def __hash__(self) -> int:
        return hash((self.os, self.architecture, self.normalized_variant()))

    def as_dict(self) -> dict:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        return out


def parse(text: str) -> Platform:
    """`linux/arm64`, `linux/arm/v7`, `linux/amd64`: as `--platform` takes it."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidPlatform(f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/arm64")
    return Platform(*parts)


def from_dict(data: dict, where: str = "platform") -> Platform:
    if not isinstance(data, dict):
        raise InvalidPlatform(f"{where}: expected an object")
    for key in ("os", "architecture"):
        if not isinstance(data.get(key), str) or not data.get(key):
            raise InvalidPlatform(f"{where}.{key}: expected a non-empty string")
    variant = data.get("variant") or ""
    if not isinstance(variant, str):
        raise InvalidPlatform(f"{where}.variant: expected a string")
    return Platform(data["os"], data["architecture"], variant)


def host() -> Platform:
    """The platform of this machine, as a pull selects it by default."""
    import os   # uname() is what the platform module reads, without its import (~2 ms of a start)
    uname = os.uname()
    machine = uname.machine.lower()
    arch = _ARCH_ALIASES.get(machine, machine)
    variant = _DEFAULT_VARIANT.get(arch, "")
    if arch == "arm" and machine.startswith("armv") and machine[4:5].isdigit():
        variant = "v" + machine[4]
    return Platform(uname.sysname.lower() or "linux", arch, variant)


def match_rank(wanted: Platform, offered: Platform) -> int | None:
    """0 for an exact match, higher for a compatible one, None if it cannot run."""
    if wanted.os != offered.os or wanted.architecture != offered.architecture:
        return None
    want, got = wanted.normalized_variant(), offered.normalized_variant()
    if want == got:
        return 0
    if wanted.architecture == "arm" and want in _ARM_COMPATIBLE and got in _ARM_COMPATIBLE[want]:
        return _ARM_COMPATIBLE[want].index(got)
    if not wanted.variant:
        return 1  # no variant asked for: any variant of the architecture will do
    return None
