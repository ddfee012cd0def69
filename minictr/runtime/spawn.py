"""The parent's half of the spawn protocol (cshim/plan.h, `enum mc_sync_type`).

The C stages ask the parent for the things only it can do: write
user-namespace id maps (STAGE1_READY), put the init into the cgroups while
it makes its mounts (INIT_PID, answered by INIT_GO), run the createRuntime
hooks before pivot_root (HOOKS). Any error from inside arrives
as one ERROR message with errno and what failed.
"""
from __future__ import annotations

import errno as errno_mod
import fcntl
import os
# _socket, not socket: the wrapper module builds enums at import (~2.5 ms
# of every container start) and we need only a socketpair.
import _socket
import struct
import sys
from minictr.records import dataclass

from minictr.runtime import explain
from minictr.runtime.errors import SpawnFailure
from minictr.runtime.plan import Plan, to_struct

STAGE1_READY, STAGE1_GO, INIT_PID, HOOKS, HOOKS_DONE, READY, ERROR, WARNING, INIT_GO = range(1, 10)
_MSG = struct.Struct("iii500s")


@dataclass
class Callbacks:
    """What the parent does at each sync point; each may raise to abort."""
    on_stage1: Callable[[int], None] = lambda pid: None
    on_init: Callable[[int], None] = lambda pid: None
    on_hooks: Callable[[int], None] = lambda pid: None


def _send(sock, kind: int) -> None:
    sock.send(_MSG.pack(kind, 0, 0, b""))


def _high_fd(fd: int, above: int) -> int:
    """Move an fd out of the range the container keeps (stdio + preserved)."""
    if fd >= above:
        return fd
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, above)
    os.close(fd)
    return new


def spawn(plan: Plan, callbacks: Callbacks, wait_exec: bool) -> int:
    """Start the process the plan describes; returns its pid (host pid ns).

    wait_exec: for `exec`, wait until execve has happened (the sync socket
    closes on exec) so a missing binary is reported here. For a container's
    init, return once it waits on the exec fifo."""
    from minictr._native._shim import lib

    keep_from = 3 + max(plan.preserve_fds, 0)
    parent, child = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    child_fd = _high_fd(child.detach(), keep_from)
    for name in ("exec_fifo_fd", "console_fd"):
        fd = getattr(plan, name)
        if fd >= 0:
            setattr(plan, name, _high_fd(fd, keep_from))
    plan.explain_fd = explain.fd()
    if plan.explain_fd >= 0:
        plan.explain_fd = fcntl.fcntl(plan.explain_fd, fcntl.F_DUPFD_CLOEXEC, keep_from)
    struct_, keeper = to_struct(plan)
    stage1 = lib.mc_spawn(struct_, child_fd)
    err = ffi_errno()
    os.close(child_fd)
    if plan.explain_fd >= 0:
        os.close(plan.explain_fd)
    if stage1 < 0:
        parent.close()
        raise SpawnFailure(f"fork: {os.strerror(err)}")
    init_pid = 0
    stage1_reaped = False
    try:
        while True:
            data = parent.recv(_MSG.size)
            if not data:
                if wait_exec and init_pid:
                    return init_pid  # execve closed the socket: the program runs
                raise SpawnFailure("container process exited before it was set up")
            kind, value, err, text = _MSG.unpack(data)
            text = text.split(b"\0", 1)[0].decode(errors="replace")
            if kind == STAGE1_READY:
                callbacks.on_stage1(value)
                _send(parent, STAGE1_GO)
            elif kind == INIT_PID:
                init_pid = value
                callbacks.on_init(init_pid)
                _send(parent, INIT_GO)
                os.waitpid(stage1, 0)
                stage1_reaped = True
            elif kind == HOOKS:
                callbacks.on_hooks(init_pid)
                _send(parent, HOOKS_DONE)
            elif kind == READY:
                if not wait_exec:
                    return init_pid
            elif kind == WARNING:
                sys.stderr.write(f"minictr-runtime: warning: {text}\n")
            elif kind == ERROR:
                reason = os.strerror(err) if err else "failed"
                if err == errno_mod.ENOENT and text.startswith("exec: "):
                    raise SpawnFailure(f"{text}: no such file or directory" if "not found" not in text else text)
                raise SpawnFailure(f"{text}: {reason}")
    except BaseException:
        if init_pid:
            try:
                os.kill(init_pid, 9)
            except ProcessLookupError:
                pass
        raise
    finally:
        parent.close()
        if not stage1_reaped:
            try:
                os.kill(stage1, 9)
            except ProcessLookupError:
                pass
            os.waitpid(stage1, 0)
        del keeper


def ffi_errno() -> int:
    from minictr._native._shim import ffi
    return ffi.errno
