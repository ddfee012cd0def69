"""`minictr cri` for tests: started on a private socket with a private
root and registries config (docker.io and registry.k8s.io pointed at a
local registry, fallback off), stopped by PID with SIGTERM; plus crictl
and grpcio clients bound to that socket."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


class CriServer:
    def __init__(self, workdir: Path, mirror: str | None = None, crictl: Path | None = None, network: bool = True):
        """network: a private CNI network (its own conf dir, bridge, free
        subnet, host-local dataDir) for the server's pods; False leaves the
        conf dir empty (the server then writes its default conflist there)."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root = self.workdir / "root"
        self.network = None
        self.cni_conf_dir = self.workdir / "net.d"
        if network:
            from support.cni_env import PodNetEnv
            self.network = PodNetEnv(self.workdir / "podnet", cache_dir=str(self.root / "cni" / "results"),
                                     netns_root=str(self.root / "netns"))
            self.cni_conf_dir = Path(self.network.conf_dir)
        self.socket = self.workdir / "cri.sock"
        self.log_path = self.workdir / "cri.log"
        self.crictl_path = crictl
        conf = self.workdir / "registries.json"
        mirrors = {host: [mirror] for host in ("docker.io", "registry.k8s.io")} if mirror else {}
        conf.write_text(json.dumps({"registry-mirrors": mirrors, "mirror-fallback": False}))
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.workdir),
                    "LANG": "C.UTF-8", "MINICTR_REGISTRIES_CONF": str(conf),
                    "MINICTR_AUTH_FILE": str(self.workdir / "auth.json")}
        self.proc: subprocess.Popen | None = None
        self._channel = None

    # -- the process -------------------------------------------------------------

    def start(self, *extra: str, timeout: float = 30) -> "CriServer":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([str(VENV_BIN / "minictr"), "--root", str(self.root), "cri",
                                          "--listen", str(self.socket), "--cni-conf-dir", str(self.cni_conf_dir),
                                          "--cni-bin-dir", "/usr/lib/cni", *extra],
                                         env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"minictr cri exited {self.proc.returncode}:\n{self.log}")
            if self.answers() and self.ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"minictr cri did not answer on {self.socket} in {timeout} s:\n{self.log}")

    def answers(self) -> bool:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(1)
        try:
            s.connect(str(self.socket))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def ready(self) -> bool:
        """Serving RPCs (the socket exists as soon as it is bound)."""
        import grpc
        from minictr.cri.v1 import api_pb2 as pb
        try:
            self.runtime.Version(pb.VersionRequest(), timeout=2)
            return True
        except grpc.RpcError:
            return False

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, signum: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send signum by PID; the exit status once it has ended."""
        os.kill(self.proc.pid, signum)
        return self.proc.wait(timeout)

    def cleanup(self) -> list[str]:
        """After stop(): every container of the root removed (the pods' pause
        and containers outlive the server, as containerd's shims do), then
        the network's leftovers; what was left behind, for the test to fail on."""
        self.stop()
        engine = [str(VENV_BIN / "minictr"), "--root", str(self.root)]
        if self.root.exists():
            ids = subprocess.run([*engine, "ps", "-aq"], capture_output=True, text=True, env=self.env).stdout.split()
            if ids:
                subprocess.run([*engine, "rm", "-f", *ids], capture_output=True, env=self.env, timeout=120)
        left = self.network.teardown() if self.network is not None else []
        mounts = [line.split()[4] for line in open("/proc/self/mountinfo") if str(self.workdir) in line.split()[4]]
        for point in mounts:
            subprocess.run(["umount", "-l", point], capture_output=True)
        return left + [f"mount {m}" for m in mounts]

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.signal(signal.SIGTERM, timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    # -- clients -----------------------------------------------------------------

    def crictl(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        endpoint = f"unix://{self.socket}"
        res = subprocess.run([str(self.crictl_path), "-r", endpoint, "-i", endpoint, *args],
                             env={**self.env, "CRI_CONFIG_FILE": "/dev/null"}, capture_output=True, text=True,
                             timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"crictl {' '.join(args)} exited {res.returncode}:\n{res.stdout}\n{res.stderr}")
        return res

    def crictl_json(self, *args: str) -> dict:
        return json.loads(self.crictl(*args).stdout)

    @property
    def channel(self):
        import grpc
        if self._channel is None:
            self._channel = grpc.insecure_channel(f"unix://{self.socket}")
        return self._channel

    @property
    def images(self):
        from minictr.cri.v1 import api_pb2_grpc
        return api_pb2_grpc.ImageServiceStub(self.channel)

    @property
    def runtime(self):
        from minictr.cri.v1 import api_pb2_grpc
        return api_pb2_grpc.RuntimeServiceStub(self.channel)
