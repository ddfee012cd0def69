"""The low-level runtime a container runs under: ours, in this process (the
default: no second interpreter start), or any runc-compatible binary given
with `--runtime PATH`, driven through the same verbs podman and docker use
(create under the shim as conmon does, start, state, kill, delete, pause,
resume). The bundle is the same either way."""
from __future__ import annotations

import os

from minictr.engine.errors import EngineError


class InProcess:
    """minictr's own runtime, called as a library."""

    def __init__(self, store):
        self.store = store
        self._pending = None   # the shim launched by create(), until adopt()

    def abandon(self) -> None:
        """A start failed between create() and adopt(): the shim goes."""
        if self._pending is not None:
            self._pending.abandon()
            self._pending = None

    def create(self, engine, rec, paths) -> tuple[int, int]:
        """Creates under a new shim; returns (container pid, shim pid)."""
        from minictr.engine.launch import ShimStart
        from minictr.runtime import lifecycle
        shim = ShimStart(engine.root, paths, rec.spec, oom_file=oom_file(rec.id))
        try:
            st = lifecycle.create(self.store, rec.id, paths.bundle, console_fd=shim.console_fd, launch=shim.launch)
            shim.close_container_ends()
            self._pending = shim
            return st.pid, shim.shim_pid
        except BaseException:
            shim.abandon()
            raise

    def adopt(self, pid: int) -> None:
        """The network is ready: the shim may start watching the process."""
        shim, self._pending = self._pending, None
        try:
            shim.send_pid(pid)
            if not shim.wait_ready():
                raise EngineError("the container's shim did not start")
        except BaseException:
            shim.abandon()
            raise

    def start(self, container_id: str) -> None:
        from minictr.runtime import lifecycle
        lifecycle.start(self.store, container_id)

    def state(self, container_id: str) -> tuple[str, int, str | None] | None:
        """(status, pid, pid start time), None if the runtime knows no such container."""
        from minictr.runtime import cgroups
        from minictr.runtime.errors import ContainerNotFound
        from minictr.runtime.state import status
        try:
            st = self.store.load(container_id)
        except ContainerNotFound:
            return None
        mgr = cgroups.from_state(st.cgroup) if st.cgroup else None
        return status(self.store, st, mgr), st.pid, st.init_start_time

    def kill(self, container_id: str, sig: int, all_processes: bool = False) -> None:
        from minictr.runtime import lifecycle
        lifecycle.kill(self.store, container_id, sig, all_processes=all_processes)

    def delete(self, container_id: str) -> None:
        from minictr.runtime import lifecycle
        lifecycle.delete(self.store, container_id, force=True)

    def pause(self, container_id: str) -> None:
        from minictr.runtime import control
        control.pause(self.store, container_id)

    def resume(self, container_id: str) -> None:
        from minictr.runtime import control
        control.resume(self.store, container_id)


class External:
    """A runc-compatible binary: the shim runs its `create` as conmon does
    and adopts the container's init when that exits."""

    def __init__(self, binary: str, run_root: str):
        import shutil
        path = binary if os.path.sep in binary else (shutil.which(binary) or binary)
        if not os.access(path, os.X_OK):
            raise EngineError(f"--runtime {binary}: not an executable file")
        self.binary = path
        self.root = os.path.join(run_root, "runtime-" + os.path.basename(path))

    def _run(self, *args: str, check: bool = True):
        import subprocess   # only --runtime containers pay for it
        res = subprocess.run([self.binary, "--root", self.root, *args], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True)
        if check and res.returncode != 0:
            raise EngineError(f"{os.path.basename(self.binary)} {args[0]}: "
                              f"{(res.stderr or res.stdout).strip() or 'exit ' + str(res.returncode)}")
        return res

    def create(self, engine, rec, paths) -> tuple[int, int]:
        from minictr.engine.launch import _fresh_dir, exit_command
        from minictr.engine.shim import CreateFailed, ShimOptions, start
        spec = rec.spec
        _fresh_dir(paths.run_dir)
        pid_file = os.path.join(paths.run_dir, "runtime.pid")
        console = os.path.join(paths.run_dir, "console.sock") if spec.tty else None
        command = [self.binary, "--root", self.root, "create", "--bundle", paths.bundle, "--pid-file", pid_file]
        if console:
            command += ["--console-socket", console]
        opts = ShimOptions(dir=paths.run_dir, log_path=paths.log, log_max_size=spec.log_max_size,
                           log_max_file=spec.log_max_file, exit_command=exit_command(engine.root, rec.id),
                           terminal=spec.tty, stdin=spec.open_stdin, oom_file=oom_file(rec.id))
        try:
            proc = start(opts, command + [rec.id], runtime_pid_file=pid_file, console_socket=console)
        except CreateFailed as e:
            raise EngineError(f"{os.path.basename(self.binary)} create: {e}") from None
        with open(pid_file) as f:
            return int(f.read().strip()), proc.pid

    def adopt(self, pid: int) -> None:
        pass   # the shim adopted the init when the runtime's create exited

    def abandon(self) -> None:
        pass

    def start(self, container_id: str) -> None:
        self._run("start", container_id)

    def state(self, container_id: str) -> tuple[str, int, str | None] | None:
        from minictr import jsonio
        from minictr.runtime.state import proc_start_time
        res = self._run("state", container_id, check=False)
        if res.returncode != 0:
            return None
        doc = jsonio.loads(res.stdout)
        pid = int(doc.get("pid") or 0)
        return doc.get("status", "stopped"), pid, proc_start_time(pid) if pid else None

    def kill(self, container_id: str, sig: int, all_processes: bool = False) -> None:
        from minictr.runtime.errors import RuntimeFailure
        res = self._run("kill", *(["--all"] if all_processes else []), container_id, str(sig), check=False)
        if res.returncode != 0:
            raise RuntimeFailure(res.stderr.strip() or "container not running")

    def delete(self, container_id: str) -> None:
        self._run("delete", "--force", container_id, check=False)

    def pause(self, container_id: str) -> None:
        self._run("pause", container_id)

    def resume(self, container_id: str) -> None:
        self._run("resume", container_id)


def oom_file(container_id: str) -> str | None:
    """The file where the kernel will count the container's OOM kills (its
    cgroup is made by the runtime, at the path the bundle names): the shim
    reads it at the start and at the exit, for State.OOMKilled."""
    from minictr.engine.bundle import cgroups_path
    from minictr.runtime import cgroups
    try:
        return cgroups.open_manager(cgroups_path(container_id), container_id).oom_file()
    except (OSError, cgroups.CgroupError):
        return None
