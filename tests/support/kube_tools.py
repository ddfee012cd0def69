"""The real Kubernetes parts for tests (never used by minictr itself): the
reference API server on etcd (../shared/tools/reference-apiserver.sh),
the real kubelet (v1.36) with a configuration that works on these hybrid
cgroup hosts (../shared/tools/kubelet-notes.md), and kubectl 1.35 / 1.20
from the venv's tools folder (.ci/install puts them there). Each finder
returns (path, "") or (None, why) so a test skips saying why."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .bundles import REPO
from .cri_tools import SHARED_TOOLS

TOOLS = REPO / ".venv" / "tools"
# what the kubelet sets on the host at start (kubelet-notes.md): put back after
KUBELET_SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")


def unpacked(name: str) -> tuple[Path | None, str]:
    unpack = SHARED_TOOLS / "unpack.sh"
    if not unpack.exists():
        return None, f"{name}: {unpack} not found (the shared tools folder is missing)"
    res = subprocess.run(["bash", str(unpack)], capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        return None, f"{name}: {unpack} failed: {res.stderr.strip()[-500:]}"
    path = Path(res.stdout.strip().splitlines()[-1]) / name
    return (path, "") if os.access(path, os.X_OK) else (None, f"{name}: not there after unpack.sh")


def kubectl(version: str = "1.35") -> tuple[Path | None, str]:
    path = TOOLS / f"kubectl-{version}"
    if os.access(path, os.X_OK):
        return path, ""
    return None, f"kubectl {version}: {path} missing (bash .ci/install fetches it)"


def missing_for_control_plane() -> str:
    for tool in ("etcd", "openssl", "curl"):
        if not shutil.which(tool):
            return f"{tool} not installed (apt install etcd-server openssl curl)"
    return ""


class ControlPlane:
    """The reference API server (etcd + kube-apiserver) on 127.0.0.1:port."""

    def __init__(self, workdir: Path, port: int = 16443):
        self.dir, self.port = Path(workdir), port
        self.kubeconfig: Path | None = None

    def start(self) -> "ControlPlane":
        res = subprocess.run(["bash", str(SHARED_TOOLS / "reference-apiserver.sh"), "start", str(self.dir),
                              str(self.port)], capture_output=True, text=True, timeout=180)
        if res.returncode != 0:
            self.stop()
            raise RuntimeError(f"reference-apiserver.sh start: {res.stderr[-2000:]}")
        self.kubeconfig = Path(res.stdout.strip().splitlines()[-1])
        return self

    def stop(self) -> None:
        subprocess.run(["bash", str(SHARED_TOOLS / "reference-apiserver.sh"), "stop", str(self.dir)],
                       capture_output=True, timeout=120)

    @property
    def ca(self) -> Path:
        return self.dir / "pki" / "ca.crt"


class Kubelet:
    """The real kubelet driving a CRI endpoint, as node `localhost` (so the
    API server reaches its port 10250 on 127.0.0.1 for logs and exec)."""

    def __init__(self, workdir: Path, binary: Path, control: ControlPlane, cri_socket: Path):
        self.dir, self.binary, self.control, self.cri_socket = Path(workdir), binary, control, cri_socket
        self.root_dir = self.dir / "root"
        self.pod_logs = self.dir / "pod-logs"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir / "kubelet.log"
        self._sysctls: dict[str, str] = {}

    def config(self) -> Path:
        resolv = self.dir / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\n")     # the pod's own loopback: nothing leaves
        endpoint = f"unix://{self.cri_socket}"
        cfg = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "failCgroupV1": False, "cgroupDriver": "cgroupfs", "cgroupsPerQOS": False,
            "enforceNodeAllocatable": [], "failSwapOn": False,
            "containerRuntimeEndpoint": endpoint, "imageServiceEndpoint": endpoint,
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False},
                               "x509": {"clientCAFile": str(self.control.ca)}},
            "authorization": {"mode": "AlwaysAllow"}, "address": "127.0.0.1", "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1", "resolvConf": str(resolv),
            "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%",
                             "imagefs.available": "1%"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "makeIPTablesUtilChains": False, "oomScoreAdj": 0, "podLogsDir": str(self.pod_logs),
            "volumePluginDir": str(self.dir / "volume-plugins"), "serializeImagePulls": False,
            "syncFrequency": "2s", "fileCheckFrequency": "2s", "nodeStatusUpdateFrequency": "2s",
        }
        path = self.dir / "kubelet.yaml"
        path.write_text(json.dumps(cfg, indent=1))   # JSON is YAML
        return path

    def start(self) -> "Kubelet":
        self.dir.mkdir(parents=True, exist_ok=True)
        for key in KUBELET_SYSCTLS:
            self._sysctls[key] = Path("/proc/sys", key).read_text().strip()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), "--config", str(self.config()), "--kubeconfig", str(self.control.kubeconfig),
                 "--root-dir", str(self.root_dir), "--cert-dir", str(self.dir / "pki"),
                 "--hostname-override", "localhost", "-v", "2"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        # it bind-mounts its root dir onto itself (and pods' volumes under it)
        for _ in range(3):
            points = [line.split()[4] for line in open("/proc/self/mountinfo")
                      if line.split()[4].startswith(str(self.dir))]
            for point in sorted(points, key=len, reverse=True):
                subprocess.run(["umount", "-l", point], capture_output=True)
        for key, value in self._sysctls.items():
            try:
                Path("/proc/sys", key).write_text(value)
            except OSError:
                pass


def wait_until(check, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    return check()
