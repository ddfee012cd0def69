"""The low-level runtime a container runs under: ours, in this process (the
default: no second interpreter start), or any runc-compatible binary given
with `--runtime PATH`, driven through the same verbs podman and docker use
(create under the shim as conmon does, start, state, kill, delete, pause,
resume). The bundle is the same either way.

Both keep no state between calls but where the runtime itself keeps it
(its state dir): a create hands back a `Launched` that the caller adopts
or abandons, so threads of one process (a CRI server) can start
containers side by side through one driver. The declared interface is
minictr.engine.interfaces.RuntimeDriver."""
from __future__ import annotations

import os

from minictr import jsonio
from minictr.engine.bundle import cgroups_path
from minictr.engine.errors import EngineError, RuntimeCreateFailed
from minictr.engine.launch import ShimStart, _fresh_dir, exit_command
from minictr.engine.layout import log_file, run_root
from minictr.engine.shim import CreateFailed, ShimOptions, start
from minictr.records import dataclass
from minictr.runtime import cgroups
from minictr.runtime.errors import ContainerNotFound, RuntimeFailure
from minictr.runtime.state import proc_start_time
from minictr.runtime.state import status as runtime_status


@dataclass(frozen=True)
class RuntimeState:
    """What the runtime says of a container (runc's `state`)."""
    status: str                 # created | running | paused | stopped
    pid: int
    start_time: str | None      # the init's start time (/proc/PID/stat), to tell a reused pid


class Launched:
    """One created container under its shim, until the caller adopts it
    (the network is ready: the shim may watch the process) or abandons it
    (the start failed: the shim goes)."""

    def __init__(self, pid: int, shim_pid: int, shim=None):
        self.pid = pid
        self.shim_pid = shim_pid
        self._shim = shim       # ours: the launch's fds (engine.launch.ShimStart); None for --runtime

    def adopt(self) -> None:
        shim, self._shim = self._shim, None
        if shim is None:
            return              # --runtime: the shim adopted the init when the runtime's create exited
        try:
            shim.send_pid(self.pid)
            if not shim.wait_ready():
                raise EngineError("the container's shim did not start")
        except BaseException:
            shim.abandon()
            raise

    def abandon(self) -> None:
        shim, self._shim = self._shim, None
        if shim is not None:
            shim.abandon()


class InProcess:
    """minictr's own runtime, called as a library."""

    def __init__(self, store):
        self.store = store      # minictr.runtime.state.StateStore

    def create(self, root: str, rec, paths) -> Launched:
        """Creates under a new shim."""
        from minictr.runtime import lifecycle  # ~3 ms of imports: ps and inspect only ask for state()
        shim = ShimStart(root, paths, rec.spec, oom_file=oom_file(rec.id, rec.spec.cgroup_parent))
        try:
            st = lifecycle.create(self.store, rec.id, paths.bundle, console_fd=shim.console_fd, launch=shim.launch)
            shim.close_container_ends()
            return Launched(st.pid, shim.shim_pid, shim)
        except BaseException:
            shim.abandon()
            raise

    def start(self, container_id: str) -> None:
        from minictr.runtime import lifecycle  # heavy, as in create()
        lifecycle.start(self.store, container_id)

    def state(self, container_id: str) -> RuntimeState | None:
        """None if the runtime knows no such container."""
        try:
            st = self.store.load(container_id)
        except ContainerNotFound:
            return None
        mgr = cgroups.from_state(st.cgroup) if st.cgroup else None
        return RuntimeState(runtime_status(self.store, st, mgr), st.pid, st.init_start_time)

    def kill(self, container_id: str, sig: int, all_processes: bool = False) -> None:
        from minictr.runtime import lifecycle  # heavy, as in create()
        lifecycle.kill(self.store, container_id, sig, all_processes=all_processes)

    def delete(self, container_id: str) -> None:
        from minictr.runtime import lifecycle  # heavy, as in create()
        lifecycle.delete(self.store, container_id, force=True)

    def pause(self, container_id: str) -> None:
        from minictr.runtime import control  # ~12 ms (the events stream's imports): pause/unpause only
        control.pause(self.store, container_id)

    def resume(self, container_id: str) -> None:
        from minictr.runtime import control  # as in pause()
        control.resume(self.store, container_id)

    def update(self, container_id: str, resources: dict) -> None:
        from minictr.runtime import control  # as in pause()
        control.update(self.store, container_id, resources)


