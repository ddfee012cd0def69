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

import os
import sys

from minictr.engine.layout import ContainerPaths
from minictr.engine.spec import ContainerSpec


def shim_path() -> str:
    import minictr._native
    return os.path.join(os.path.dirname(minictr._native.__file__), "bin", "minictr-shim")


def exit_command(root: str, container_id: str) -> list[str]:
    """What the shim runs when the container exits: our own cleanup."""
    return [sys.executable, "-m", "minictr.cli.main", "--root", root, "container", "cleanup", container_id]


class ShimStart:
    """The fds of one launch. `launch` goes to the runtime's create; after
    it returned, close_container_ends(); send_pid(); wait_ready()."""

    def __init__(self, root: str, paths: ContainerPaths, spec: ContainerSpec):
        from minictr.runtime.spawn import Launch
        self._mine: list[int] = []       # ends we keep until the shim has its copies
        self._theirs: list[int] = []     # the shim's ends (and the container's)
        self.console_fd = -1
        os.makedirs(paths.run_dir, mode=0o700, exist_ok=True)
        for stale in ("exit", "attach", "shim.pid"):
            try:
                os.unlink(os.path.join(paths.run_dir, stale))
            except FileNotFoundError:
                pass
        pid_r, self.pid_w = self._pipe()
        ready_r, ready_w = self._pipe()
        self.ready_r = ready_r
        argv = ["--dir", paths.run_dir, "--pid-fd", str(pid_r), "--ready-fd", str(ready_w),
                "--log-path", paths.log, "--log-max-size", str(spec.log_max_size),
                "--log-max-file", str(spec.log_max_file)]
        for i, arg in enumerate(exit_command(root, paths.id)):
            argv += ["--exit-command" if i == 0 else "--exit-arg", arg]
        keep = [pid_r, ready_w]
        stdio = [-1, -1, -1]
        if spec.tty:
            import _socket
            ours, shims = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
            self.console_fd = ours.detach()
            shim_end = shims.detach()
            argv += ["--console-fd", str(shim_end)]
            keep.append(shim_end)
            self._theirs += [shim_end]
            self._mine.append(self.console_fd)
        else:
            out_r, out_w = self._pipe()
            err_r, err_w = self._pipe()
            argv += ["--stdout-fd", str(out_r), "--stderr-fd", str(err_r)]
            keep += [out_r, err_r]
            stdio[1], stdio[2] = out_w, err_w
            self._theirs += [out_r, out_w, err_r, err_w]
        if spec.open_stdin:
            in_r, in_w = self._pipe()
            if spec.tty:
                os.close(in_r)
                os.close(in_w)   # a tty's input goes through the pty master
            else:
                argv += ["--stdin-fd", str(in_w)]
                keep.append(in_w)
                stdio[0] = in_r
                self._theirs += [in_r, in_w]
        self._theirs += [pid_r, ready_w]
        self.launch = Launch(path=shim_path(), argv=argv, stdio=tuple(stdio), keep=tuple(keep))

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
        os.write(self.pid_w, f"{pid}\n".encode())
        os.close(self.pid_w)
        self.pid_w = -1

    def wait_ready(self, timeout: float = 10.0) -> bool:
        import select
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
