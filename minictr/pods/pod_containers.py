"""A pod's containers: CRI's CreateContainer … RemoveContainer on the engine.

A container joins its sandbox's pause container: its network, IPC and UTS
namespaces always (the host's, for a host-network or host-IPC pod), its
PID namespace when the pod shares one (`pid: POD`), or another
container's (`TARGET`). The image's entrypoint and cmd merge with the
request's command and args as Kubernetes says (command replaces the
entrypoint and drops the cmd; args replace the cmd). Its log is the CRI
format at the path the kubelet gave (under the sandbox's log directory),
written by the container's own shim, so it outlives `minictr cri`.

Like a sandbox, a container's record is the engine's (labels carry its
sandbox and its CRI config), and its state is the engine's truth."""
from __future__ import annotations

import json
import logging
import os

from minictr.engine import status as engine_status
from minictr.engine.cri_log import parse_rfc3339_ns
from minictr.engine.errors import EngineError, NameConflict
from minictr.engine.spec import ContainerSpec, Mount
from minictr.pods import sandbox as sandbox_mod
from minictr.pods.config import ContainerConfig, InvalidConfig
from minictr.pods.errors import PodError
from minictr.runtime import cgroups

log = logging.getLogger("minictr.pods")

CREATED, RUNNING, EXITED, UNKNOWN = "CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED", "CONTAINER_UNKNOWN"
_PROPAGATION = {"PROPAGATION_PRIVATE": "rprivate", "PROPAGATION_HOST_TO_CONTAINER": "rslave",
                "PROPAGATION_BIDIRECTIONAL": "rshared"}


class ContainerNotFound(PodError):
    def __init__(self, container_id: str):
        super().__init__(f"an error occurred when try to find container {container_id!r}: not found")


class ContainerNameTaken(PodError):
    def __init__(self, name: str, holder: str):
        super().__init__(f"failed to reserve container name {name!r}: name {name!r} is reserved for {holder!r}")


class SandboxNotReady(PodError):
    def __init__(self, sandbox_id: str):
        super().__init__(f"sandbox container {sandbox_id!r} is not running")


class PodContainer:
    """A pod container as the engine knows it (a view)."""

    def __init__(self, rec):
        labels = rec.spec.labels or {}
        self.id = rec.id
        self.record = rec
        self.sandbox_id = labels.get(sandbox_mod.SANDBOX, "")
        self.config = ContainerConfig.from_cri(json.loads(labels.get(sandbox_mod.CONFIG) or "{}"))
        self.created_at = parse_rfc3339_ns(rec.created_at)
        self.log_path = rec.spec.log_path

    @property
    def state(self) -> str:
        s = self.record.status
        if s == engine_status.CREATED:
            return CREATED
        if s in engine_status.ACTIVE:
            return RUNNING
        if s in (engine_status.EXITED, engine_status.DEAD):
            return EXITED
        return UNKNOWN

    @property
    def started_at(self) -> int:
        return _ns(self.record.started_at)

    @property
    def finished_at(self) -> int:
        return _ns(self.record.finished_at) if self.state == EXITED else 0

    @property
    def exit_code(self) -> int:
        return int(self.record.exit_code or 0) if self.state == EXITED else 0

    @property
    def reason(self) -> str:
        if self.state != EXITED:
            return ""
        if self.record.oom_killed:
            return "OOMKilled"
        return "Completed" if self.exit_code == 0 else "Error"

    @property
    def message(self) -> str:
        return self.record.error or ""


def container_name(cfg: ContainerConfig, pod) -> str:
    return f"k8s_{cfg.name}_{pod.name}_{pod.namespace}_{pod.uid}_{cfg.attempt}"


