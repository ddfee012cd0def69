"""Starting a container's process under its shim, with the runtime running
in this process (no second Python start on the hot path).

The runtime plans and drives the spawn as always; the C launcher
(cshim/launch.c) makes the forked stage 1 a child of a fresh process that
then becomes `minictr-shim`, so the init ends up as the shim's child. The
pipes made here are the container's stdio; the shim keeps the other ends.
The init's pid reaches the shim on a pipe once the runtime knows it; if we
die before that, the shim sees EOF there, kills what it holds and runs the
exit command (the cleanup), so nothing is left behind."""
from __future__ import annotations

import _socket
import os
import select
import sys

from minictr import explain
from minictr.engine.layout import ContainerPaths, log_file
from minictr.engine.shim import ShimOptions
from minictr.engine.spec import ContainerSpec
from minictr.runtime.spawn import Launch


def exit_command(root: str, container_id: str) -> list[str]:
    """What the shim runs when the container exits: our own cleanup."""
    return [sys.executable, "-m", "minictr.engine.exit_cleanup", root, container_id]


def _fresh_dir(run_dir: str) -> None:
    """The shim's dir, without what an earlier run of the container left."""
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    for stale in ("exit", "attach", "shim.pid", "create-error"):
        try:
            os.unlink(os.path.join(run_dir, stale))
        except FileNotFoundError:
            pass


class ShimStart:
    """The fds of one launch. `launch` goes to the runtime's create; after
    it returned, close_container_ends(); send_pid(); wait_ready()."""

    def __init__(self, root: str, paths: ContainerPaths, spec: ContainerSpec, oom_file: str | None = None):
        self._theirs: list[int] = []     # the shim's ends (and the container's), closed once it has them
        self.console_fd = -1
        _fresh_dir(paths.run_dir)
        pid_r, self.pid_w = self._pipe()
        self.ready_r, ready_w = self._pipe()
        fds: dict = {"pid_fd": pid_r, "ready_fd": ready_w}
        stdio = [-1, -1, -1]
        if spec.tty:
            ours, shims = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
            self.console_fd = ours.detach()
            fds["console_fd"] = shims.detach()
        else:
            out_r, stdio[1] = self._pipe()
            err_r, stdio[2] = self._pipe()
            fds.update(stdout_fd=out_r, stderr_fd=err_r)
            if spec.open_stdin:   # a tty's input goes through the pty master
                stdio[0], fds["stdin_fd"] = self._pipe()
        self._theirs = list(fds.values()) + [fd for fd in stdio if fd >= 0]
        opts = ShimOptions(dir=paths.run_dir, log_path=log_file(paths, spec), log_format=spec.log_format,
                           log_max_size=spec.log_max_size, log_max_file=spec.log_max_file,
                           exit_command=exit_command(root, paths.id),
                           terminal=spec.tty, stdin=spec.open_stdin, oom_file=oom_file)
        argv = opts.argv(**fds)
        self.launch = Launch(path=argv[0], argv=argv[1:], stdio=tuple(stdio), keep=tuple(fds.values()))

    @staticmethod
    def _pipe() -> tuple[int, int]:
        return os.pipe2(os.O_CLOEXEC)

    @property
    def shim_pid(self) -> int:
        return self.launch.shim_pid

    def close_container_ends(self) -> None:
        """The shim has its copies now (or failed): drop ours."""
        for fd in self._theirs:
            try:
                os.close(fd)
            except OSError:
                pass
        self._theirs = []
        if self.console_fd >= 0:
            os.close(self.console_fd)
            self.console_fd = -1

    def send_pid(self, pid: int) -> None:
        explain.step("write(pid pipe)", f"minictr-shim (pid {self.shim_pid}) learns init {pid}: it reaps it, "
                     "logs its output, records its exit and outlives this CLI")
        os.write(self.pid_w, f"{pid}\n".encode())
        os.close(self.pid_w)
        self.pid_w = -1

    def wait_ready(self, timeout: float = 10.0) -> bool:
        ready, _, _ = select.select([self.ready_r], [], [], timeout)
        ok = bool(ready) and os.read(self.ready_r, 1) != b""
        os.close(self.ready_r)
        self.ready_r = -1
        return ok

    def abandon(self) -> None:
        """A failed start: the shim goes (SIGKILL), our ends close."""
        if self.shim_pid > 0:
            try:
                os.kill(self.shim_pid, 9)
            except ProcessLookupError:
                pass
        self.close_container_ends()
        for fd in (self.pid_w, self.ready_r):
            if fd >= 0:
                os.close(fd)
        self.pid_w = self.ready_r = -1
