"""Pod sandboxes: what RunPodSandbox makes and StopPodSandbox and
RemovePodSandbox undo, as containerd does it:

  1. a named network namespace (pods/netns.py) — not for a host-network pod;
  2. CNI ADD into it (pods/cni/): the pod's address, its hostPorts;
  3. the pause container (the pause image, pods/pause_image.py) started by
     the engine in that netns, with its own IPC, UTS (the pod's hostname)
     and PID namespaces — or the host's, as the security context says —
     which the pod's containers then join (pods/pod_containers.py).

The sandbox's ID is the pause container's; its record is that container's
record, with the pod's config, netns and addresses in its labels, so the
sandbox outlives `minictr cri` with nothing else to keep: a restarted
server finds it with the engine's records, and its state (READY while the
pause process runs) is the engine's truth about that container.

A step that fails undoes the ones before it (CNI DEL before the netns goes:
the bridge plugin reads the pod's addresses inside it to undo its NAT).
What a run killed midway left — a netns and a CNI attachment with no pause
container — is what sweep() removes when the server starts."""
from __future__ import annotations

import json
import threading

from minictr import explain, ids
from minictr.engine.cri_log import parse_rfc3339_ns
from minictr.engine.errors import EngineError, NameConflict
from minictr.engine.spec import ContainerSpec
from minictr.engine import status as engine_status
from minictr.errors import MinictrError
from minictr.pods import pause_image
from minictr.pods.cni.network import Attachment, pod_args
from minictr.pods.config import PodConfig
from minictr.pods.errors import PodError
from minictr.runtime.background import Background

KIND = "io.minictr.pod.kind"            # sandbox | container
CONFIG = "io.minictr.pod.config"        # the CRI config (JSON), as given
NETNS = "io.minictr.pod.netns"          # the netns path ("" for a host-network pod)
CNI_ID = "io.minictr.pod.cni-id"        # CNI_CONTAINERID of its attachment
IPS = "io.minictr.pod.ips"              # JSON list of its addresses, first is the pod IP
HANDLER = "io.minictr.pod.runtime-handler"
SANDBOX = "io.minictr.pod.sandbox"      # on a pod container: its sandbox's ID

READY, NOTREADY = "SANDBOX_READY", "SANDBOX_NOTREADY"
PAUSE_OOM_SCORE_ADJ = -998   # containerd's: the pause process is the last the OOM killer picks


class SandboxNotFound(PodError):
    def __init__(self, sandbox_id: str):
        super().__init__(f"an error occurred when try to find sandbox: not found: {sandbox_id!r}")


class SandboxNameTaken(PodError):
    def __init__(self, name: str, holder: str):
        super().__init__(f"failed to reserve sandbox name {name!r}: name {name!r} is reserved for {holder!r}")


class Sandbox:
    """A sandbox as the engine knows it (a view: taken again for fresh state)."""

    def __init__(self, rec):
        labels = rec.spec.labels or {}
        self.id = rec.id
        self.record = rec
        self.config = PodConfig.from_cri(json.loads(labels.get(CONFIG) or "{}"))
        self.netns = labels.get(NETNS, "")
        self.cni_id = labels.get(CNI_ID, "")
        self.ips = json.loads(labels.get(IPS) or "[]")
        self.runtime_handler = labels.get(HANDLER, "")
        self.created_at = parse_rfc3339_ns(rec.created_at)

    @property
    def state(self) -> str:
        return READY if self.record.status == engine_status.RUNNING else NOTREADY

    @property
    def ip(self) -> str:
        return self.ips[0] if self.ips else ""


def sandbox_name(cfg: PodConfig) -> str:
    """The name the pause container holds, so one pod attempt has one sandbox (containerd's)."""
    return f"k8s_POD_{cfg.name}_{cfg.namespace}_{cfg.uid}_{cfg.attempt}"


