"""`run` (create + start + wait) and `exec` (a new process inside a running
container: its namespaces, its cgroups, its seccomp filter)."""
from __future__ import annotations

import os

from minictr.oci.runtime_config import ConfigError, Process, parse_process
from minictr.runtime import cgroups, foreground, lifecycle
from minictr.runtime.cgroups import warmup
from minictr.runtime.errors import ContainerStopped, RuntimeFailure
from minictr.runtime.plan import NS_FLAGS, NS_PROC_NAMES, Plan, plan_process
from minictr.runtime.spawn import Callbacks, spawn
from minictr.runtime.state import StateStore, status


def run(store: StateStore, container_id: str, bundle: str, detach: bool = False, pid_file: str | None = None,
        console_socket: str | None = None, preserve_fds: int = 0, no_pivot: bool = False,
        keep: bool = False) -> int:
    if detach:
        lifecycle.create(store, container_id, bundle, pid_file, console_socket, preserve_fds=preserve_fds,
                         no_pivot=no_pivot)
        try:
            lifecycle.start(store, container_id)
        except BaseException:
            lifecycle.delete(store, container_id, force=True)
            raise
        return 0
    foreground.become_subreaper()
    proxy = None
    console_fd = -1
    ours = None
    from minictr.oci.runtime_config import load_bundle_config
    config = load_bundle_config(bundle)
    if console_socket is None and config.process is not None and config.process.terminal:
        ours, console_fd = foreground.console_pair()
    try:
        st = lifecycle.create(store, container_id, bundle, pid_file, console_socket, console_fd=console_fd,
                              preserve_fds=preserve_fds, no_pivot=no_pivot, config=config)
    finally:
        if console_fd >= 0:
            os.close(console_fd)
    try:
        if ours is not None:
            proxy = foreground.TerminalProxy(foreground.receive_master(ours))
            ours.close()
            proxy.start()
        lifecycle.start(store, container_id)
        code = foreground.wait_forwarding(st.pid, proxy.master if proxy else None)
        _report_oom(st)
    finally:
        if proxy is not None:
            proxy.finish()
        if not keep:
            lifecycle.delete(store, container_id, force=True)
    return code


def _report_oom(st) -> None:
    """runc is silent here; a user whose container got 137 wants to know why."""
    if not st.cgroup:
        return
    try:
        if cgroups.from_state(st.cgroup).oom_kill_count() > 0:
            lifecycle.warn(f"container {st.id} was OOM-killed: it reached its memory limit")
    except OSError:
        pass


def process_from_args(base: dict, args: list[str], env: list[str], cwd: str | None, user: str | None,
                      tty: bool, caps: list[str], no_new_privs: bool, additional_gids: list[int]) -> Process:
    """runc's argv form of exec: the container's own process, with overrides."""
    obj = dict(base)
    obj["args"] = args
    obj["terminal"] = tty
    if env:
        merged = {e.split("=", 1)[0]: e for e in obj.get("env") or []}
        merged.update({e.split("=", 1)[0]: e for e in env})
        obj["env"] = list(merged.values())
    if cwd:
        obj["cwd"] = cwd
    if user:
        uid, _, gid = user.partition(":")
        try:
            obj["user"] = {"uid": int(uid), "gid": int(gid or 0)}
        except ValueError:
            raise RuntimeFailure(f"--user {user!r}: expected UID[:GID] as numbers") from None
    if additional_gids:
        obj.setdefault("user", {})["additionalGids"] = additional_gids
    if caps:
        c = {k: list(v) for k, v in (obj.get("capabilities") or {}).items()}
        for kind in ("bounding", "effective", "permitted", "ambient", "inheritable"):
            if kind in ("inheritable", "ambient") and kind not in c:
                continue
            c.setdefault(kind, [])
            c[kind] += [x for x in caps if x not in c[kind]]
        obj["capabilities"] = c
    if no_new_privs:
        obj["noNewPrivileges"] = True
    return parse_process(obj, "process")


def load_process_file(path: str) -> Process:
    from minictr import jsonio
    try:
        with open(path) as f:
            obj = jsonio.loads(f.read())
    except OSError as e:
        raise RuntimeFailure(f"--process {path}: {e.strerror}") from None
    except ValueError as e:
        raise ConfigError("", f"--process {path}: invalid JSON: {e}") from None
    return parse_process(obj, "process")


def exec_process(store: StateStore, container_id: str, process: Process, detach: bool = False,
                 pid_file: str | None = None, console_socket: str | None = None, preserve_fds: int = 0) -> int:
    st = store.load(container_id)
    mgr = cgroups.from_state(st.cgroup) if st.cgroup else None
    current = status(store, st, mgr)
    if current == "stopped":
        raise ContainerStopped("cannot exec in a stopped container")
    if current == "paused":
        raise RuntimeFailure("cannot exec in a paused container")
    if process.terminal and detach and console_socket is None:
        raise RuntimeFailure("cannot allocate tty if the runtime will detach without setting console socket")
    plan = Plan(setup_rootfs=False, preserve_fds=preserve_fds)
    for ns in st.namespaces:
        path = f"/proc/{st.pid}/ns/{NS_PROC_NAMES[ns['type']]}"
        plan.namespaces.append((NS_FLAGS[ns["type"]], path))
    plan_process(plan, process, st.seccomp, store.seccomp_cache)
    for w in plan.warnings:
        lifecycle.warn(w)
    ours = None
    if console_socket is not None:
        plan.console_fd = lifecycle._connect_console(console_socket)
    elif process.terminal:
        ours, plan.console_fd = foreground.console_pair()
    if not detach:
        foreground.become_subreaper()

    def on_init(pid: int) -> None:
        if mgr is not None:
            mgr.add(pid)

    try:
        pid = spawn(plan, Callbacks(on_init=on_init), wait_exec=True)
    finally:
        warmup.finish()
        if plan.console_fd >= 0:
            os.close(plan.console_fd)
    lifecycle.write_pid_file(pid_file, pid)
    if detach:
        return 0
    proxy = None
    if ours is not None:
        proxy = foreground.TerminalProxy(foreground.receive_master(ours))
        ours.close()
        proxy.start()
    try:
        return foreground.wait_forwarding(pid, proxy.master if proxy else None)
    finally:
        if proxy is not None:
            proxy.finish()
