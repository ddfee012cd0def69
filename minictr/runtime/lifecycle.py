"""The OCI lifecycle (runtime.md): create, start, state, kill, delete.

Same contract as runc: after `create` the container's init exists in its
namespaces and cgroups and blocks on exec.fifo; `start` opens the fifo's
other end; the status is read from the kernel; `delete` removes what
`create` made and runs the poststop hooks.
"""
from __future__ import annotations

from minictr import jsonio
import os
from minictr.runtime import signals
import sys
import time

from minictr.oci.runtime_config import Config, ConfigError, load_bundle_config
from minictr import explain
from minictr.runtime import cgroups
from minictr.runtime.cgroups import warmup
from minictr.runtime import devices as devmod
from minictr.runtime import host_mounts
from minictr.runtime import mount_options as mo
from minictr.runtime.errors import ContainerNotFound, ContainerStopped, RuntimeFailure
from minictr.runtime.hooks import hook_dicts, run_hooks
from minictr.runtime.plan import MountStep, plan_container
from minictr.runtime.spawn import Callbacks, spawn
from minictr.clock import now_rfc3339
from minictr.runtime.state import (ContainerState, StateStore, oci_state, proc_alive, wait_dead,
                                   proc_start_time, status)


def warn(message: str) -> None:
    sys.stderr.write(f"minictr-runtime: warning: {message}\n")


def write_pid_file(path: str | None, pid: int) -> None:
    """Written atomically, as engines poll for it."""
    if not path:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.replace(tmp, path)


def _cgroup_mount_steps(mgr, cgroupns: bool):
    def expand(destination: str, options: list[str]) -> list[MountStep]:
        steps = []
        for m in mgr.mounts_for_container(cgroupns, destination, options):
            opts = mo.parse(m.get("flags", []))
            if m.get("bind"):
                steps.append(MountStep(m["source"], m["destination"], "bind", "", opts.flags | mo.MS_BIND,
                                       opts.propagation, is_bind=True))
            else:
                steps.append(MountStep(m["source"], m["destination"], m["type"], m.get("data") or opts.data,
                                       opts.flags, opts.propagation,
                                       remount_readonly=m["type"] == "tmpfs" and bool(opts.flags & mo.MS_RDONLY)))
        return steps
    return expand


def resolve_rootfs(config: Config, bundle: str) -> str:
    rootfs = os.path.join(bundle, config.root_path)  # an absolute root.path stays as it is
    if not os.path.isdir(rootfs):
        raise ConfigError("root.path", f"rootfs {rootfs} does not exist or is not a directory")
    return os.path.realpath(rootfs)


def _write_id_maps(pid: int, config: Config) -> None:
    for kind, mappings in (("uid_map", config.linux.uid_mappings), ("gid_map", config.linux.gid_mappings)):
        if not mappings:
            raise ConfigError(f"linux.{'uidMappings' if kind == 'uid_map' else 'gidMappings'}",
                              "a new user namespace needs id mappings")
        text = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings)
        explain.step(f"write /proc/{pid}/{kind}", text.strip().replace("\n", "; "))
        with open(f"/proc/{pid}/{kind}", "w") as f:
            f.write(text)


def _host_root(config: Config) -> tuple[int, int]:
    """The host ids of the container's root, as uid/gid maps place it."""
    def host(mappings) -> int:
        for m in mappings or []:
            if m.container_id <= 0 < m.container_id + m.size:
                return m.host_id - m.container_id
        return 0
    return host(config.linux.uid_mappings), host(config.linux.gid_mappings)


def _set_oom_score_adj(pid: int, value: int | None) -> None:
    if value is None:
        return
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write(str(value))
    except PermissionError:
        # A negative value needs CAP_SYS_RESOURCE, missing on some hosts.
        warn(f"process.oomScoreAdj: {value} refused by the kernel (CAP_SYS_RESOURCE missing); left unchanged")


