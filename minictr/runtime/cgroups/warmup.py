"""Pay the first cgroup migration's stall before the container needs it.

The first task migration of a burst costs ~10 ms: the kernel's global
cgroup threadgroup lock (a percpu rwsem) has to wait for an RCU grace period
before a writer may take it. Writers that follow within a grace period or
two are fast. So as soon as the CLI knows it will create a container (or
exec into one) it starts a thread that makes a scratch cgroup beside its own
in the v1 cpu hierarchy and moves itself (only that thread: v1 `tasks`
takes thread ids) into it; the thread then exits. Meanwhile the interpreter
imports and plans, and the container's own cgroup.procs writes find the
lock warm. (While the thread waits, the kernel holds cgroup_mutex and every
fork on the host waits too: so the runtime only clones the container's
process, and makes its cgroups, after the imports and planning.)
`finish()` removes the scratch cgroup once the thread is gone; one left by
a SIGKILLed runtime is swept by the next `finish()`.

Only an optimisation: any failure is ignored. Unified (v2-only) hosts are
skipped: there a thread cannot move alone outside a threaded subtree.
"""
from __future__ import annotations

import os

from minictr.runtime.cgroups.hierarchy import own_cgroups

PREFIX = ".minictr-warm-"
_scratch: str | None = None
_done = None  # a lock the thread releases when it has moved (or failed)


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
    global _scratch, _done
    if _scratch is not None:
        return
    parent = _cpu_parent()
    if parent is None:
        return
    import _thread
    scratch = os.path.join(parent, f"{PREFIX}{os.getpid()}")
    done = _thread.allocate_lock()
    done.acquire()

    def move_self():
        try:
            os.mkdir(scratch)
            fd = os.open(os.path.join(scratch, "tasks"), os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, str(_thread.get_native_id()).encode())
            finally:
                os.close(fd)
        except OSError:
            pass
        finally:
            done.release()
    _scratch, _done = scratch, done
    _thread.start_new_thread(move_self, ())


def finish() -> None:
    """Remove the scratch cgroup; the thread has left it by exiting (an
    exiting thread can take a moment to leave: retry briefly)."""
    global _scratch
    scratch, _scratch = _scratch, None
    if scratch is None:
        return
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
