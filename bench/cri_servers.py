"""The two CRI servers bench/cri.py drives, each private and each undone
by its own teardown: `minictr cri` (tests/support/cri_server.py's
CriServer: its own root, socket and registries config) and Debian's
containerd with its built-in CRI plugin (a generated config.toml: its own
root, state, socket, runc root and opt dir; the registry hosts of
docker.io and registry.k8s.io are the local registry only, so a pull never
falls back to the real one). Both get the same kind of CNI network: a
bridge conflist of their own (a random bridge name, a free /24 under
10.234, a host-local dataDir in the bench's temp dir), without a gateway
address, masquerading or a default route, so a pod reaches nothing but
its bridge, and the loopback plugin for the pod's `lo` (containerd also
brings `lo` up through its built-in "cni-loopback" network, so its pods run
that plugin twice: one exec more per ADD and DEL). Plus the local registry
they pull from (busybox, and for containerd's sandbox_image an image
holding minictr's own pause program, so both sandboxes run the same PID 1).

containerd runs with restrict_oom_score_adj: the sandbox asks for -998,
which runc cannot set where the bench runs without CAP_SYS_RESOURCE."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from support import seeded_images  # noqa: E402
from support.cri_server import CriServer  # noqa: E402
from support.engine_env import free_test_subnet  # noqa: E402
from support.engines import _remove_cgroup_tree, unmount_under  # noqa: E402
from support.registry import Registry  # noqa: E402

sys.path.append(str(REPO / "bench"))
from engine_run import find_shims, memory_kb  # noqa: E402  (children of init naming our root or socket)

CNI_BIN = "/usr/lib/cni"
RUNC = "/usr/sbin/runc"
CONTAINERD = "/usr/bin/containerd"
CONTAINERD_SHIM = "containerd-shim-runc-v2"
MINICTR_SHIM = "minictr-shim"
CRI_NAMESPACE = "k8s.io"                   # containerd's namespace for everything its CRI makes
NETNS_DIR = Path("/var/run/netns")         # where containerd 1.6 pins pod netns (cni-<uuid>)
LIBCNI_CACHE = Path("/var/lib/cni/results")   # libcni's result cache (not configurable in 1.6)
# host dirs containerd (its shims, libcni) makes when missing: removed after, if they were missing and are empty
HOST_DIRS = (Path("/run/containerd/s"), Path("/run/containerd"), NETNS_DIR, LIBCNI_CACHE, LIBCNI_CACHE.parent)
SANDBOX_IMAGE = "registry.k8s.io/pause:3.9"
BUSYBOX = "docker.io/library/busybox:latest"
TOOLS = ("docker-registry", "skopeo", "umoci", "containerd", CONTAINERD_SHIM, "runc", "ip")


class BenchError(Exception):
    pass


def missing_tools() -> list[str]:
    missing = [t for t in TOOLS if not shutil.which(t)]
    missing += [f"{CNI_BIN}/{p}" for p in ("bridge", "host-local", "loopback") if not os.access(f"{CNI_BIN}/{p}", os.X_OK)]
    return missing


def run(*cmd: str, timeout: float = 120) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr.strip()[-1500:]}")
    return res.stdout


# ---------------------------------------------------------------- processes

def tree_of(pid: int) -> list[int]:
    """pid and its descendants (helpers a server keeps running), from the
    kernel's per-thread children lists."""
    out, todo = [], [pid]
    while todo and len(out) < 10000:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def memory_sum_kb(pids: list[int]) -> tuple[int, int]:
    """Summed (RSS, PSS) in kB of the pids still alive."""
    total = [0, 0]
    for pid in pids:
        try:
            rss, pss = memory_kb(pid)
        except OSError:
            continue
        total[0] += rss
        total[1] += pss
    return total[0], total[1]