def remove_state_dir(path: str) -> None:
    """The state dir is flat (state.json, exec.fifo, the hooks' state files):
    no need for shutil.rmtree and its import cost."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(path, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def _connect_console(path: str) -> int:
    import socket
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise RuntimeFailure(f"--console-socket {path}: {e.strerror}") from None
    return sock.detach()


def create(store: StateStore, container_id: str, bundle: str, pid_file: str | None = None,
           console_socket: str | None = None, console_fd: int = -1, preserve_fds: int = 0,
           no_pivot: bool = False, config: Config | None = None, launch=None) -> ContainerState:
    """Everything is checked before anything is made; on any failure after
    that, everything made so far is removed again. `launch` (spawn.Launch):
    the init becomes the child of a per-container shim (the engine's way)."""
    bundle_path = os.path.realpath(bundle)
    config = config or load_bundle_config(bundle_path)
    rootfs = resolve_rootfs(config, bundle_path)
    if config.process is None:
        raise ConfigError("process", "is required to create a container")
    if config.process.terminal and console_socket is None and console_fd < 0:
        raise RuntimeFailure("cannot allocate tty if the runtime will detach without setting console socket")
    if not config.process.terminal and console_socket is not None:
        raise RuntimeFailure("cannot use console socket if the runtime will not allocate tty (process.terminal is false)")
    store.dir(container_id)  # validates the id before any work
    if os.path.exists(os.path.join(store.dir(container_id), "state.json")):
        raise RuntimeFailure(f"container with id exists: {container_id}")
    resources = dict(config.linux.resources)
    resources["devices"] = devmod.cgroup_rules(resources.get("devices") or [], config.linux.devices)
    limits = cgroups.parse_limits(resources)
    mgr = cgroups.open_manager(config.linux.cgroups_path, container_id)
    new_cgroupns = any(ns.type == "cgroup" and ns.path is None for ns in config.linux.namespaces)
    plan = plan_container(config, bundle_path, rootfs, _cgroup_mount_steps(mgr, new_cgroupns), store.seccomp_cache)
    plan.no_pivot = no_pivot
    plan.preserve_fds = preserve_fds
    for w in plan.warnings:
        warn(w)
    hooks = config.hooks
    plan.parent_hooks = bool(hooks["prestart"] or hooks["createRuntime"] or hooks["createContainer"]
                             or hooks["startContainer"])
    plan.start_hooks = hooks["startContainer"]
    plan.create_hooks = hooks["createContainer"]

    state_dir = store.reserve(container_id)
    made_cgroup = False
    fds: list[int] = []
    init_pid = 0
    try:
        fifo = os.path.join(state_dir, "exec.fifo")
        os.mkfifo(fifo, 0o622)
        os.chmod(fifo, 0o622)  # not narrowed by the umask
        uid, gid = _host_root(config)
        if (uid, gid) != (0, 0):
            os.chown(fifo, uid, gid)  # the init opens it as the container's root
        plan.exec_fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        fds.append(plan.exec_fifo_fd)
        if console_socket is not None:
            plan.console_fd = _connect_console(console_socket)
            fds.append(plan.console_fd)
        elif console_fd >= 0:
            plan.console_fd = console_fd
        # the init reads these before pivot_root, for the hooks it runs itself
        plan.state_json = os.path.join(state_dir, "hook-state.json")
        plan.create_state_json = os.path.join(state_dir, "create-hook-state.json")
        created = now_rfc3339()
        st = ContainerState(
            id=container_id, pid=0, bundle=bundle_path, rootfs=rootfs, created=created,
            init_start_time=None, config_path=os.path.join(bundle_path, "config.json"), annotations=config.annotations,
            cgroup=mgr.to_state(), hooks={k: hook_dicts(hooks[k]) for k in ("poststart", "poststop")},
            namespaces=[{"type": ns.type, "path": ns.path} for ns in config.linux.namespaces],
            process=config.raw.get("process") or {}, seccomp=config.linux.seccomp)

        def on_stage1(pid: int) -> None:
            if plan.wait_for_userns_maps:
                _write_id_maps(pid, config)

        def on_init(pid: int) -> None:
            # made only now, as runc does: the init mounts meanwhile, up to
            # the mounts of these cgroups (see cgroups.warmup for the stall)
            nonlocal made_cgroup
            explain.step("mkdir cgroup", f"{mgr.describe()}: limits and accounting for the container")
            made_cgroup = True
            mgr.create()
            mgr.apply(limits)
            explain.step("write cgroup.procs", f"pid {pid} joins the container's cgroups while it mounts")
            mgr.add(pid)
            _set_oom_score_adj(pid, config.process.oom_score_adj)

        def on_hooks(pid: int) -> None:
            st.pid = pid
            state = oci_state(st, "creating")
            for path, phase in ((plan.create_state_json, "creating"), (plan.state_json, "created")):
                with open(path, "w") as f:
                    f.write(jsonio.dumps({**state, "status": phase}))
            # prestart sees "created", as the runtime-tools suite checks (runc
            # passes "creating"); createContainer hooks: the init runs those
            run_hooks("prestart", hook_dicts(hooks["prestart"]), {**state, "status": "created"})
            run_hooks("createRuntime", hook_dicts(hooks["createRuntime"]), state)

        init_pid = spawn(plan, Callbacks(on_stage1=on_stage1, on_init=on_init, on_hooks=on_hooks), wait_exec=False,
                         launch=launch)
        st.pid = init_pid
        st.init_start_time = proc_start_time(init_pid)
        st.cgroup = mgr.to_state()  # with the directories create() made
        store.save(st)
        write_pid_file(pid_file, init_pid)
        return st
    except BaseException:
        if init_pid:
            _kill_quietly(init_pid, signals.SIGKILL)
        if made_cgroup:
            _kill_cgroup(mgr)
            _destroy_quietly(mgr)
        if plan.share_host_mounts:
            host_mounts.unmount_under(rootfs)
        remove_state_dir(state_dir)
        raise
    finally:
        warmup.finish()
        for fd in fds:
            os.close(fd)


def _kill_quietly(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_cgroup(mgr) -> None:
    try:
        mgr.kill_all(signals.SIGKILL)
    except OSError:
        pass


def _destroy_quietly(mgr) -> None:
    try:
        mgr.destroy()
    except OSError as e:
        warn(f"cgroup cleanup: {e}")


def _load(store: StateStore, container_id: str):
    st = store.load(container_id)
    mgr = cgroups.from_state(st.cgroup) if st.cgroup else None
    return st, mgr


def start(store: StateStore, container_id: str) -> None:
    lock = store.lock(container_id)
    try:
        st, mgr = _load(store, container_id)
        current = status(store, st, mgr)
        if current != "created":
            what = "stopped" if current == "stopped" else "running"
            raise RuntimeFailure(f"cannot start a container that is {what}" if what == "stopped"
                                 else "cannot start an already running container")
        fifo = store.fifo_path(container_id)
        explain.step("open(exec.fifo, O_RDONLY)", "releases the init blocked on the other end; it execs now")
        import select
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            while True:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    data = os.read(fd, 1)
                    if data:
                        break
                if not proc_alive(st.pid, st.init_start_time):
                    raise RuntimeFailure("cannot start a container that has stopped")
        finally:
            os.close(fd)
        os.unlink(fifo)
        st.started = True
        store.save(st)
        for i, h in enumerate(st.hooks.get("poststart", [])):
            try:
                run_hooks("poststart", [h], oci_state(st, "running"))
            except RuntimeFailure as e:
                warn(str(e))
    finally:
        os.close(lock)


def state(store: StateStore, container_id: str) -> dict:
    st, mgr = _load(store, container_id)
    return oci_state(st, status(store, st, mgr))


def kill(store: StateStore, container_id: str, sig: int, all_processes: bool = False) -> None:
    st, mgr = _load(store, container_id)
    current = status(store, st, mgr)
    if current == "stopped" and not all_processes:
        raise ContainerStopped("container not running")
    if all_processes and mgr is not None:
        mgr.kill_all(sig)
        return
    explain.step(f"kill({st.pid}, {sig})", "signal the container's init")
    try:
        os.kill(st.pid, sig)
    except ProcessLookupError:
        raise RuntimeFailure("container not running") from None


def delete(store: StateStore, container_id: str, force: bool = False) -> None:
    try:
        lock = store.lock(container_id)
    except ContainerNotFound:
        if force:
            return
        raise
    try:
        try:
            st, mgr = _load(store, container_id)
        except ContainerNotFound:
            # an aborted create left a dir without state: nothing to stop
            remove_state_dir(store.dir(container_id))
            if force:
                return
            raise
        current = status(store, st, mgr)
        if current in ("running", "paused") and not force:
            raise RuntimeFailure(f"cannot delete container {container_id} that is not stopped: {current}")
        if current != "stopped":
            if current == "paused" and mgr is not None:
                mgr.thaw()
            explain.step(f"kill({st.pid}, SIGKILL)", "delete: the container must be stopped first")
            _kill_quietly(st.pid, signals.SIGKILL)
            if mgr is not None:
                _kill_cgroup(mgr)
            if not wait_dead(st.pid, st.init_start_time, reap=True):
                raise RuntimeFailure(f"container {container_id}: init (pid {st.pid}) did not die after SIGKILL")
        if mgr is not None:
            if mgr.pids():
                _kill_cgroup(mgr)  # no pid namespace: stragglers outlive the init
                deadline = time.monotonic() + 5
                while mgr.pids() and time.monotonic() < deadline:
                    time.sleep(0.005)
            explain.step("rmdir cgroup", "the container's cgroups go with it")
            _destroy_quietly(mgr)
        if host_mounts.shares_host_mounts(st.namespaces):
            host_mounts.unmount_under(st.rootfs)
        for h in st.hooks.get("poststop", []):
            try:
                run_hooks("poststop", [h], oci_state(st, "stopped"))
            except RuntimeFailure as e:
                warn(str(e))
        remove_state_dir(store.dir(container_id))
    finally:
        os.close(lock)
