"""A docker-format seccomp profile (the built-in default or a user's file)
resolved for one container into the plain `linux.seccomp` of its bundle:
rules whose capabilities, architectures or kernel version do not match are
left out, as dockerd does before it hands a spec to runc."""
from __future__ import annotations

import os

from minictr import jsonio
from minictr.engine.errors import EngineError
from minictr.engine.seccomp_default import PROFILE
from minictr.oci.runtime_config import ConfigError
from minictr.runtime import seccomp as rt

# the kernel's machine names in docker's (Go's) spelling
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i386": "386", "i686": "386", "armv7l": "arm",
           "armv6l": "arm", "s390x": "s390x", "ppc64le": "ppc64le", "riscv64": "riscv64",
           "mips64": "mips64", "loongarch64": "loong64"}
SECCOMP_ARCH = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "386": "SCMP_ARCH_X86",
                "arm": "SCMP_ARCH_ARM", "s390x": "SCMP_ARCH_S390X", "ppc64le": "SCMP_ARCH_PPC64LE",
                "riscv64": "SCMP_ARCH_RISCV64", "mips64": "SCMP_ARCH_MIPS64", "loong64": "SCMP_ARCH_LOONGARCH64"}


def native_arch() -> str:
    machine = os.uname().machine
    return GO_ARCH.get(machine, machine)


def _kernel_at_least(minimum: str, release: str) -> bool:
    def numbers(text: str) -> tuple[int, ...]:
        out = []
        for part in text.split("-")[0].split(".")[:3]:
            digits = "".join(ch for ch in part if ch.isdigit())
            out.append(int(digits) if digits else 0)
        return tuple(out)
    return numbers(release) >= numbers(minimum)


def read_profile_file(path: str) -> str:
    """The file's text, checked to be a profile (docker reads it on the
    client too, so a restart does not depend on the file staying)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise EngineError(f"opening seccomp profile ({path}) failed: {getattr(e, 'strerror', None) or e}")
    parse_profile(text, path)
    return text


def parse_profile(text: str, source: str) -> dict:
    try:
        profile = jsonio.loads(text)
    except jsonio.JSONError as e:
        raise EngineError(f"seccomp profile {source}: line {e.line} column {e.column}: {e.msg}") from None
    if not isinstance(profile, dict):
        raise EngineError(f"seccomp profile {source}: must be a JSON object")
    if not isinstance(profile.get("defaultAction"), str):
        raise EngineError(f"seccomp profile {source}: defaultAction: must be a string like SCMP_ACT_ERRNO")
    for key in ("syscalls", "architectures", "archMap", "flags"):
        if profile.get(key) is not None and not isinstance(profile[key], list):
            raise EngineError(f"seccomp profile {source}: {key}: must be an array")
    for i, rule in enumerate(profile.get("syscalls") or []):
        where = f"seccomp profile {source}: syscalls[{i}]"
        if not isinstance(rule, dict):
            raise EngineError(f"{where}: must be an object")
        names = rule.get("names") if rule.get("names") is not None else ([rule["name"]] if rule.get("name") else None)
        if not names or not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise EngineError(f"{where}.names: must be a non-empty array of system call names")
        if not isinstance(rule.get("action"), str):
            raise EngineError(f"{where}.action: must be a string like SCMP_ACT_ALLOW")
        for key in ("includes", "excludes"):
            if rule.get(key) is not None and not isinstance(rule[key], dict):
                raise EngineError(f"{where}.{key}: must be an object")
        if rule.get("args") is not None and not isinstance(rule["args"], list):
            raise EngineError(f"{where}.args: must be an array")
        _check_with_runtime(lambda: rt.action(rule["action"], rule.get("errnoRet"), "action"), where)
        _check_with_runtime(lambda: rt.check_args(rule.get("args"), "args"), where)
    _check_with_runtime(lambda: rt.action(profile["defaultAction"], profile.get("defaultErrnoRet"),
                                          "defaultAction"), f"seccomp profile {source}")
    return profile


def _check_with_runtime(check, where: str) -> None:
    """The runtime's own checks of actions and arguments, worded for the file."""
    try:
        check()
    except ConfigError as e:
        raise EngineError(f"{where}.{e}") from None


def _architectures(profile: dict, arch: str) -> list[str]:
    if profile.get("archMap"):
        native = SECCOMP_ARCH.get(arch)
        for entry in profile["archMap"]:
            if isinstance(entry, dict) and entry.get("architecture") == native:
                return [native] + list(entry.get("subArchitectures") or [])
        return []
    return list(profile.get("architectures") or [])


def _applies(rule: dict, caps: set[str], arch: str, kernel: str) -> bool:
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if inc.get("caps") and not all(c in caps for c in inc["caps"]):
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if inc.get("minKernel") and not _kernel_at_least(str(inc["minKernel"]), kernel):
        return False
    if exc.get("caps") and any(c in caps for c in exc["caps"]):
        return False
    if exc.get("arches") and arch in exc["arches"]:
        return False
    return True


def resolve(profile: dict, caps: list[str], arch: str | None = None, kernel: str | None = None) -> dict:
    """The OCI `linux.seccomp` for a container with these capabilities."""
    arch = arch or native_arch()
    kernel = kernel or os.uname().release
    capset = set(caps)
    out: dict = {"defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches = _architectures(profile, arch)
    if arches:
        out["architectures"] = arches
    if profile.get("flags"):
        out["flags"] = list(profile["flags"])
    rules = []
    for rule in profile.get("syscalls") or []:
        if not _applies(rule, capset, arch, kernel):
            continue
        names = rule.get("names") if rule.get("names") is not None else [rule["name"]]
        plain = {"names": list(names), "action": rule["action"]}
        if rule.get("args"):
            plain["args"] = list(rule["args"])
        if rule.get("errnoRet") is not None:
            plain["errnoRet"] = rule["errnoRet"]
        rules.append(plain)
    out["syscalls"] = rules
    return out


def default_profile() -> dict:
    return PROFILE
