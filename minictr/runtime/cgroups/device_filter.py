"""linux.resources.devices on cgroup v2: an eBPF device program.

cgroup v2 has no devices controller. The kernel asks a
BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup about every
open or mknod of a device node; it returns 1 to allow, 0 to deny. The
program is generated here from the rules, with the same meaning as the v1
devices.allow/deny writes: the rules apply in order, a later one overriding
an earlier one, and anything no rule matches is denied.

The program tests the rules last to first and returns at the first match:

    r2 = ctx->access_type & 0xffff      device type (1 block, 2 char)
    r3 = ctx->access_type >> 16         access (1 mknod, 2 read, 4 write)
    r4 = ctx->major; r5 = ctx->minor
    per rule: type, access, major, minor compared; all equal -> return allow
    return 0
"""
from __future__ import annotations

import os
import struct

from minictr.runtime.cgroups.files import CgroupError

# struct bpf_insn: u8 code, u8 dst:4|src:4, s16 off, s32 imm
_INSN = struct.Struct("<BBhi")

_LDX_MEM_W = 0x61     # BPF_LDX | BPF_MEM | BPF_W
_ALU32_AND_K = 0x54   # BPF_ALU | BPF_AND | BPF_K
_ALU32_RSH_K = 0x74   # BPF_ALU | BPF_RSH | BPF_K
_ALU32_MOV_X = 0xBC   # BPF_ALU | BPF_MOV | BPF_X
_ALU64_MOV_K = 0xB7   # BPF_ALU64 | BPF_MOV | BPF_K
_JMP_JNE_K = 0x55     # BPF_JMP | BPF_JNE | BPF_K
_EXIT = 0x95          # BPF_JMP | BPF_EXIT

_DEV_TYPE = {"b": 1, "c": 2}
_ACCESS = {"m": 1, "r": 2, "w": 4}


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return _INSN.pack(code, (src << 4) | dst, off, imm)


def _rule_block(rule) -> list[tuple]:
    """Instructions for one rule, as (code, dst, src, off, imm) with off=None
    meaning 'jump to the next rule' (patched once the block's length is known)."""
    checks = []
    if rule.type in _DEV_TYPE:
        checks.append((_JMP_JNE_K, 2, 0, None, _DEV_TYPE[rule.type]))
    allowed = 0
    for ch in rule.access or "rwm":
        allowed |= _ACCESS.get(ch, 0)
    if allowed != 7:
        # requested access must be a subset of the rule's: (r3 & ~allowed) == 0
        checks += [(_ALU32_MOV_X, 6, 3, 0, 0), (_ALU32_AND_K, 6, 0, 0, ~allowed & 0x7FFFFFFF),
                   (_JMP_JNE_K, 6, 0, None, 0)]
    if rule.type != "a" and rule.major >= 0:
        checks.append((_JMP_JNE_K, 4, 0, None, rule.major))
    if rule.type != "a" and rule.minor >= 0:
        checks.append((_JMP_JNE_K, 5, 0, None, rule.minor))
    return checks + [(_ALU64_MOV_K, 0, 0, 0, 1 if rule.allow else 0), (_EXIT, 0, 0, 0, 0)]


def program(rules: list) -> bytes:
    """The BPF instructions for `rules` (resources.DeviceRule, in config order)."""
    out = [
        _insn(_LDX_MEM_W, 2, 1, 0), _insn(_ALU32_AND_K, 2, 0, 0, 0xFFFF),
        _insn(_LDX_MEM_W, 3, 1, 0), _insn(_ALU32_RSH_K, 3, 0, 0, 16),
        _insn(_LDX_MEM_W, 4, 1, 4), _insn(_LDX_MEM_W, 5, 1, 8),
    ]
    for rule in reversed(rules):
        block = _rule_block(rule)
        for i, (code, dst, src, off, imm) in enumerate(block):
            if off is None:
                off = len(block) - i - 1  # past the block's last instruction
            out.append(_insn(code, dst, src, off, imm))
        if len(block) == 2:
            # matches everything: nothing after it can run, and the
            # verifier refuses unreachable instructions
            return b"".join(out)
    out += [_insn(_ALU64_MOV_K, 0, 0, 0, 0), _insn(_EXIT)]
    return b"".join(out)


def attach(cgroup_dir: str, rules: list) -> None:
    """Load the program for `rules` and attach it to the cgroup at cgroup_dir."""
    from minictr._native._shim import ffi, lib

    code = program(rules)
    insns = ffi.from_buffer(code)
    log = ffi.new("char[]", 65536)
    prog = lib.mc_bpf_load_device_prog(insns, len(code) // _INSN.size, log, 65536)
    if prog < 0:
        err = ffi.errno
        detail = ffi.string(log).decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise CgroupError(f"linux.resources.devices: loading the device program: {os.strerror(err)} "
                          f"{detail[0]}".strip())
    try:
        cg = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if lib.mc_bpf_attach_device_prog(cg, prog) < 0:
                raise CgroupError(f"linux.resources.devices: attaching the device program to {cgroup_dir}: "
                                  f"{os.strerror(ffi.errno)}")
        finally:
            os.close(cg)
    finally:
        os.close(prog)  # the cgroup keeps the program alive
