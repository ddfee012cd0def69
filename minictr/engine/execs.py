"""`exec`: a new process in a running container's namespaces and cgroups,
through the in-process runtime (runc exec's path): the container's own
process settings, with the user, env and workdir given."""
from __future__ import annotations

from minictr.engine import status, users
from minictr.engine.errors import EngineError, NotRunning
from minictr.engine.records import ContainerRecord
from minictr.runtime import processes
from minictr.runtime.capabilities import NAMES, last_cap
from minictr.runtime.errors import ContainerStopped, RuntimeFailure, SpawnFailure


def exec_in(engine, rec: ContainerRecord, argv: list[str], tty: bool = False, detach: bool = False,
            env: list[str] | None = None, user: str = "", workdir: str = "", privileged: bool = False) -> int:
    if rec.status == status.PAUSED:
        raise EngineError(f"container {rec.id} is paused, unpause the container before exec")
    if rec.status != status.RUNNING:
        raise NotRunning(rec.id)
    if rec.spec.runtime:
        return _exec_external(engine, rec, argv, tty, detach, env, user, workdir)
    st = engine.runtime.load(rec.id)
    user_arg, extra_gids = None, []
    if user:
        uid, gid, extra_gids = users.resolve(engine.paths(rec.id).rootfs, user)
        user_arg = f"{uid}:{gid}"
    caps = []
    if privileged:
        caps = NAMES[:last_cap() + 1]
    process = processes.process_from_args(st.process, argv, list(env or []), workdir or None, user_arg, tty,
                                          caps, False, extra_gids)
    try:
        return processes.exec_process(engine.runtime, rec.id, process, detach=detach)
    except SpawnFailure as e:
        text = str(e)
        if e.program_code == 127:
            raise _ExecFailed(f"OCI runtime exec failed: exec failed: unable to start container process: "
                              f"exec: \"{argv[0]}\": executable file not found in $PATH", 127) from None
        raise _ExecFailed(f"OCI runtime exec failed: {text}", 126) from None
    except ContainerStopped:
        raise NotRunning(rec.id) from None
    except RuntimeFailure as e:
        raise EngineError(str(e)) from None


def _exec_external(engine, rec: ContainerRecord, argv, tty, detach, env, user, workdir) -> int:
    """`--runtime` containers: the runtime's own `exec`, as docker's shim calls it."""
    import subprocess  # --runtime containers only (~3 ms)
    driver = engine.driver(rec)
    args = [driver.binary, "--root", driver.root, "exec"]
    args += ["-t"] if tty else []
    args += ["-d"] if detach else []
    for item in env or []:
        args += ["-e", item]
    if workdir:
        args += ["--cwd", workdir]
    if user:
        uid, gid, _ = users.resolve(engine.paths(rec.id).rootfs, user)
        args += ["--user", f"{uid}:{gid}"]
    return subprocess.run(args + [rec.id, *argv]).returncode


class _ExecFailed(EngineError):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.exit_code = code
