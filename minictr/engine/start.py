"""docker start: from a container record to a running process.

    overlay rootfs (beside the network files) -> config.json -> runtime
    create under the shim -> network -> the shim adopts it -> attach ->
    runtime start -> the record says running

A failure at any step tears down what the earlier ones made and leaves
the reason in State.Error (and State.ExitCode as docker's daemon sets it)."""
from __future__ import annotations

import os

from minictr import explain, jsonio
from minictr._native._shim import lib
from minictr.clock import now_rfc3339
from minictr.engine import bundle, in_root, modes, netfiles, shm, status, users
from minictr.engine.errors import EngineError, StartFailed
from minictr.engine.records import ContainerRecord
from minictr.engine.remove import forget
from minictr.engine.rootfs import rootfs_mount
from minictr.engine.teardown import teardown
from minictr.engine.truth import refresh
from minictr.runtime.state import proc_alive
from minictr.errors import MinictrError
from minictr.runtime.background import Background
from minictr.runtime.errors import RuntimeFailure


def start(store, images, volumes, nets, driver, rec: ContainerRecord, attach=None,
          fresh: bool = False) -> ContainerRecord:
    """`attach(rec)` runs once the shim listens and before the process
    runs, so a foreground `run` sees all of its output. `fresh`: made by
    this process just now, so an interrupted start cannot have left anything."""
    with store.lock(rec.id):
        rec = refresh(store, driver, store.records.get(rec.id))
        if rec.status == status.RUNNING:
            return rec
        if rec.status == status.PAUSED:
            raise EngineError("cannot start a paused container, try unpause instead")
        if rec.status == status.REMOVING:
            raise EngineError(f"container {rec.id} is marked for removal and cannot be started")
        if not fresh:   # what an interrupted start may have left
            teardown(store, driver, nets, rec, leaving=False)
        return run(store, images, volumes, nets, driver, rec, attach)


def run(store, images, volumes, nets, driver, rec: ContainerRecord, attach=None) -> ContainerRecord:
    """The start itself, under the container's lock (start, or a restart)."""
    spec, paths = rec.spec, store.paths(rec.id)
    image = images.image_of(rec)
    image_config = images.config(image)
    launched = None
    try:
        mount = rootfs_mount(images.snapshots, [layer.chain_id for layer in image.layers], paths.upper,
                             paths.work, paths.rootfs)
        mounting = Background(mount) if mount is not None else None
        try:
            joined, shm_source = _joined_namespaces(store, rec)
            hostname = _hostname(store, rec, joined)
            files = netfiles.write(store, rec, hostname)
        finally:
            if mounting is not None:
                mounting.join()
        user = users.resolve(paths.rootfs, spec.user or image_config.get("User", ""))
        if spec.group_add:
            uid, gid, extra = user
            user = (uid, gid, extra + [g for g in users.group_ids(paths.rootfs, spec.group_add) if g not in extra])
        _make_workdir(paths.rootfs, spec.workdir or image_config.get("WorkingDir") or "/")
        config = bundle.build_config(rec.id, spec, image_config, paths.rootfs, hostname, user, files,
                                     _volume_sources(volumes, spec, paths.rootfs), joined, shm_source)
        _write_json(paths.config, config)
        explain.step("write config.json", f"{paths.bundle}: the OCI bundle (rootfs + config.json) the runtime reads")
        if spec.log_path:   # the kubelet's pod log dir: the container's own dir may be new
            os.makedirs(os.path.dirname(spec.log_path) or ".", exist_ok=True)
        launched = driver.create(store.root, rec, paths)
        network = _connect_network(nets, images, store, rec, launched.pid, hostname)
        launched.adopt()
        if attach is not None:
            attach(rec)
        driver.start(rec.id)
        store.records.update(rec.id, status=status.RUNNING, pid=launched.pid, shim_pid=launched.shim_pid,
                             started_at=now_rfc3339(), exit_code=0, oom_killed=0, error="",
                             stopped_by_user=0, network=network)
    except BaseException as e:
        _undo(store, images, volumes, nets, driver, rec, launched, e)
        if isinstance(e, RuntimeFailure):
            raise StartFailed(str(e), e.program_code) from None
        raise
    return store.records.get(rec.id)


def _undo(store, images, volumes, nets, driver, rec: ContainerRecord, launched, error: BaseException) -> None:
    """A start failed: the shim goes, what was made is torn down, the
    reason is recorded (and with --rm a container that never ran goes too,
    as docker's does)."""
    if launched is not None:
        launched.abandon()
        try:
            os.kill(launched.shim_pid, 9)
        except ProcessLookupError:
            pass
    teardown(store, driver, nets, rec)
    message = str(error) if not isinstance(error, KeyboardInterrupt) else "interrupted"
    # State.ExitCode as docker's daemon records a failed start
    code = (error.program_code if isinstance(error, MinictrError) else None) or 128
    store.records.update(rec.id, status=status.CREATED if rec.status == status.CREATED else status.EXITED,
                         pid=0, shim_pid=0, exit_code=code, error=message)
    if rec.spec.auto_remove:
        forget(store, images.leases, volumes, rec.id, rec.spec, remove_volumes=True)


