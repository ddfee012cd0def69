"""ExecSync: a command run to its end in a pod's container, its output
captured (kubelet's exec probes, `crictl exec -s`). It goes through
`minictr exec` in a child process: the server's threads never hand their
own stdio to a container process, and a command past its timeout is
signalled through the exec's own signal forwarding, then killed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

MAX_OUTPUT = 16 << 20      # per stream, as containerd caps ExecSync's output


class ExecTimeout(Exception):
    def __init__(self, argv: list[str], timeout: float):
        super().__init__(f"command {' '.join(argv)!r} timed out after {timeout:g}s")


def minictr_cli() -> list[str]:
    """This install's CLI, beside the interpreter running the server."""
    launcher = os.path.join(os.path.dirname(sys.executable), "minictr")
    if os.access(launcher, os.X_OK):
        return [launcher]
    return [sys.executable, "-c", "from minictr.cli.entry import entry; entry()"]


def exec_sync(root: str, container_id: str, argv: list[str], timeout: float = 0) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr); timeout 0 waits as long as it takes."""
    proc = subprocess.Popen(minictr_cli() + ["--root", root, "exec", container_id, *argv],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout or None)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)      # forwarded to the command by `exec`
        try:
            proc.communicate(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        raise ExecTimeout(argv, timeout) from None
    return proc.returncode, out[:MAX_OUTPUT], err[:MAX_OUTPUT]
