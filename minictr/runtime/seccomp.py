"""linux.seccomp compiled to a BPF program with libseccomp, in the runtime
process: the C shim only loads the bytes with seccomp(2) just before execve.
Unknown syscall names are skipped as runc does, so one profile fits many
kernels and architectures."""
from __future__ import annotations

import errno
import os

from minictr.oci.runtime_config import ConfigError

ACT_KILL_THREAD = 0x00000000
ACT_KILL_PROCESS = 0x80000000
ACT_TRAP = 0x00030000
ACT_ERRNO = 0x00050000
ACT_TRACE = 0x7FF00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000

OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
       "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}
ATTR_ACT_BADARCH = 2
ATTR_CTL_NNP = 3


def action(name, errno_ret, field: str) -> int:
    if not isinstance(name, str):
        raise ConfigError(field, "must be a string like SCMP_ACT_ERRNO")
    if errno_ret is not None and (isinstance(errno_ret, bool) or not isinstance(errno_ret, int) or errno_ret < 0):
        raise ConfigError(field.rsplit(".", 1)[0] + ".errnoRet", "must be a non-negative integer")
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return ACT_KILL_THREAD
    if name == "SCMP_ACT_KILL_PROCESS":
        return ACT_KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return ACT_TRAP
    if name == "SCMP_ACT_ERRNO":
        return ACT_ERRNO | ((errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if name == "SCMP_ACT_TRACE":
        return ACT_TRACE | ((errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if name == "SCMP_ACT_LOG":
        return ACT_LOG
    if name == "SCMP_ACT_ALLOW":
        return ACT_ALLOW
    if name == "SCMP_ACT_NOTIFY":
        raise ConfigError(field, "SCMP_ACT_NOTIFY (seccomp user notification) is not supported")
    raise ConfigError(field, f"unknown seccomp action {name!r}")


def check_args(args, field: str) -> list[tuple[int, int, int, int]]:
    out = []
    for i, a in enumerate(args or []):
        where = f"{field}[{i}]"
        if not isinstance(a, dict):
            raise ConfigError(where, "must be an object")
        index, op = a.get("index"), a.get("op")
        if not isinstance(index, int) or not 0 <= index <= 5:
            raise ConfigError(f"{where}.index", "must be 0..5")
        if op not in OPS:
            raise ConfigError(f"{where}.op", f"unknown comparison {op!r}")
        value, two = a.get("value", 0), a.get("valueTwo", 0)
        for key, v in (("value", value), ("valueTwo", two)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"{where}.{key}", "must be a non-negative integer")
        out.append((index, OPS[op], value, two))
    return out


def compile_filter(profile: dict) -> tuple[bytes, int]:
    """Returns the BPF program and the seccomp(2) flags."""
    from minictr._native._shim import ffi, lib

    if not isinstance(profile, dict):
        raise ConfigError("linux.seccomp", "must be an object")
    default = action(profile.get("defaultAction"), profile.get("defaultErrnoRet"), "linux.seccomp.defaultAction")
    flags = 0
    for i, name in enumerate(profile.get("flags") or []):
        if name not in FLAGS:
            raise ConfigError(f"linux.seccomp.flags[{i}]", f"unknown flag {name!r}")
        flags |= FLAGS[name]
    ctx = lib.seccomp_init(default)
    if ctx == ffi.NULL:
        raise ConfigError("linux.seccomp.defaultAction", "libseccomp refused the default action")
    try:
        lib.seccomp_attr_set(ctx, ATTR_CTL_NNP, 0)  # no_new_privs is the process's own setting
        lib.seccomp_attr_set(ctx, ATTR_ACT_BADARCH, ACT_KILL_PROCESS)
        for i, arch in enumerate(profile.get("architectures") or []):
            if not isinstance(arch, str) or not arch.startswith("SCMP_ARCH_"):
                raise ConfigError(f"linux.seccomp.architectures[{i}]", f"unknown architecture {arch!r}")
            token = lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode())
            if token == 0:
                raise ConfigError(f"linux.seccomp.architectures[{i}]", f"unknown architecture {arch!r}")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc not in (0, -errno.EEXIST):
                raise ConfigError(f"linux.seccomp.architectures[{i}]", f"libseccomp: {os.strerror(-rc)}")
        for i, rule in enumerate(profile.get("syscalls") or []):
            _add_rule(ctx, rule, default, f"linux.seccomp.syscalls[{i}]", ffi, lib)
        return _export(ctx, lib), flags
    finally:
        lib.seccomp_release(ctx)


def _add_rule(ctx, rule, default: int, field: str, ffi, lib) -> None:
    if not isinstance(rule, dict):
        raise ConfigError(field, "must be an object")
    names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
    if not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{field}.names", "must be a non-empty array of syscall names")
    act = action(rule.get("action"), rule.get("errnoRet"), f"{field}.action")
    if act == default:
        return  # libseccomp refuses rules that change nothing
    args = check_args(rule.get("args"), f"{field}.args")
    # libseccomp takes one comparison per argument in a rule: repeated
    # indexes become separate rules (any of them matching), as in runc
    indexes = [a[0] for a in args]
    groups = [args] if len(set(indexes)) == len(indexes) else [[a] for a in args]
    for name in names:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            continue  # unknown on this kernel or architecture
        for group in groups:
            arr = ffi.new("struct scmp_arg_cmp[]", max(len(group), 1))
            for j, (index, op, value, two) in enumerate(group):
                arr[j].arg, arr[j].op, arr[j].datum_a, arr[j].datum_b = index, op, value, two
            rc = lib.seccomp_rule_add_array(ctx, act, nr, len(group), arr)
            if rc < 0 and rc != -errno.EEXIST:
                raise ConfigError(f"{field}", f"libseccomp refused the rule for {name}: {os.strerror(-rc)}")


def _export(ctx, lib) -> bytes:
    fd = os.memfd_create("minictr-seccomp", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise ConfigError("linux.seccomp", f"libseccomp could not build the filter: {os.strerror(-rc)}")
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


_compiled: dict[str, tuple[bytes, int]] = {}


def filter_digest(profile: dict) -> str:
    """What the compiled filter depends on: the profile, the machine and the
    libseccomp release (whose syscall tables resolve the names)."""
    from minictr import jsonio
    from minictr._native._shim import lib
    try:
        from _sha256 import sha256   # the builtin: hashlib's OpenSSL import costs ~3 ms of a start
    except ImportError:
        from hashlib import sha256
    v = lib.seccomp_version()
    key = jsonio.dumps([profile, os.uname().machine, [v.major, v.minor, v.micro]])
    return sha256(key.encode()).hexdigest()


def compile_cached(profile: dict, cache_dir: str | None) -> tuple[bytes, int]:
    """compile_filter once per profile digest: libseccomp takes 8-18 ms for
    docker's default profile, a start reads ~8 KB from the cache instead.
    The cache is only an optimisation: a damaged or missing entry is rebuilt."""
    if not isinstance(profile, dict):
        raise ConfigError("linux.seccomp", "must be an object")
    digest = filter_digest(profile)
    hit = _compiled.get(digest)
    if hit is not None:
        return hit
    path = os.path.join(cache_dir, digest) if cache_dir else None
    if path:
        try:
            with open(path, "rb") as f:
                data = f.read()
            flags, bpf = int.from_bytes(data[:4], "little"), data[4:]
            if bpf and len(bpf) % 8 == 0:
                _compiled[digest] = (bpf, flags)
                return bpf, flags
        except OSError:
            pass
    bpf, flags = compile_filter(profile)
    _compiled[digest] = (bpf, flags)
    if path:
        try:
            os.makedirs(cache_dir, mode=0o700, exist_ok=True)
            tmp = f"{path}.tmp-{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(flags.to_bytes(4, "little") + bpf)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only or full root only costs the next start a compile
    return bpf, flags