class PodSandboxes:
    def __init__(self, engine, cni, netns_store):
        self.engine = engine
        self.cni = cni                  # pods.cni.network.CNI
        self.netns = netns_store        # pods.netns.NetnsStore
        self._lock = threading.Lock()   # the pause image is made once

    # -- RunPodSandbox ------------------------------------------------------------

    def run(self, cfg: PodConfig, runtime_handler: str = "") -> str:
        name = sandbox_name(cfg)
        holder = self._holder_of(name)
        if holder:
            raise SandboxNameTaken(name, holder)
        host_network = cfg.namespaces.network == "NODE"
        token = ids.new_id()
        netns, results = "", []
        undo = []
        adding = None
        try:
            if not host_network:
                netns = self.netns.create(token)
                undo.append(lambda: self.netns.remove(token))
                att = self._attachment(token, netns, cfg)
                undo.append(lambda: self.cni.delete(att))
                # the network is set up beside the pause container's start:
                # the pause joins the netns by its path, not by its addresses
                adding = Background(lambda: results.append(self.cni.add(att)))
            with self._lock:
                image = pause_image.ensure(self.engine.images)
            spec = ContainerSpec(**self._pause_spec(cfg, image, netns, token, [], runtime_handler))
            try:
                try:
                    rec = self.engine.create(spec, name=name)
                except NameConflict as e:   # a run of the same pod at the same moment won
                    raise SandboxNameTaken(name, e.holder) from None
                undo.append(lambda: self.engine.remove(self.engine.records.get(rec.id), force=True))
                self.engine.start(rec)
            finally:
                if adding is not None:
                    _join_quietly(adding)
            if adding is not None:
                adding.join()   # the ADD's error, if it failed
                # the pod IP first (IPv4 before IPv6), as containerd reports it
                ips = [ip.ip for ip in sorted(results[0].sandbox_ips(), key=lambda i: i.address.version)]
                explain.step("pod network", f"{name}: CNI gave {', '.join(ips) or 'no address'} in {netns}")
                made = self.engine.records.get(rec.id).spec
                made.labels[IPS] = json.dumps(ips)
                self.engine.records.set_spec(rec.id, made)
            return rec.id
        except BaseException:
            for step in reversed(undo):
                try:
                    step()
                except (MinictrError, OSError):
                    pass   # undoing what is undone already
            raise

    def _holder_of(self, name: str) -> str:
        found = self.engine.records.find(name) if name in self.engine.records.names() else None
        return found.id if found is not None else ""

    def _attachment(self, token: str, netns: str, cfg: PodConfig) -> Attachment:
        ports = [{"hostPort": p.host_port, "containerPort": p.container_port, "protocol": p.protocol,
                  "hostIP": p.host_ip} for p in cfg.port_mappings if p.host_port]
        caps = {"portMappings": ports} if ports else {}
        return Attachment(token, netns, "eth0", pod_args(cfg.namespace, cfg.name, token, cfg.uid), caps)

    def _pause_spec(self, cfg: PodConfig, image: str, netns: str, token: str, ips: list, handler: str) -> dict:
        host_network = not netns
        spec = dict(
            image=image, network="host" if host_network else f"ns:{netns}",
            ipc="host" if cfg.namespaces.ipc == "NODE" else "shareable",
            pid="host" if cfg.namespaces.pid == "NODE" else "",
            uts="host" if host_network else "",
            hostname="" if host_network else cfg.hostname,
            dns=list(cfg.dns_servers), privileged=cfg.privileged, read_only=cfg.readonly_rootfs,
            labels={**cfg.labels, KIND: "sandbox", CONFIG: json.dumps(cfg.raw, sort_keys=True), NETNS: netns,
                    CNI_ID: token if netns else "", IPS: json.dumps(ips), HANDLER: handler},
            seccomp_profile=_seccomp(cfg.seccomp), oom_score_adj=PAUSE_OOM_SCORE_ADJ)
        if cfg.run_as_user is not None:
            spec["user"] = f"{cfg.run_as_user}" + (f":{cfg.run_as_group}" if cfg.run_as_group is not None else "")
        # the engine's options for what CRI adds to docker's: only when asked
        for key, value in (("dns_search", list(cfg.dns_searches)), ("dns_options", list(cfg.dns_options)),
                           ("sysctls", dict(cfg.sysctls)), ("cgroup_parent", cfg.cgroup_parent),
                           ("group_add", [str(g) for g in cfg.supplemental_groups])):
            if value:
                spec[key] = value
        return spec

    # -- StopPodSandbox, RemovePodSandbox ------------------------------------------

    def stop(self, sandbox_id: str, containers=()) -> None:
        """Every container of the pod stopped (`containers`: their records,
        killed at once as containerd does), the pause container stopped, the
        network torn down and the netns removed. Stopping a stopped
        sandbox does nothing more."""
        box = self.get(sandbox_id)
        for rec in containers:
            if rec.status in engine_status.ACTIVE:
                self.engine.stop(rec, timeout=0)
        # the network goes beside the pause container (the netns is a file
        # of ours: it outlives the process that holds it)
        teardown = Background(self._teardown, box)
        try:
            if box.record.status in engine_status.ACTIVE:
                self.engine.stop(box.record, timeout=0)
        finally:
            _join_quietly(teardown)
        teardown.join()

    def _teardown(self, box: Sandbox) -> None:
        if not (box.netns and box.cni_id):
            return
        # stopped before: no netns and no ADD record left, nothing to DEL again
        if self.netns.exists(box.cni_id) or self.cni.recorded(box.cni_id, "eth0"):
            self.cni.delete(Attachment(box.cni_id, box.netns, "eth0",
                                       pod_args(box.config.namespace, box.config.name, box.cni_id, box.config.uid)))
        self.netns.remove(box.cni_id)

    def remove(self, sandbox_id: str, containers=()) -> None:
        """Stop (if need be), then remove the pod's containers and the pause
        container. An unknown sandbox is not an error (it is removed already)."""
        try:
            box = self.get(sandbox_id)
        except SandboxNotFound:
            return
        self.stop(box.id, containers)
        for rec in containers:
            try:
                self.engine.remove(self.engine.records.get(rec.id), force=True)
            except EngineError:
                pass   # removed meanwhile
        self.engine.remove(self.engine.records.get(box.id), force=True)

    # -- status and lists -------------------------------------------------------

    def get(self, sandbox_id: str) -> Sandbox:
        """By ID or a unique ID prefix, as containerd finds them."""
        if not sandbox_id:
            raise SandboxNotFound(sandbox_id)
        matches = [r for r in self.engine.records.all()
                   if (r.spec.labels or {}).get(KIND) == "sandbox" and r.id.startswith(sandbox_id)]
        if len(matches) != 1:
            raise SandboxNotFound(sandbox_id)
        return Sandbox(self.engine.refresh(matches[0]))

    def list(self) -> list[Sandbox]:
        return [Sandbox(self.engine.refresh(r)) for r in self.engine.records.all()
                if (r.spec.labels or {}).get(KIND) == "sandbox"]

    # -- after a crash -------------------------------------------------------------

    def sweep(self) -> list[str]:
        """The netns and CNI attachments no sandbox owns (a run killed
        before its pause container was recorded) removed; their tokens."""
        owned = {b.cni_id for b in self.list() if b.cni_id}
        gone = []
        for entry in self.cni.attachments():
            if entry.container_id not in owned:
                self.cni.delete(Attachment(entry.container_id, entry.netns, entry.ifname))
                gone.append(entry.container_id)
        for name in self.netns.names():
            if name not in owned:
                self.netns.remove(name)
                gone.append(name)
        return sorted(set(gone))


def _join_quietly(step: Background) -> None:
    """Wait for a side step; its error is raised by a later join()."""
    try:
        step.join()
    except BaseException:
        pass


def _seccomp(profile) -> str:
    """The engine's seccomp value: "" its default, "unconfined", or a profile's JSON."""
    if profile.kind == "Unconfined":
        return "unconfined"
    if profile.kind == "Localhost":
        try:
            with open(profile.localhost_ref) as f:
                return f.read()
        except OSError as e:
            raise PodError(f"seccomp profile {profile.localhost_ref!r}: {e.strerror}") from None
    return ""