class PodContainers:
    def __init__(self, engine, sandboxes):
        self.engine = engine
        self.sandboxes = sandboxes      # pods.sandbox.PodSandboxes

    def create(self, sandbox_id: str, cfg: ContainerConfig) -> str:
        box = self.sandboxes.get(sandbox_id)
        if box.state != sandbox_mod.READY:
            raise SandboxNotReady(box.id)
        if self.engine.images.records.find(cfg.image) is None:
            raise PodError(f"failed to resolve image {cfg.image!r}: not found")
        for m in cfg.mounts:
            if not os.path.exists(m.host_path):
                raise InvalidConfig(f"failed to mount {m.host_path!r} at {m.container_path!r}: "
                                    f"no such file or directory")
        name = container_name(cfg, box.config)
        try:
            rec = self.engine.create(ContainerSpec(**self._spec(box, cfg)), name=name)
        except NameConflict as e:
            raise ContainerNameTaken(name, e.holder) from None
        return rec.id

    def _spec(self, box, cfg: ContainerConfig) -> dict:
        pause = box.id
        pod = box.config
        ns = cfg.namespaces
        pid = {"POD": f"container:{pause}", "CONTAINER": "", "NODE": "host"}.get(ns.pid, "")
        if ns.pid == "TARGET":
            pid = f"container:{self.get(ns.target_id).id}"
        res = cfg.resources
        user = cfg.run_as_username
        if cfg.run_as_user is not None:
            user = str(cfg.run_as_user) + (f":{cfg.run_as_group}" if cfg.run_as_group is not None else "")
        log_path = ""
        if cfg.log_path:
            log_path = os.path.join(pod.log_directory, cfg.log_path) if pod.log_directory else cfg.log_path
        spec = dict(
            image=cfg.image, entrypoint=list(cfg.command) if cfg.command else None,
            cmd=list(cfg.args) if cfg.args else None, env=list(cfg.envs), workdir=cfg.working_dir, user=user,
            tty=cfg.tty, open_stdin=cfg.stdin, stdin_once=cfg.stdin_once,
            network=f"container:{pause}",
            ipc="host" if pod.namespaces.ipc == "NODE" else f"container:{pause}",
            uts="host" if pod.namespaces.network == "NODE" else f"container:{pause}",
            pid=pid,
            volumes=[Mount("bind", m.host_path, m.container_path, m.readonly, _PROPAGATION[m.propagation])
                     for m in cfg.mounts],
            memory=res.memory_limit_in_bytes, cpu_shares=res.cpu_shares,
            privileged=cfg.privileged, cap_add=list(cfg.cap_add), cap_drop=list(cfg.cap_drop),
            read_only=cfg.readonly_rootfs, no_new_privileges=cfg.no_new_privs,
            seccomp_profile=sandbox_mod._seccomp(cfg.seccomp), log_format="cri",
            labels={**cfg.labels, sandbox_mod.KIND: "container", sandbox_mod.SANDBOX: box.id,
                    sandbox_mod.CONFIG: json.dumps(cfg.raw, sort_keys=True)})
        if res.memory_swap_limit_in_bytes:
            spec["memory_swap"] = res.memory_swap_limit_in_bytes
        # what CRI adds to docker's options: only when asked
        for key, value in (("log_path", log_path), ("cpu_quota", res.cpu_quota), ("cpu_period", res.cpu_period),
                           ("cpuset_cpus", res.cpuset_cpus), ("cpuset_mems", res.cpuset_mems),
                           ("hugepage_limits", dict(res.hugepage_limits)), ("unified", dict(res.unified)),
                           ("group_add", [str(g) for g in cfg.supplemental_groups]),
                           ("cgroup_parent", pod.cgroup_parent),
                           ("devices", [dict(host_path=d.host_path, container_path=d.container_path,
                                             permissions=d.permissions) for d in cfg.devices])):
            if value:
                spec[key] = value
        for key in ("masked_paths", "readonly_paths"):   # [] is CRI's procMount Unmasked
            if getattr(cfg, key) is not None:
                spec[key] = list(getattr(cfg, key))
        if res.oom_score_adj:
            spec["oom_score_adj"] = res.oom_score_adj
        if spec.get("hugepage_limits") and not cgroups.can_limit("hugetlb"):
            # kubelet sends a limit for every page size; as runc, a host
            # without the controller leaves them out (said once per container)
            log.warning("%s: hugepage limits left out: this host has no hugetlb cgroup controller", cfg.name)
            del spec["hugepage_limits"]
        return spec

    def reopen_log(self, container_id: str) -> None:
        """ReopenContainerLog: the kubelet renamed the log to rotate it."""
        c = self.get(container_id)
        if c.state != RUNNING:
            raise PodError(f"container {c.id!r} is not running")
        self.engine.reopen_log(c.record)

    def update_resources(self, container_id: str, res) -> None:
        """UpdateContainerResources: the request's resources replace the
        container's (kubelet sends them whole), on its cgroups at once."""
        c = self.get(container_id)
        changes = dict(cpu_shares=res.cpu_shares, cpu_quota=res.cpu_quota, cpu_period=res.cpu_period,
                       cpuset_cpus=res.cpuset_cpus, cpuset_mems=res.cpuset_mems, nano_cpus=0,
                       hugepage_limits=dict(res.hugepage_limits), unified=dict(res.unified))
        if res.memory_limit_in_bytes:
            changes["memory"] = res.memory_limit_in_bytes
            changes["memory_swap"] = res.memory_swap_limit_in_bytes or c.record.spec.memory_swap
            if changes["memory_swap"] and 0 < changes["memory_swap"] < res.memory_limit_in_bytes:
                changes["memory_swap"] = res.memory_limit_in_bytes
        self.engine.update(c.record, **changes)

    def start(self, container_id: str) -> None:
        c = self.get(container_id)
        if c.state != CREATED:
            raise PodError(f"container {c.id!r} is in {c.state} state, not CONTAINER_CREATED")
        self.engine.start(c.record)

    def stop(self, container_id: str, timeout: float = 0) -> None:
        """SIGTERM (or the image's stop signal), SIGKILL after `timeout`
        seconds; a stopped container is not an error."""
        c = self.get(container_id)
        if c.record.status in engine_status.ACTIVE:
            self.engine.stop(c.record, timeout=max(0, timeout))

    def remove(self, container_id: str) -> None:
        """Force-removed, running or not; an unknown one is not an error."""
        try:
            c = self.get(container_id)
        except ContainerNotFound:
            return
        try:
            self.engine.remove(c.record, force=True)
        except EngineError:
            pass   # removed meanwhile

    def get(self, container_id: str) -> PodContainer:
        if not container_id:
            raise ContainerNotFound(container_id)
        matches = [r for r in self.engine.records.all()
                   if (r.spec.labels or {}).get(sandbox_mod.KIND) == "container" and r.id.startswith(container_id)]
        if len(matches) != 1:
            raise ContainerNotFound(container_id)
        return PodContainer(self.engine.refresh(matches[0]))

    def list(self, sandbox_id: str = "") -> list[PodContainer]:
        out = []
        for r in self.engine.records.all():
            labels = r.spec.labels or {}
            if labels.get(sandbox_mod.KIND) == "container" and (not sandbox_id or
                                                                  labels.get(sandbox_mod.SANDBOX) == sandbox_id):
                out.append(PodContainer(self.engine.refresh(r)))
        return out


def _ns(text: str | None) -> int:
    if not text or text.startswith("0001-"):
        return 0
    try:
        return parse_rfc3339_ns(text)
    except ValueError:
        return 0
