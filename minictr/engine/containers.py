"""The container lifecycle as docker has it, for the CLI: a small façade
that opens what the steps need and hands each step only that.

    create.py    image + spec -> record, image lease, dirs
    start.py     rootfs, network files, config.json, runtime create under
                 the shim, network, runtime start
    stop.py      stop, kill, pause, unpause, wait
    cleanup.py   after every exit: record it, teardown.py, then
                 restart.py (the policy) or remove.forget (--rm)
    remove.py    rm, and sweep_orphans
    truth.py     the record corrected by what the kernel says

The steps take a ContainerStore (records, paths, locks), an ImageCache,
the volumes, `nets` (a callable giving the network manager, opened only
for a container on a bridge) and the container's RuntimeDriver.

One Engine may be used by several threads (a CRI server): each thread
gets its own database connection (SQLite connections stay in their
thread); the drivers and the image caches are shared."""
from __future__ import annotations

from _thread import _local

from minictr.engine import cleanup as _cleanup
from minictr.engine import create as _create
from minictr.engine import layout
from minictr.engine import remove as _remove
from minictr.engine import start as _start
from minictr.engine import status
from minictr.engine import stop as _stop
from minictr.engine import truth
from minictr.engine.errors import EngineError
from minictr.engine.image_cache import ImageCache
from minictr.engine.records import ContainerRecord, ContainerRecords
from minictr.engine.runtimes import Drivers
from minictr.engine.spec import ContainerSpec
from minictr.engine.store import ContainerStore
from minictr.engine.volumes import Volumes
from minictr.image.store import ImageStore
from minictr.runtime.state import StateStore

ACTIVE = status.ACTIVE