def _make_workdir(rootfs: str, workdir: str) -> None:
    """docker makes a missing working directory (in the container's own layer)."""
    if workdir in ("", "/") or not workdir.startswith("/"):
        return   # a relative one is refused by the bundle, with docker's words
    try:
        in_root.mkdir_in_root(rootfs, workdir)
    except NotADirectoryError:
        raise EngineError(f"the working directory '{workdir}' is invalid: not a directory in the image") from None


def _hostname(store, rec: ContainerRecord, joined: dict[str, str]) -> str:
    """The container's own (--hostname, else its short ID), the host's with
    --network host or --uts host, the joined container's with --uts container:X."""
    spec = rec.spec
    uts = modes.parse("uts", spec.uts)
    if uts.kind == modes.HOST or (spec.network == "host" and uts.kind == modes.PRIVATE):
        import socket  # host modes only: socket's imports (enum, selectors) cost ~2 ms
        return socket.gethostname()
    if "uts" in joined:
        try:
            with open(f"{joined['uts'][:-len('ns/uts')]}root/etc/hostname") as f:
                return f.read().strip() or rec.id[:12]
        except OSError:
            pass
    return spec.hostname or rec.id[:12]


_SHARED = (("network", "net", "network"), ("ipc", "ipc", "IPC"), ("pid", "pid", "PID"), ("uts", "uts", "UTS"))


def _joined_namespaces(store, rec: ContainerRecord) -> tuple[dict[str, str], str | None]:
    """{type: namespace file} of each namespace shared with another
    container (which must be running, as docker says) or named by path;
    and the host dir to bind at /dev/shm (None: a tmpfs of its own),
    mounted here for a shareable one."""
    spec = rec.spec
    out, shm_source = {}, None
    for kind, ns_file, word in _SHARED:
        mode = modes.parse(kind, getattr(spec, kind))
        if mode.kind == modes.PATH:
            out[kind] = mode.target
        elif mode.joins:
            # its record and its pid, not our driver: it may run under another runtime
            other = store.records.lookup(mode.target)
            if other.status != status.RUNNING or not proc_alive(other.pid, None):
                raise EngineError(f"cannot join {word} of a non running container: {other.id}")
            out[kind] = f"/proc/{other.pid}/ns/{ns_file}"
            if kind == "ipc" and shm.mounted(store.paths(other.id).shm):
                shm_source = store.paths(other.id).shm   # a shareable one's: the same /dev/shm
        elif kind == "ipc" and mode.kind == modes.HOST:
            shm_source = "/dev/shm"
        elif kind == "ipc" and mode.kind == modes.SHAREABLE:
            shm_source = store.paths(rec.id).shm
            shm.mount(shm_source)
    return out, shm_source


def _volume_sources(volumes, spec, rootfs: str) -> list[tuple[dict, str]]:
    out = []
    for volume in spec.volumes:
        if volume.type == "bind":
            if not os.path.exists(volume.source):
                os.makedirs(volume.source, mode=0o755, exist_ok=True)  # as docker -v does
            out.append((volume, volume.source))
        else:
            name = volumes.create(volume.source, anonymous=volume.anonymous)
            volumes.populate(name, rootfs, volume.destination)
            out.append((volume, volumes.path(name)))
    return out


def _connect_network(nets, images, store, rec: ContainerRecord, pid: int, hostname: str) -> dict:
    mode = modes.network(rec.spec.network)
    if mode.kind in (modes.HOST, modes.CONTAINER, modes.PATH):   # PATH: a pod's, its CNI set it up
        return {}
    netns = f"/proc/{pid}/ns/net"
    if mode.kind == modes.NONE:
        _loopback_up(netns)
        return {}
    return netfiles.connect(nets(), images, rec, netns, hostname, store.paths(rec.id).hosts)


def _loopback_up(netns_path: str) -> None:
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        explain.step("ioctl(SIOCSIFFLAGS lo up)", "--network none: the container's own loopback only")
        err = lib.mc_link_up_in_netns(fd, b"lo")
    finally:
        os.close(fd)
    if err:
        raise EngineError(f"bring up lo in {netns_path}: {os.strerror(err)}")


def _write_json(path: str, obj: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(jsonio.dumps(obj))
    os.replace(tmp, path)
