"""Pay the first cgroup migration's stall before the container needs it.

The first task migration of a burst costs ~10 ms: the kernel's global
cgroup threadgroup lock (a percpu rwsem) has to wait for an RCU grace period
before a writer may take it. Writers that follow within a grace period or
two are fast. So as soon as the CLI knows it will create a container (or
exec into one) it starts a thread that makes a scratch cgroup beside its own
in the v1 cpu hierarchy and moves itself (only that thread: v1 `tasks`
takes thread ids) into it. Meanwhile the interpreter imports and plans.
The lock stays warm only for a grace period or two after its last writer
(~20-30 ms measured here), and a start takes longer than that to reach its
own cgroup.procs writes: so the thread moves itself again every few ms
(a move into the cgroup it is in still takes the lock as a writer; while
warm that is fast) until `finish()`, which the runtime calls once the
container has joined its cgroups. (While the first move waits, the kernel
holds cgroup_mutex and every fork on the host waits too: so the runtime
only clones the container's process, and makes its cgroups, after the
imports and planning.) `finish()` removes the scratch cgroup once the
thread is gone; one left by a SIGKILLed runtime is swept by the next
`finish()`.

Only an optimisation: any failure is ignored. Unified (v2-only) hosts are
skipped: there a thread cannot move alone outside a threaded subtree.
"""
from __future__ import annotations

import os

from minictr.runtime.cgroups.hierarchy import own_cgroups

PREFIX = ".minictr-warm-"
KEEP_WARM_EVERY = 0.004   # s between the thread's moves: well inside a grace period
KEEP_WARM_MAX = 3.0       # s at most, whatever happens to the caller
_scratch: str | None = None
_done = None  # a lock the thread releases when it has stopped (or failed)
_wake = None  # a lock finish() releases to stop the thread


def _cpu_parent() -> str | None:
    """Our own cgroup's directory in the v1 cpu hierarchy, if mounted."""
    try:
        own = own_cgroups()
    except OSError:
        return None
    for controllers, path in own.items():
        if "cpu" in controllers.split(","):
            for mount in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
                d = mount + path.rstrip("/")
                if os.path.exists(os.path.join(d, "tasks")):
                    return d
    return None


def _sweep(parent: str) -> None:
    """Scratch cgroups of runtimes that died before their finish()."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if name.startswith(PREFIX):
            pid = name[len(PREFIX):]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                try:
                    os.rmdir(os.path.join(parent, name))
                except OSError:
                    pass


def start() -> None:
    global _scratch, _done, _wake
    if _scratch is not None:
        return
    parent = _cpu_parent()
    if parent is None:
        return
    import _thread
    scratch = os.path.join(parent, f"{PREFIX}{os.getpid()}")
    done, wake = _thread.allocate_lock(), _thread.allocate_lock()
    done.acquire()
    wake.acquire()   # released by finish(): the thread stops at once

    def keep_warm():
        me = str(_thread.get_native_id()).encode()
        try:
            os.mkdir(scratch)
            fd = os.open(os.path.join(scratch, "tasks"), os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, me)               # the stall, paid here
                for _ in range(int(KEEP_WARM_MAX / KEEP_WARM_EVERY)):
                    if wake.acquire(timeout=KEEP_WARM_EVERY):
                        break
                    os.write(fd, me)           # fast while warm, and keeps it warm
            finally:
                os.close(fd)
            _write(os.path.join(parent, "tasks"), me)   # back out: the scratch cgroup can go at once
        except OSError:
            pass
        finally:
            done.release()
    _scratch, _done, _wake = scratch, done, wake
    _thread.start_new_thread(keep_warm, ())


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def finish() -> None:
    """Stop the thread and remove the scratch cgroup; the thread has moved
    back out (if that failed, it leaves by exiting, which can take a
    moment: retry briefly)."""
    global _scratch
    scratch, _scratch = _scratch, None
    if scratch is None:
        return
    _wake.release()
    _done.acquire()
    import time
    for _ in range(200):
        try:
            os.rmdir(scratch)
            break
        except FileNotFoundError:
            break
        except OSError:
            time.sleep(0.001)
    _sweep(os.path.dirname(scratch))