class Engine:
    def __init__(self, root: str | None = None, images: ImageStore | None = None):
        """`images`: an image store this thread opened already (its connection is then this thread's)."""
        first = images if images is not None else ImageStore(root)
        self.root = first.root
        self.runtime = StateStore(layout.runtime_root(self.root))
        self.drivers = Drivers(self.root, self.runtime)
        self._opened = [first]
        self._local = _local()
        self._own(first)
        self._image_records: dict = {}
        self._image_configs: dict = {}
        self._volumes = None
        self._made_here: set[str] = set()   # created by this process: nothing of theirs exists yet

    def _own(self, images) -> None:
        local = self._local
        local.images = images
        local.store = ContainerStore(self.root, ContainerRecords(images.conn))
        local.networks = None

    def _thread(self):
        local = self._local
        if getattr(local, "images", None) is None:   # a thread's first call: its own connection
            images = ImageStore(self.root)
            self._opened.append(images)
            self._own(images)
        return local

    def close(self) -> None:
        for images in self._opened:
            images.close()

    # -- what the steps are given ---------------------------------------------

    @property
    def images(self):
        return self._thread().images

    @property
    def conn(self):
        return self.images.conn

    @property
    def store(self) -> ContainerStore:
        return self._thread().store

    @property
    def records(self) -> ContainerRecords:
        return self.store.records

    @property
    def image_cache(self) -> ImageCache:
        return ImageCache(self.images, self._image_records, self._image_configs)

    @property
    def volumes(self):
        if self._volumes is None:
            self._volumes = Volumes(self.root)
        return self._volumes

    @property
    def networks(self):
        local = self._thread()
        if local.networks is None:
            from minictr.network import Networks  # ~12 ms of imports: not for --network none/host
            local.networks = Networks(self.root, local.images.conn)
        return local.networks

    def _nets(self):
        return self.networks

    def driver(self, rec: ContainerRecord):
        """The container's low-level runtime: ours in-process, or --runtime's binary."""
        return self.drivers.for_spec(rec.spec)

    def _kit(self, rec: ContainerRecord) -> tuple:
        return self.store, self.image_cache, self.volumes, self._nets, self.driver(rec)

    def paths(self, container_id: str) -> layout.ContainerPaths:
        return layout.ContainerPaths(self.root, container_id)

    def lock(self, container_id: str):
        return self.store.lock(container_id)

    def image_config(self, image) -> dict:
        return self.image_cache.config(image)

    def image_of(self, rec: ContainerRecord):
        return self.image_cache.image_of(rec)

    # -- the lifecycle ----------------------------------------------------------

    def create(self, spec: ContainerSpec, name: str = "", pull=None) -> ContainerRecord:
        rec = _create.create(self.store, self.image_cache, self.volumes, self._nets, spec, name, pull)
        self._made_here.add(rec.id)
        return rec

    def start(self, rec: ContainerRecord, attach=None) -> ContainerRecord:
        fresh = rec.id in self._made_here
        self._made_here.discard(rec.id)
        return _start.start(*self._kit(rec), rec, attach, fresh=fresh)

    def cleanup(self, container_id: str) -> ContainerRecord | None:
        try:
            rec = self.records.get(container_id)
        except EngineError:
            return None
        return _cleanup.cleanup(*self._kit(rec), container_id)

    def stop_signal(self, rec: ContainerRecord) -> int:
        return _stop.stop_signal(self.image_cache, rec)

    def stop(self, rec: ContainerRecord, timeout: float | None = None, sig: int | None = None) -> ContainerRecord:
        return _stop.stop(*self._kit(rec), rec, timeout, sig)

    def kill(self, rec: ContainerRecord, sig: int = 9) -> None:
        _stop.kill(self.store, self.driver(rec), rec, sig)

    def pause(self, rec: ContainerRecord) -> None:
        _stop.pause(self.store, self.driver(rec), rec)

    def unpause(self, rec: ContainerRecord) -> None:
        _stop.unpause(self.store, self.driver(rec), rec)

    def update(self, rec: ContainerRecord, **changes) -> ContainerRecord:
        """New resource limits (engine/update.py), on the cgroups at once if it runs."""
        from minictr.engine import update as _update   # `update` only
        return _update.update(self.store, self.driver(rec), rec, changes)

    def reopen_log(self, rec: ContainerRecord) -> None:
        """The shim opens the log file again at its path (CRI's ReopenContainerLog,
        after the kubelet renamed it to rotate it): SIGUSR1 to the container's shim."""
        import os   # reopen_log only, as the rest below
        import signal   # (enum: ~2 ms)

        from minictr import explain   # reopen_log only
        from minictr.engine.errors import NotRunning   # reopen_log only
        from minictr.engine.remove import is_our_shim   # reopen_log only
        rec = self.refresh(rec)
        if rec.status not in ("running", "paused") or not rec.shim_pid or not is_our_shim(rec.shim_pid, rec.id):
            raise NotRunning(rec.id)
        explain.step("kill(shim, SIGUSR1)", f"minictr-shim (pid {rec.shim_pid}) reopens {rec.spec.log_path or 'its log'}")
        os.kill(rec.shim_pid, signal.SIGUSR1)

    def wait(self, rec: ContainerRecord, poll: float = 0.01) -> int:
        return _stop.wait(self.store, self.driver(rec), rec, poll)

    def remove(self, rec: ContainerRecord, force: bool = False, volumes: bool = False) -> None:
        _remove.remove(self.store, self.images.records, self.volumes, self._nets, self.driver(rec), rec,
                       force, volumes)

    def sweep_orphans(self) -> list[str]:
        return _remove.sweep_orphans(self.store, self.images.records, self.runtime)

    # -- the truth ----------------------------------------------------------------

    def refresh(self, rec: ContainerRecord) -> ContainerRecord:
        return truth.refresh(self.store, self.driver(rec), rec)

    def lookup(self, text: str) -> ContainerRecord:
        return self.refresh(self.records.lookup(text))

    def list(self, all_: bool = True) -> list[ContainerRecord]:
        out = [self.refresh(r) for r in self.records.all()]
        return out if all_ else [r for r in out if r.status in ACTIVE]