class External:
    """A runc-compatible binary: the shim runs its `create` as conmon does
    and adopts the container's init when that exits."""

    def __init__(self, binary: str, run_root: str):
        import shutil  # --runtime only
        path = binary if os.path.sep in binary else (shutil.which(binary) or binary)
        if not os.access(path, os.X_OK):
            raise EngineError(f"--runtime {binary}: not an executable file")
        self.binary = path
        self.root = os.path.join(run_root, "runtime-" + os.path.basename(path))

    def _run(self, *args: str, check: bool = True):
        import subprocess  # only --runtime containers pay for it
        res = subprocess.run([self.binary, "--root", self.root, *args], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True)
        if check and res.returncode != 0:
            raise EngineError(f"{os.path.basename(self.binary)} {args[0]}: "
                              f"{(res.stderr or res.stdout).strip() or 'exit ' + str(res.returncode)}")
        return res

    def create(self, root: str, rec, paths) -> Launched:
        spec = rec.spec
        _fresh_dir(paths.run_dir)
        pid_file = os.path.join(paths.run_dir, "runtime.pid")
        console = os.path.join(paths.run_dir, "console.sock") if spec.tty else None
        command = [self.binary, "--root", self.root, "create", "--bundle", paths.bundle, "--pid-file", pid_file]
        if console:
            command += ["--console-socket", console]
        opts = ShimOptions(dir=paths.run_dir, log_path=log_file(paths, spec), log_max_size=spec.log_max_size,
                           log_max_file=spec.log_max_file, exit_command=exit_command(root, rec.id),
                           terminal=spec.tty, stdin=spec.open_stdin, oom_file=oom_file(rec.id, rec.spec.cgroup_parent),
                           log_format=spec.log_format)
        try:
            proc = start(opts, command + [rec.id], runtime_pid_file=pid_file, console_socket=console)
        except CreateFailed as e:
            raise RuntimeCreateFailed(f"{os.path.basename(self.binary)} create: {e}", _program_code(str(e))) from None
        with open(pid_file) as f:
            return Launched(int(f.read().strip()), proc.pid)

    def start(self, container_id: str) -> None:
        self._run("start", container_id)

    def state(self, container_id: str) -> RuntimeState | None:
        res = self._run("state", container_id, check=False)
        if res.returncode != 0:
            return None
        doc = jsonio.loads(res.stdout)
        pid = int(doc.get("pid") or 0)
        return RuntimeState(doc.get("status", "stopped"), pid, proc_start_time(pid) if pid else None)

    def kill(self, container_id: str, sig: int, all_processes: bool = False) -> None:
        res = self._run("kill", *(["--all"] if all_processes else []), container_id, str(sig), check=False)
        if res.returncode != 0:
            raise RuntimeFailure(res.stderr.strip() or "container not running")

    def delete(self, container_id: str) -> None:
        self._run("delete", "--force", container_id, check=False)

    def pause(self, container_id: str) -> None:
        self._run("pause", container_id)

    def resume(self, container_id: str) -> None:
        self._run("resume", container_id)

    def update(self, container_id: str, resources: dict) -> None:
        import json   # --runtime only
        import subprocess  # --runtime only
        res = subprocess.run([self.binary, "--root", self.root, "update", "--resources", "-", container_id],
                             input=json.dumps(resources), capture_output=True, text=True)
        if res.returncode != 0:
            raise EngineError(f"{os.path.basename(self.binary)} update: {(res.stderr or res.stdout).strip()}")


def _program_code(runtime_words: str) -> int | None:
    """What docker's daemon reads from a runc-compatible runtime's create
    error (it has no other channel): 127 for a program that is not there,
    126 for one that cannot be executed."""
    low = runtime_words.lower()
    if "no such file or directory" in low or "not found" in low:
        return 127
    if "permission denied" in low or "is a directory" in low:
        return 126
    return None


class Drivers:
    """One driver per runtime a container names, made on first use."""

    def __init__(self, root: str, store):
        self.root = root
        self.store = store
        self._made: dict = {}

    def for_spec(self, spec):
        key = spec.runtime
        driver = self._made.get(key)
        if driver is None:
            driver = self._made[key] = External(key, run_root(self.root)) if key else InProcess(self.store)
        return driver


def oom_file(container_id: str, cgroup_parent: str = "") -> str | None:
    """The file where the kernel will count the container's OOM kills (its
    cgroup is made by the runtime, at the path the bundle names): the shim
    reads it at the start and at the exit, for State.OOMKilled."""
    try:
        return cgroups.open_manager(cgroups_path(container_id, cgroup_parent), container_id).oom_file()
    except (OSError, cgroups.CgroupError):
        return None
