"""The container lifecycle as docker has it: create, start, stop, kill,
restart, rm, wait, and the cleanup that follows every exit.

    create: image + spec -> record (SQLite), a lease on the image, dirs
    start:  overlay rootfs -> network files -> config.json -> runtime create
            under the shim -> network -> runtime start
    exit:   the shim records it and runs `minictr container cleanup`
            (or the attached CLI does it in-process and tells the shim);
            cleanup tears down what start made and applies the restart
            policy or --rm

Every step of cleanup is idempotent and done under the container's lock,
so a CLI killed at any point leaves something the next cleanup or `rm -f`
completes; `refresh` reads the truth from the kernel whatever the record
says."""
from __future__ import annotations

import os
import time

from minictr import ids
from minictr.fsutil import remove_tree
from minictr.engine import bundle, layout, names, options
from minictr.engine.errors import EngineError, InvalidOption, StartFailed, program_failure_code
from minictr.engine.records import ZERO_TIME, ContainerRecord, ContainerRecords
from minictr.engine.rootfs import rootfs_detach, rootfs_mount, unmount_rootfs
from minictr.engine.spec import ContainerSpec
from minictr.runtime import explain
from minictr.clock import now_rfc3339
from minictr.runtime.state import StateStore, proc_alive, wait_dead
from minictr.state.locks import FileLock

ACTIVE = ("running", "paused", "restarting")
RESTART_DELAY_MAX = 2.0


