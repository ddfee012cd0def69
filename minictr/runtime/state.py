"""Per-container state under the runtime's --root, as runc keeps /run/runc.

<root>/<id>/state.json   what later verbs need (pid, its start time, bundle, cgroups, hooks)
<root>/<id>/exec.fifo    exists between create and start: the init blocks on it
<root>/<id>/lock         flock(2) serializes verbs on one container
The status is never stored: it is read from the kernel each time.
"""
from __future__ import annotations

import fcntl
from minictr import jsonio
import os
import time
from minictr.records import asdict, dataclass, field

from minictr.runtime.errors import ContainerNotFound, RuntimeFailure

DEFAULT_ROOT = "/run/minictr-runtime"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def validate_id(container_id: str) -> None:
    if not container_id or not _ID_CHARS.issuperset(container_id) or container_id.startswith("."):
        raise RuntimeFailure(f"invalid container id format: {container_id!r}")




def _stat_fields(pid: int) -> list[bytes] | None:
    """/proc/pid/stat from the state field on (the name may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2:].split()


def proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/pid/stat: tells a live pid from a reused one."""
    fields = _stat_fields(pid)
    return fields[19].decode() if fields else None


def proc_alive(pid: int, start_time: str | None) -> bool:
    fields = _stat_fields(pid)
    if not fields or fields[0] in (b"Z", b"X"):
        return False
    return start_time is None or fields[19].decode() == start_time


def wait_dead(pid: int, start_time: str | None, timeout: float = 10.0, reap: bool = False) -> bool:
    """Whether the process (this pid with this start time) is gone within
    timeout; reap: it may be our child (`run`), so collect it as it dies."""
    deadline = time.monotonic() + timeout
    while proc_alive(pid, start_time):
        if reap:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


@dataclass
class ContainerState:
    id: str
    pid: int
    bundle: str
    rootfs: str
    created: str
    init_start_time: str | None
    config_path: str
    annotations: dict = field(default_factory=dict)
    cgroup: dict = field(default_factory=dict)
    hooks: dict = field(default_factory=dict)      # poststart/poststop as config JSON
    namespaces: list = field(default_factory=list)  # [{"type", "path"}] as in config
    process: dict = field(default_factory=dict)     # the init's process, defaults for exec
    seccomp: dict | None = None
    owner: str = ""
    started: bool = False


class StateStore:
    def __init__(self, root: str | None):
        self.root = root or DEFAULT_ROOT
        # compiled seccomp filters by profile digest (a leading dot: no container id)
        self.seccomp_cache = os.path.join(self.root, ".seccomp-cache")

    def dir(self, container_id: str) -> str:
        validate_id(container_id)
        return os.path.join(self.root, container_id)

    def reserve(self, container_id: str) -> str:
        """mkdir is the atomic claim on an id: a second create with it fails."""
        d = self.dir(container_id)
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        try:
            os.mkdir(d, 0o711)
        except FileExistsError:
            raise RuntimeFailure(f"container with id exists: {container_id}") from None
        return d

    def lock(self, container_id: str) -> int:
        """Hold an exclusive lock on the container's dir; released at close."""
        d = self.dir(container_id)
        try:
            fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ContainerNotFound(container_id) from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def save(self, state: ContainerState) -> None:
        d = self.dir(state.id)
        tmp = os.path.join(d, "state.json.tmp")
        with open(tmp, "w") as f:
            f.write(jsonio.dumps(asdict(state)))
        os.replace(tmp, os.path.join(d, "state.json"))

    def load(self, container_id: str) -> ContainerState:
        path = os.path.join(self.dir(container_id), "state.json")
        try:
            with open(path) as f:
                data = jsonio.loads(f.read())
        except FileNotFoundError:
            raise ContainerNotFound(container_id) from None
        except (OSError, ValueError) as e:
            raise RuntimeFailure(f"{path}: unreadable state ({e})") from None
        return ContainerState(**data)

    def ids(self) -> list[str]:
        try:
            return sorted(name for name in os.listdir(self.root)
                          if os.path.exists(os.path.join(self.root, name, "state.json")))
        except FileNotFoundError:
            return []

    def fifo_path(self, container_id: str) -> str:
        return os.path.join(self.dir(container_id), "exec.fifo")


def status(store: StateStore, st: ContainerState, cgroup_manager=None) -> str:
    """created | running | paused | stopped, read from the kernel."""
    if not st.pid or not proc_alive(st.pid, st.init_start_time):
        return "stopped"
    if os.path.exists(store.fifo_path(st.id)):
        return "created"
    if cgroup_manager is not None:
        try:
            if cgroup_manager.frozen():
                return "paused"
        except OSError:
            pass
    return "running"


def oci_state(st: ContainerState, status_: str) -> dict:
    """The spec's state JSON (runtime.md), plus runc's extra fields."""
    return {
        "ociVersion": "1.0.2-dev",
        "id": st.id,
        "pid": st.pid if status_ != "stopped" else 0,
        "status": status_,
        "bundle": st.bundle,
        "rootfs": st.rootfs,
        "created": st.created,
        "owner": st.owner,
        "annotations": st.annotations or {},
    }
