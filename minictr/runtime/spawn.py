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

from minictr import explain
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


@dataclass
class Launch:
    """Start the init under a per-container shim (the engine's case) rather
    than as our grandchild: the shim's executable and argv, the fds to
    become the container's stdio, the fds the shim keeps. `shim_pid` is
    filled in by spawn()."""
    path: str
    argv: list
    stdio: tuple = (-1, -1, -1)
    keep: tuple = ()
    shim_pid: int = 0


def _start_stage1(lib, struct_, child_fd: int, launch: Launch | None):
    if launch is None:
        return lib.mc_spawn(struct_, child_fd), None
    from minictr._native._shim import ffi
    args = [ffi.new("char[]", os.fsencode(a)) for a in [launch.path, *launch.argv]]
    argv = ffi.new("char *[]", args + [ffi.NULL])
    keep = ffi.new("int[]", list(launch.keep) or [0])
    spec = ffi.new("struct mc_launch *", {"shim_path": args[0], "shim_argv": argv, "stdio": list(launch.stdio),
                                          "keep": keep, "keep_count": len(launch.keep)})
    return lib.mc_spawn_under_shim(struct_, child_fd, spec), (args, argv, keep, spec)


def spawn(plan: Plan, callbacks: Callbacks, wait_exec: bool, launch: Launch | None = None) -> int:
    """Start the process the plan describes; returns its pid (host pid ns).

    wait_exec: for `exec`, wait until execve has happened (the sync socket
    closes on exec) so a missing binary is reported here. For a container's
    init, return once it waits on the exec fifo. With `launch`, stage 1 is
    the shim's child, not ours: we never wait for it, and on failure the
    shim is killed instead."""
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
    stage1, launch_keeper = _start_stage1(lib, struct_, child_fd, launch)
    err = ffi_errno()
    os.close(child_fd)
    if plan.explain_fd >= 0:
        os.close(plan.explain_fd)
    if stage1 < 0:
        parent.close()
        raise SpawnFailure(f"fork: {os.strerror(err)}")
    init_pid = 0
    stage1_reaped = launch is not None  # the shim reaps it
    if launch is not None:
        launch.shim_pid = stage1
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
                if not stage1_reaped:
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
                at_exec = text.startswith("exec: ")
                if err == errno_mod.ENOENT and at_exec:
                    raise SpawnFailure(f"{text}: no such file or directory" if "not found" not in text else text,
                                       err, at_exec)
                raise SpawnFailure(f"{text}: {reason}", err, at_exec)
    except BaseException:
        for pid in (init_pid, stage1 if launch is not None else 0):
            if pid:
                try:
                    os.kill(pid, 9)
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
        del keeper, launch_keeper


def ffi_errno() -> int:
    from minictr._native._shim import ffi
    return ffi.errno