class Engine:
    def __init__(self, root: str | None = None):
        from minictr.image.store import ImageStore
        self.images = ImageStore(root)
        self.root = self.images.root
        self.conn = self.images.conn
        self.records = ContainerRecords(self.conn)
        self.runtime = StateStore(layout.runtime_root(self.root))
        self._networks = None
        self._volumes = None
        self._drivers: dict = {}
        self._made_here: set[str] = set()   # created by this process: nothing of theirs exists yet
        self._image_records: dict = {}
        self._image_configs: dict = {}

    def close(self) -> None:
        self.images.close()

    @property
    def volumes(self):
        if self._volumes is None:
            from minictr.engine.volumes import Volumes
            self._volumes = Volumes(self.root)
        return self._volumes

    @property
    def networks(self):
        if self._networks is None:
            from minictr.network import Networks
            self._networks = Networks(self.root, self.conn)
        return self._networks

    def driver(self, rec: ContainerRecord):
        """The container's low-level runtime: ours in-process, or --runtime's binary."""
        from minictr.engine import runtimes
        key = rec.spec.runtime
        if key not in self._drivers:
            self._drivers[key] = (runtimes.External(key, layout.run_root(self.root)) if key
                                  else runtimes.InProcess(self.runtime))
        return self._drivers[key]

    def paths(self, container_id: str) -> layout.ContainerPaths:
        return layout.ContainerPaths(self.root, container_id)

    def lock(self, container_id: str) -> FileLock:
        return FileLock(os.path.join(self.root, "locks", f"container-{container_id}.lock"))

    def lookup(self, text: str) -> ContainerRecord:
        return self.refresh(self.records.lookup(text))

    # -- create ---------------------------------------------------------------

    def create(self, spec: ContainerSpec, name: str = "", pull=None) -> ContainerRecord:
        """`pull(ref)` fetches a missing image (docker's auto-pull); without
        it a missing image is an error."""
        image = self.images.records.find(spec.image)
        if image is None:
            if pull is None:
                raise EngineError(f"No such image: {spec.image}")
            pull(spec.image)
            image = self.images.records.lookup(spec.image)
        if name and not options.valid_container_name(name):
            raise InvalidOption(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        self._image_records[image.id] = image
        image_config = self.image_config(image)
        bundle.command(spec, image_config)      # "No command specified" now, not at start
        bundle.resources(spec)                  # memory/swap rules
        self._check_network(spec)
        for volume in spec.volumes:
            if volume["type"] == "volume" and not volume["source"]:
                volume["anonymous"] = True
                volume["source"] = ids.new_id()
        container_id = ids.new_id()
        name = name or names.generate(self.records.names())
        self.records.add(container_id, name, image.id, spec.image, now_rfc3339(), spec)
        try:
            self.images.records.lease(image.id, f"container:{container_id}")
            paths = self.paths(container_id)
            os.makedirs(paths.dir, mode=0o710, exist_ok=True)
            for volume in spec.volumes:
                if volume["type"] == "volume":
                    self.volumes.create(volume["source"], anonymous=volume.get("anonymous", False))
        except BaseException:
            self._forget(container_id, spec, remove_volumes=True)
            raise
        self._made_here.add(container_id)
        return self.records.get(container_id)

    def image_config(self, image) -> dict:
        """The image's container config (read and verified once per process:
        an image ID names fixed content). Not to be changed by the caller."""
        if image.id not in self._image_configs:
            from minictr.image.views import config_of
            self._image_configs[image.id] = config_of(self.images, image).config
        return self._image_configs[image.id]

    def image_of(self, rec: ContainerRecord):
        """The container's image record (looked up once per process: `run`
        finds it at create and needs it again at start)."""
        if rec.image_id not in self._image_records:
            self._image_records[rec.image_id] = self.images.records.get(rec.image_id)
        return self._image_records[rec.image_id]

    def _check_network(self, spec: ContainerSpec) -> None:
        mode = spec.network
        if mode in ("none", "host", "bridge", "default"):
            if mode in ("none", "host", "container") and spec.publish:
                raise InvalidOption("conflicting options: port publishing and the container type network mode")
            return
        if mode.startswith("container:"):
            if spec.publish:
                raise InvalidOption("conflicting options: port publishing and the container type network mode")
            self.records.lookup(mode.split(":", 1)[1])
            return
        self.networks.get(mode)   # "network X not found"

    # -- start ----------------------------------------------------------------

    def start(self, rec: ContainerRecord, attach=None) -> ContainerRecord:
        """`attach(rec)` runs once the shim listens and before the process
        runs, so a foreground `run` sees all of its output."""
        with self.lock(rec.id):
            rec = self.refresh(self.records.get(rec.id))
            if rec.status == "running":
                return rec
            if rec.status == "paused":
                raise EngineError("cannot start a paused container, try unpause instead")
            if rec.status == "removing":
                raise EngineError(f"container {rec.id} is marked for removal and cannot be started")
            if rec.id not in self._made_here:   # what an interrupted start may have left
                self._teardown(rec, leaving=False)
            self._made_here.discard(rec.id)
            return self._start(rec, attach)

    def _start(self, rec: ContainerRecord, attach=None) -> ContainerRecord:
        spec, paths = rec.spec, self.paths(rec.id)
        image = self.image_of(rec)
        image_config = self.image_config(image)
        driver = self.driver(rec)
        shim_pid = 0
        try:
            from minictr.runtime.background import Background
            mount = rootfs_mount(self.images.snapshots, [layer.chain_id for layer in image.layers], paths.upper,
                                 paths.work, paths.rootfs)
            mounting = Background(mount) if mount is not None else None
            try:
                hostname = self._hostname(rec)
                netns_path = self._joined_netns(spec)
                files = self._write_network_files(rec, hostname)
            finally:
                if mounting is not None:
                    mounting.join()
            from minictr.engine import users
            user = users.resolve(paths.rootfs, spec.user or image_config.get("User", ""))
            config = bundle.build_config(rec.id, spec, image_config, paths.rootfs, hostname, user, files,
                                         self._volume_sources(spec, paths.rootfs), netns_path)
            _write_json(paths.config, config)
            pid, shim_pid = driver.create(self, rec, paths)
            network = self._connect_network(rec, pid, hostname)
            driver.adopt(pid)
            if attach is not None:
                attach(rec)
            driver.start(rec.id)
            self.records.update(rec.id, status="running", pid=pid, shim_pid=shim_pid,
                                started_at=now_rfc3339(), exit_code=0, oom_killed=0, error="",
                                stopped_by_user=0, network=network)
        except BaseException as e:
            driver.abandon()
            if shim_pid:
                try:
                    os.kill(shim_pid, 9)
                except ProcessLookupError:
                    pass
            self._teardown(rec)
            message = str(e) if not isinstance(e, KeyboardInterrupt) else "interrupted"
            self.records.update(rec.id, status="created" if rec.status == "created" else "exited",
                                pid=0, shim_pid=0, exit_code=_start_failure_code(message), error=message)
            if spec.auto_remove:   # --rm: a container that never ran goes too, as docker's
                self._forget(rec.id, spec, remove_volumes=True)
            from minictr.runtime.errors import RuntimeFailure
            if isinstance(e, RuntimeFailure):
                raise StartFailed(message) from None
            raise
        return self.records.get(rec.id)

    def _hostname(self, rec: ContainerRecord) -> str:
        if rec.spec.network == "host":
            import socket
            return socket.gethostname()
        return rec.spec.hostname or rec.id[:12]

    def _joined_netns(self, spec: ContainerSpec) -> str | None:
        if not spec.network.startswith("container:"):
            return None
        other = self.lookup(spec.network.split(":", 1)[1])
        if other.status != "running":
            raise EngineError(f"cannot join network of a non running container: {other.id}")
        return f"/proc/{other.pid}/ns/net"

    def _write_network_files(self, rec: ContainerRecord, hostname: str) -> dict[str, str]:
        from minictr.engine import netfiles
        return netfiles.write(self, rec, hostname)

    def _volume_sources(self, spec: ContainerSpec, rootfs: str) -> list[tuple[dict, str]]:
        out = []
        for volume in spec.volumes:
            if volume["type"] == "bind":
                if not os.path.exists(volume["source"]):
                    os.makedirs(volume["source"], mode=0o755, exist_ok=True)  # as docker -v does
                out.append((volume, volume["source"]))
            else:
                name = self.volumes.create(volume["source"], anonymous=volume.get("anonymous", False))
                self.volumes.populate(name, rootfs, volume["destination"])
                out.append((volume, self.volumes.path(name)))
        return out

    def _connect_network(self, rec: ContainerRecord, pid: int, hostname: str) -> dict:
        from minictr.engine import netfiles
        mode = rec.spec.network
        if mode == "host" or mode.startswith("container:"):
            return {}
        netns = f"/proc/{pid}/ns/net"
        if mode == "none":
            _loopback_up(netns)
            return {}
        return netfiles.connect(self, rec, netns, hostname)

    # -- exit and cleanup -----------------------------------------------------

    def cleanup(self, container_id: str) -> ContainerRecord | None:
        """After an exit (the shim's exit command, or an attached CLI):
        record the exit, tear down, then restart or --rm. Returns the record,
        None if it was removed."""
        with self.lock(container_id):
            try:
                rec = self.records.get(container_id)
            except EngineError:
                return None
            if rec.status == "removing":
                return rec   # an `rm` has it (or was killed: the next `rm` finishes)
            actual = self._runtime_status(rec)
            if actual in ("running", "paused") or (actual == "created" and rec.status != "created"):
                if rec.status == "created":
                    return self.refresh(rec)
                return rec   # not ours to clean: it runs
            if rec.status == "created":
                self._teardown(rec)   # a start that never completed: it stays Created
                return rec
            exit_info = self._exit_info(rec)
            handled = exit_info is not None and exit_info["finished_at"] == rec.finished_at
            oom = exit_info is None and self._oom_killed(rec)   # else the shim has recorded it
            self._teardown(rec)
            if rec.status not in ACTIVE and handled:
                return rec
            if exit_info is None:
                if rec.status not in ACTIVE:
                    return rec
                exit_info = {"exit_code": 137 if rec.stopped_by_user else 255, "finished_at": now_rfc3339()}
            self.records.update(rec.id, status="exited", pid=0, shim_pid=0, exit_code=exit_info["exit_code"],
                                oom_killed=int(oom or bool(exit_info.get("oom_killed"))),
                                finished_at=exit_info["finished_at"])
            rec = self.records.get(rec.id)
            if self._should_restart(rec):
                self.records.update(rec.id, status="restarting", restart_count=rec.restart_count + 1)
                time.sleep(min(0.1 * 2 ** rec.restart_count, RESTART_DELAY_MAX))
                rec = self.records.get(rec.id)
                if rec.status == "restarting" and not rec.stopped_by_user:
                    from minictr.errors import MinictrError
                    try:
                        return self._start(rec)
                    except MinictrError:   # recorded as State.Error by _start
                        return self.records.get(rec.id)
                return rec
            if rec.spec.auto_remove:
                self._forget(rec.id, rec.spec, remove_volumes=True)
                return None
            return rec

    def _should_restart(self, rec: ContainerRecord) -> bool:
        policy = rec.spec.restart
        if policy == "no" or rec.stopped_by_user:
            return False
        if policy in ("always", "unless-stopped"):
            return True
        return rec.exit_code != 0 and (rec.spec.restart_max == 0 or rec.restart_count < rec.spec.restart_max)

    def _exit_info(self, rec: ContainerRecord) -> dict | None:
        from minictr import jsonio
        try:
            with open(os.path.join(self.paths(rec.id).run_dir, "exit")) as f:
                return jsonio.loads(f.read())
        except (OSError, ValueError):
            return None

    def _oom_killed(self, rec: ContainerRecord) -> bool:
        from minictr.runtime import cgroups
        try:
            mgr = cgroups.open_manager(bundle.cgroups_path(rec.id), rec.id)
            return mgr.oom_kill_count() > 0
        except (OSError, ValueError, cgroups.CgroupError):
            return False

    def _runtime_status(self, rec: ContainerRecord) -> str | None:
        state = self.driver(rec).state(rec.id)
        return state[0] if state else None

    def _teardown(self, rec: ContainerRecord, leaving: bool = True) -> None:
        """Everything start made, in reverse; each step a no-op if done.
        leaving=False: a start follows at once (keep the shared cgroup parent).
        The rootfs is detached beside the rest (its wait is the kernel's)."""
        from minictr.runtime.background import Background
        detach = rootfs_detach(self.paths(rec.id).rootfs)
        unmounting = Background(detach) if detach is not None else None
        try:
            self.driver(rec).delete(rec.id)
            _remove_stray_cgroups(rec.id, parents=leaving)
            mode = rec.spec.network
            if mode not in ("none", "host") and not mode.startswith("container:"):
                from minictr.engine import netfiles
                netfiles.disconnect(self, rec, netns_gone=not self._netns_shared(rec))
        finally:
            if unmounting is not None:
                unmounting.join()

    def _netns_shared(self, rec: ContainerRecord) -> bool:
        """Whether a running container joined this one's network namespace
        (--network container:X), keeping it alive after this one stopped."""
        modes = [f"container:{n}" for n in (rec.id, rec.name, rec.short_id)]
        return self.records.active_joiners(rec.id, modes) > 0

    # -- stop, kill, remove, wait --------------------------------------------

    def stop_signal(self, rec: ContainerRecord) -> int:
        text = rec.spec.stop_signal
        if not text:
            text = self.image_config(self.image_of(rec)).get("StopSignal") or "SIGTERM"
        return options.parse_signal(text)

    def stop(self, rec: ContainerRecord, timeout: float | None = None, sig: int | None = None) -> ContainerRecord:
        """docker stop: the stop signal (`sig`, else the container's), SIGKILL
        after `timeout` seconds (default the container's --stop-timeout, else
        10), then cleanup."""
        from minictr.runtime.errors import RuntimeFailure
        rec = self.refresh(rec)
        if rec.status == "restarting":
            # between an exit and its restart: cancel the restart, then wait
            # for the cleanup holding the lock (its start may be under way)
            self.records.update(rec.id, stopped_by_user=1)
            with self.lock(rec.id):
                pass
            rec = self.refresh(self.records.get(rec.id))
            if rec.status == "restarting":
                self.records.update(rec.id, status="exited")
                return self.records.get(rec.id)
        if rec.status not in ("running", "paused"):
            return rec
        self.records.update(rec.id, stopped_by_user=1)
        if timeout is None:
            timeout = rec.spec.stop_timeout if rec.spec.stop_timeout is not None else 10
        driver = self.driver(rec)
        state = driver.state(rec.id)
        if state is None:
            return self.cleanup(rec.id) or rec
        _, pid, start_time = state
        try:
            if rec.status == "paused":
                self.unpause(rec)
            sig = sig or self.stop_signal(rec)
            explain.step(f"kill({pid}, {sig})", "stop: the container's stop signal")
            driver.kill(rec.id, sig)
        except (RuntimeFailure, EngineError):
            pass
        if not wait_dead(pid, start_time, max(timeout, 0)):
            explain.step("kill(SIGKILL)", f"stop: still running after {timeout} s")
            try:
                driver.kill(rec.id, 9, all_processes=True)
            except (RuntimeFailure, EngineError):
                pass
            wait_dead(pid, start_time, 10)
        self._wait_exit_recorded(rec)
        return self.cleanup(rec.id) or rec

    def _wait_exit_recorded(self, rec: ContainerRecord, timeout: float = 5.0) -> None:
        """The shim writes the exit record right after reaping the init."""
        deadline = time.monotonic() + timeout
        path = os.path.join(self.paths(rec.id).run_dir, "exit")
        while not os.path.exists(path) and time.monotonic() < deadline:
            if rec.shim_pid and not proc_alive(rec.shim_pid, None):
                return
            time.sleep(0.005)

    def kill(self, rec: ContainerRecord, sig: int = 9) -> None:
        from minictr.runtime.errors import RuntimeFailure
        rec = self.refresh(rec)
        if rec.status not in ("running", "paused"):
            raise EngineError(f"cannot kill container: {rec.short_id}: container {rec.id} is not running")
        try:
            self.driver(rec).kill(rec.id, sig)
        except RuntimeFailure:
            raise EngineError(f"cannot kill container: {rec.short_id}: container {rec.id} is not running") from None

    def pause(self, rec: ContainerRecord) -> None:
        rec = self.refresh(rec)
        if rec.status != "running":
            raise EngineError(f"container {rec.id} is not running" if rec.status != "paused"
                              else f"container {rec.id} is already paused")
        self.driver(rec).pause(rec.id)
        self.records.update(rec.id, status="paused")

    def unpause(self, rec: ContainerRecord) -> None:
        rec = self.refresh(rec)
        if rec.status != "paused":
            raise EngineError(f"container {rec.id} is not paused")
        self.driver(rec).resume(rec.id)
        self.records.update(rec.id, status="running")

    def remove(self, rec: ContainerRecord, force: bool = False, volumes: bool = False) -> None:
        rec = self.refresh(rec)
        if rec.status in ACTIVE and not force:
            verb = "paused" if rec.status == "paused" else "running"
            raise EngineError(f"cannot remove container \"/{rec.name}\": container is {verb}: stop the "
                              "container before removing or force remove")
        with self.lock(rec.id):
            # marked first, the record goes last: a CLI killed in between
            # leaves a container `ps -a` shows as "Removal In Progress" and
            # that `rm` finishes, never files that belong to no record
            self.records.update(rec.id, status="removing", stopped_by_user=1)
            self._teardown(rec)
            if rec.shim_pid and _is_our_shim(rec.shim_pid, rec.id):
                try:
                    os.kill(rec.shim_pid, 9)
                except ProcessLookupError:
                    pass
            self._forget(rec.id, rec.spec, remove_volumes=volumes)

    def _forget(self, container_id: str, spec: ContainerSpec, remove_volumes: bool) -> None:
        """The record, the lease, the container's files (and with -v its
        anonymous volumes)."""
        paths = self.paths(container_id)
        unmount_rootfs(paths.rootfs)
        if remove_volumes:
            for volume in spec.volumes:
                if volume.get("anonymous") and self.volumes.exists(volume["source"]):
                    remove_tree(os.path.dirname(self.volumes.path(volume["source"])))
        remove_tree(paths.run_dir)
        remove_tree(paths.dir)
        self.images.records.release(f"container:{container_id}")
        self.records.remove(container_id)   # last: until here, `rm` again finishes the job

    def sweep_orphans(self) -> list[str]:
        """Remove what belongs to no record (a removal killed by an older
        minictr, or a tree a busy mount kept): container and shim dirs,
        runtime state, cgroups, image leases. The dirs are listed before the
        records are read: create adds its record before it makes a dir, so a
        container being made now is never taken for an orphan."""
        from minictr.engine import runtimes
        from minictr.runtime.errors import RuntimeFailure
        found: set[str] = set()
        for parent in (os.path.join(self.root, "containers"), os.path.join(layout.run_root(self.root), "containers"),
                       self.runtime.root):
            try:
                found.update(n for n in os.listdir(parent) if ids.is_id(n))
            except FileNotFoundError:
                pass
        holders = {h.partition(":")[2] for h in self.images.records.holders("container:")}
        orphans = sorted((found | holders) - self.records.ids())
        for container_id in orphans:
            with self.lock(container_id):
                if self.records.find(container_id) is not None:
                    continue
                try:
                    runtimes.InProcess(self.runtime).delete(container_id)
                except (RuntimeFailure, OSError):
                    pass
                _remove_stray_cgroups(container_id)
                paths = self.paths(container_id)
                unmount_rootfs(paths.rootfs)
                remove_tree(paths.run_dir)
                remove_tree(paths.dir)
                self.images.records.release(f"container:{container_id}")
            try:
                os.unlink(os.path.join(self.root, "locks", f"container-{container_id}.lock"))
            except OSError:
                pass
        return orphans

    def wait(self, rec: ContainerRecord, poll: float = 0.01) -> int:
        """docker wait: block until the container is not running; its exit code."""
        while True:
            try:
                rec = self.lookup(rec.id)
            except EngineError:
                return rec.exit_code
            if rec.status not in ACTIVE:
                return rec.exit_code
            time.sleep(poll)

    # -- the truth ------------------------------------------------------------

    def refresh(self, rec: ContainerRecord) -> ContainerRecord:
        """The record corrected by what the kernel says: a CLI killed midway
        may have left it behind the facts. An exit is only shown here, never
        written: the cleanup that follows every exit records it, and decides
        on a restart or --rm, which a record already marked exited would
        keep it from doing."""
        if rec.status not in ("created", "running", "paused"):
            return rec
        state = self.driver(rec).state(rec.id)
        actual = state[0] if state else None
        if actual in ("running", "paused"):
            if actual == rec.status:
                return rec
            fields = {"status": actual, "pid": state[1]}
            if rec.started_at == ZERO_TIME:
                fields["started_at"] = now_rfc3339()
            self.records.update(rec.id, **fields)
            return self.records.get(rec.id)
        if rec.status == "created" and (actual is None or self._exit_info(rec) is None):
            return rec
        info = self._exit_info(rec) or {"exit_code": 255 if actual is None else 137, "finished_at": now_rfc3339()}
        if actual is None and self._try_lock_and_record(rec, info):
            return self.records.get(rec.id)   # no runtime state and nobody cleaning: the record is behind
        rec.status, rec.exit_code, rec.finished_at = "exited", info["exit_code"], info["finished_at"]
        if self._should_restart(rec):
            rec.status = "restarting"
        return rec

    def _try_lock_and_record(self, rec: ContainerRecord, info: dict) -> bool:
        import fcntl
        path = os.path.join(self.root, "locks", f"container-{rec.id}.lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False   # a cleanup holds it: it will record the exit
        try:
            current = self.records.get(rec.id)
            if current.status in ("running", "paused"):
                self.records.update(rec.id, status="exited", pid=0, exit_code=info["exit_code"],
                                    finished_at=info["finished_at"])
            return True
        finally:
            os.close(fd)

    def list(self, all_: bool = True) -> list[ContainerRecord]:
        out = [self.refresh(r) for r in self.records.all()]
        return out if all_ else [r for r in out if r.status in ACTIVE]


def _write_json(path: str, obj: dict) -> None:
    from minictr import jsonio
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(jsonio.dumps(obj))
    os.replace(tmp, path)


def _is_our_shim(pid: int, container_id: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    return b"minictr-shim" in cmdline and container_id.encode() in cmdline


def _remove_stray_cgroups(container_id: str, parents: bool = True) -> None:
    """A create killed between making the cgroups and saving the runtime's
    state leaves them without a record: find them by their fixed path.
    With parents, also the engine's own parent (/minictr in every hierarchy)
    once no container is left in it: the runtime removes only what one
    container made, and the first container's parent outlives it whenever
    a sibling still runs then."""
    from minictr.runtime import cgroups
    try:
        mgr = cgroups.open_manager(bundle.cgroups_path(container_id), container_id)
    except (OSError, cgroups.CgroupError):
        return
    dirs = mgr.dirs()
    if any(os.path.isdir(d) for d in dirs):
        _kill_and_remove(mgr, dirs)
    if parents:
        for parent in {os.path.dirname(d) for d in dirs}:
            try:
                os.rmdir(parent)   # EBUSY while another container's cgroup is in it
            except OSError:
                pass


def _kill_and_remove(mgr, dirs: list[str]) -> None:
    from minictr.runtime import cgroups
    explain.step("rmdir cgroup", f"left by an interrupted create: {mgr.describe()}")
    # the create may have died before making every directory: kill what
    # any of them holds, without the freezer the manager would use
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pids = set()
        for d in dirs:
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    pids.update(int(p) for p in f.read().split())
            except OSError:
                pass
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        time.sleep(0.005)
    try:
        mgr.destroy()
    except (OSError, cgroups.CgroupError):
        pass


def _loopback_up(netns_path: str) -> None:
    from minictr._native._shim import lib
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        explain.step("ioctl(SIOCSIFFLAGS lo up)", "--network none: the container's own loopback only")
        err = lib.mc_link_up_in_netns(fd, b"lo")
    finally:
        os.close(fd)
    if err:
        raise EngineError(f"bring up lo in {netns_path}: {os.strerror(err)}")


def _start_failure_code(message: str) -> int:
    """State.ExitCode of a failed start, as docker's daemon records it:
    127 or 126 for a program that cannot run, else 128."""
    return program_failure_code(message) or 128