def stop_pid(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM by PID, SIGKILL if it is still there after timeout."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)


def kill_pids(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- network and images

class BenchNetwork:
    """One private CNI network: a conflist in conf_dir for a bridge of its own."""

    def __init__(self, workdir: Path, prefix: str, taken: tuple[str, ...] = ()):
        self.bridge = f"{prefix}{os.urandom(4).hex()}"
        self.name = self.bridge
        for _ in range(20):     # two networks made back to back must not pick the same /24
            self.subnet = free_test_subnet("10.234")
            if self.subnet not in taken:
                break
        self.conf_dir = workdir / "net.d"
        self.data_dir = workdir / "ipam"
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        ipam = {"type": "host-local", "ranges": [[{"subnet": self.subnet}]], "dataDir": str(self.data_dir)}
        conflist = {"cniVersion": "1.0.0", "name": self.name, "plugins": [
            {"type": "bridge", "bridge": self.bridge, "isGateway": False, "ipMasq": False, "ipam": ipam},
            {"type": "loopback"}]}
        (self.conf_dir / "10-cribench.conflist").write_text(json.dumps(conflist, indent=2) + "\n")

    def teardown(self) -> list[str]:
        done = []
        if subprocess.run(["ip", "link", "del", self.bridge], capture_output=True).returncode == 0:
            done.append(f"ip link del {self.bridge}")
        return done


def pause_layout(tmp: Path) -> Path:
    """An OCI layout `pause:3.9` of one layer: minictr's static pause program
    as /pause, its entrypoint (umoci makes it; nothing is hand-written)."""
    from minictr.pods.pause import pause_path
    layout = tmp / "pause.oci"
    run("umoci", "init", "--layout", str(layout))
    run("umoci", "new", "--image", f"{layout}:3.9")
    run("umoci", "insert", "--image", f"{layout}:3.9", pause_path(), "/pause")
    run("umoci", "config", "--image", f"{layout}:3.9", "--config.entrypoint", "/pause",
        "--os", "linux", "--architecture", "amd64")
    return layout


def local_registry(tmp: Path) -> Registry:
    """docker-registry on 127.0.0.1 with library/busybox:latest and pause:3.9."""
    registry = Registry(tmp / "registry").start()
    try:
        seeded_images.skopeo_copy(f"oci:{seeded_images.BUSYBOX_AMD64}",
                                  f"docker://{registry.address}/library/busybox:latest")
        seeded_images.skopeo_copy(f"oci:{pause_layout(tmp)}:3.9", f"docker://{registry.address}/pause:3.9")
    except BaseException:
        registry.stop()
        raise
    return registry


# ---------------------------------------------------------------- minictr

class MinictrServer:
    name = "minictr"

    def __init__(self, workdir: Path, registry: Registry):
        self.workdir = workdir
        self.network = BenchNetwork(workdir / "podnet", "mcb")
        self.server = CriServer(workdir, mirror=registry.url, network=False)
        self.server.cni_conf_dir = self.network.conf_dir
        self.socket = self.server.socket
        self.log_path = self.server.log_path

    def start(self) -> None:
        self.server.start()

    @property
    def pid(self) -> int:
        return self.server.proc.pid

    def shims(self) -> list[int]:
        return find_shims(MINICTR_SHIM, str(self.server.root))

    def version(self) -> str:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        return f"minictr {rev.stdout.strip() or '?'}"

    def teardown(self) -> list[str]:
        """After the pods were removed through the CRI: stop the server, then
        remove whatever of the root is still there: CNI attachments and netns
        first (a DEL needs the netns still mounted), then containers and
        mounts (CriServer.cleanup), the shims, the bridge; what was done."""
        from minictr.pods.cni.network import CNI, Attachment
        from minictr.pods.netns import NetnsStore
        proc = self.server.proc
        alive = proc is not None and proc.poll() is None
        self.server.stop()
        done = [f"minictr cri (pid {proc.pid}) " + ("stopped by SIGTERM" if alive else f"had exited ({proc.returncode})")
                ] if proc is not None else []
        root = self.server.root
        cni = CNI(str(self.network.conf_dir), bin_dirs=(CNI_BIN,), cache_dir=str(root / "cni" / "results"))
        attached = cni.attachments()
        for entry in attached:
            try:
                cni.delete(Attachment(entry.container_id, entry.netns, entry.ifname))
            except Exception as e:    # noqa: BLE001 - the rest of the teardown still runs
                done.append(f"minictr: CNI DEL of {entry.container_id[:12]} failed: {e}")
        if attached:
            done.append(f"minictr: {len(attached)} CNI attachment(s) left, DELeted")
        swept = NetnsStore(str(root / "netns")).sweep()
        if swept:
            done.append(f"minictr: {len(swept)} netns left, removed")
        left = self.server.cleanup()        # `minictr rm -f` of every container left, then unmount
        if left:
            done.append(f"minictr: {len(left)} mount(s) left under the root, unmounted")
        shims = self.shims()
        if shims:
            kill_pids(shims)
            done.append(f"minictr: {len(shims)} shim(s) left running, killed by PID: {shims}")
        return done + self.network.teardown()

    @property
    def running(self) -> bool:
        return self.server.proc is not None and self.server.proc.poll() is None


# ---------------------------------------------------------------- containerd

CONFIG = """\
version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{socket}"

[ttrpc]
  address = ""

[debug]
  address = ""
  level = "warn"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  disable_apparmor = true
  restrict_oom_score_adj = true     # this host refuses a lower oom_score_adj (the sandbox asks -998)
  enable_selinux = false
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{runc}"
        Root = "{runc_root}"
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{certs}"
"""

# `server` replaces the upstream itself: no fallback to the real registry
HOSTS_TOML = """\
server = "{url}"

[host."{url}"]
  capabilities = ["pull", "resolve"]
"""


class ContainerdServer:
    name = "containerd"

    def __init__(self, workdir: Path, registry: Registry, taken_subnets: tuple[str, ...]):
        self.workdir = workdir
        self.network = BenchNetwork(workdir / "podnet", "ctb", taken_subnets)
        self.socket = workdir / "containerd.sock"
        self.log_path = workdir / "containerd.log"
        self.runc_root = workdir / "runc"
        certs = workdir / "certs.d"
        for host in ("docker.io", "registry.k8s.io"):
            (certs / host).mkdir(parents=True)
            (certs / host / "hosts.toml").write_text(HOSTS_TOML.format(url=registry.url))
        self.config = workdir / "config.toml"
        self.config.write_text(CONFIG.format(
            root=workdir / "root", state=workdir / "state", socket=self.socket, opt=workdir / "opt",
            sandbox_image=SANDBOX_IMAGE, runc=RUNC, runc_root=self.runc_root, cni_bin=CNI_BIN,
            cni_conf=self.network.conf_dir, certs=certs))
        self.proc: subprocess.Popen | None = None
        self.netns_seen: set[str] = set()     # pod netns paths, read from libcni cache records
        self.host_dirs_missing = [d for d in HOST_DIRS if not d.exists()]

    def start(self, timeout: float = 60) -> None:
        import grpc
        from minictr.cri.v1 import api_pb2 as pb, api_pb2_grpc
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "HOME": str(self.workdir),
               "LANG": "C.UTF-8"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([CONTAINERD, "--config", str(self.config)], env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(f"unix://{self.socket}") as channel:
            stub = api_pb2_grpc.RuntimeServiceStub(channel)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise BenchError(f"containerd exited {self.proc.returncode}:\n{self.log[-3000:]}")
                if self.socket.exists():
                    try:
                        stub.Version(pb.VersionRequest(), timeout=2)
                        return
                    except grpc.RpcError:
                        pass
                time.sleep(0.1)
        raise BenchError(f"containerd did not answer on {self.socket} in {timeout} s:\n{self.log[-3000:]}")

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def shims(self) -> list[int]:
        return find_shims(CONTAINERD_SHIM, str(self.socket))

    def version(self) -> str:
        words = run(CONTAINERD, "--version").split()
        runc = run(RUNC, "--version").split()
        return f"containerd {words[2] if len(words) > 2 else '?'} (runc {runc[2] if len(runc) > 2 else '?'})"

    def teardown(self) -> list[str]:
        """After the pods were removed through the CRI: containerd stopped by
        PID; then what a failed run may have left: its shims (by PID), runc
        containers under our runc root, the pods' netns under /var/run/netns
        (only those our pods' status named), libcni cache records of our
        network, mounts under the work dir, the bridge."""
        done = []
        if self.proc is not None:
            alive = self.proc.poll() is None
            stop_pid(self.proc)
            done.append(f"containerd (pid {self.proc.pid}) " + ("stopped by SIGTERM" if alive else
                                                               f"had exited ({self.proc.returncode})"))
        shims = self.shims()
        if shims:
            kill_pids(shims)
            done.append(f"containerd: {len(shims)} shim(s) left running, killed by PID: {shims}")
        runc_ns = self.runc_root / CRI_NAMESPACE
        left = sorted(os.listdir(runc_ns)) if runc_ns.is_dir() else []
        for cid in left:
            subprocess.run([RUNC, "--root", str(runc_ns), "delete", "--force", cid], capture_output=True, timeout=30)
        if left:
            done.append(f"containerd: {len(left)} runc container(s) left, runc delete --force")
        cache = sorted(LIBCNI_CACHE.glob(f"{self.network.name}-*")) if LIBCNI_CACHE.is_dir() else []
        # and the pod's own `lo`: containerd attaches it as a network of its own, "cni-loopback"
        sandboxes = [e.name[len(self.network.name) + 1:].rsplit("-", 1)[0] for e in cache]
        cache += [p for p in (LIBCNI_CACHE / f"cni-loopback-{sid}-lo" for sid in sandboxes) if p.exists()]
        for entry in cache:       # an attachment left: its result names the pod's netns
            try:
                result = json.loads(entry.read_text()).get("result") or {}
                self.netns_seen.update(i["sandbox"] for i in result.get("interfaces", []) if i.get("sandbox"))
            except (OSError, ValueError, TypeError, KeyError):
                pass
        netns = [p for p in sorted(self.netns_seen) if os.path.dirname(p) in ("/var/run/netns", "/run/netns")
                 and os.path.exists(p)]
        for path in netns:
            subprocess.run(["umount", path], capture_output=True)
            try:
                os.unlink(path)
            except OSError:
                pass
        if netns:
            done.append(f"containerd: {len(netns)} pod netns left in {NETNS_DIR}, unmounted and removed")
        for entry in cache:
            entry.unlink(missing_ok=True)
        if cache:
            done.append(f"containerd: {len(cache)} libcni cache record(s) of our pods left in {LIBCNI_CACHE}, removed")
        unmount_under(self.workdir)
        for d in self.host_dirs_missing:
            try:
                d.rmdir()
                done.append(f"containerd: rmdir {d} (made by this run, empty)")
            except OSError:
                pass
        return done + self.network.teardown()


def remove_cgroups(parent: str) -> list[str]:
    """The pods' cgroup parent in every hierarchy (or in the unified root),
    leaf first: only empty cgroups go; what is still there, for the report."""
    base = Path("/sys/fs/cgroup")
    roots = [base] if (base / "cgroup.controllers").exists() else [h for h in sorted(base.iterdir()) if h.is_dir()]
    left = []
    for root in roots:
        path = root / parent.strip("/")
        if path.is_dir():
            _remove_cgroup_tree(str(path))
            if path.exists():
                left.append(str(path))
    return left
