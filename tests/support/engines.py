"""Real engines (podman from apt, a private dockerd) driving minictr-runtime.

Each engine gets private storage and state so nothing touches the host's
own podman/docker setup, and networking is off (`--network none`,
`--bridge=none --iptables=false`) so no packet or rule leaves the test."""
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from . import bundles

HERE = Path(__file__).resolve().parent
CONTAINERS_CONF = HERE.parent / "engines" / "containers.conf"
IMAGE = "localhost/busybox:test"


def _run(cmd: list[str], timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    """stdio through files: a detached container's processes may inherit a
    pipe and keep it open long after the engine command returned."""
    import tempfile
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                              timeout=timeout, env=env)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())


class Engine:
    """A CLI with fixed leading arguments; `run` returns CompletedProcess."""

    def __init__(self, argv: list[str], env: dict | None = None, runtime_roots: str = ""):
        self.argv = argv
        self.env = env
        # glob for the --root dirs the engine hands to the OCI runtime
        self.runtime_roots = runtime_roots

    def __call__(self, *args: str, timeout: float = 90, check: bool = True) -> subprocess.CompletedProcess:
        res = _run(self.argv + list(args), timeout, self.env)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(self.argv[:1] + list(args))} exited {res.returncode}\n"
                                 f"stdout: {res.stdout}\nstderr: {res.stderr}")
        return res


def _cgroup_dirs(name: str) -> set[str]:
    found = set()
    base = "/sys/fs/cgroup"
    for entry in os.listdir(base):
        path = os.path.join(base, entry, name)
        if os.path.isdir(path):
            found.add(path)
    return found


def _remove_cgroup_tree(path: str) -> None:
    """Leaf first; a cgroup dir only goes away with rmdir of each level."""
    for dirpath, dirnames, _ in sorted(os.walk(path), key=lambda t: -t[0].count("/")):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def podman(tmp: Path, runtime: str) -> tuple[Engine, callable]:
    """podman with its own --root/--runroot, cgroupfs manager and our runtime;
    returns the engine and a cleanup that also removes the libpod_parent
    cgroups podman/conmon made if they were not there before."""
    binary = shutil.which("podman")
    if not binary:
        raise FileNotFoundError("podman is not installed (apt install podman)")
    had_parent = _cgroup_dirs("libpod_parent")
    env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
    env.pop("CONTAINERS_STORAGE_CONF", None)
    engine = Engine([binary, "--root", str(tmp / "root"), "--runroot", str(tmp / "runroot"),
                     "--tmpdir", str(tmp / "tmpdir"), "--cgroup-manager", "cgroupfs",
                     "--events-backend", "file", "--storage-driver", "overlay",
                     "--runtime", runtime], env, runtime_roots="/run/minictr-runtime")
    engine("pull", "-q", f"oci:{bundles.BUSYBOX_LAYOUT}", timeout=180)
    image_id = engine("images", "-q").stdout.split()[0]
    engine("tag", image_id, IMAGE)

    def cleanup():
        engine("rm", "-a", "-f", "-t", "0", check=False)
        engine("rmi", "-a", "-f", check=False, timeout=120)
        for path in _cgroup_dirs("libpod_parent") - had_parent:
            _remove_cgroup_tree(path)
        unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    return engine, cleanup


class Dockerd:
    """A private dockerd: own data/exec roots and socket, no bridge, no
    iptables, minictr-runtime registered as runtime `minictr`.

    default_bridge=True keeps docker's default bridge network (docker0) and
    its iptables rules, as a stock dockerd has them; the caller then owns
    removing docker0 and the DOCKER chains after stop() (dockerd leaves them)."""

    def __init__(self, tmp: Path, runtime: str, default_bridge: bool = False):
        self.tmp = tmp
        self.runtime = runtime
        self.default_bridge = default_bridge
        self.sock = tmp / "docker.sock"
        self.pidfile = tmp / "dockerd.pid"
        self.log = tmp / "dockerd.log"
        self.proc = None
        self.engine = None

    def start(self, timeout: float = 60) -> Engine:
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        client = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")
        if not os.path.exists(dockerd) or not client:
            raise FileNotFoundError("dockerd/docker not installed (apt install docker.io)")
        cmd = [dockerd, "--data-root", str(self.tmp / "data"), "--exec-root", str(self.tmp / "exec"),
               "-H", f"unix://{self.sock}", "--pidfile", str(self.pidfile)]
        if not self.default_bridge:
            cmd += ["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false"]
        cmd += ["--containerd-namespace", "minictr-test", "--containerd-plugins-namespace",
                "minictr-test-plugins", "--add-runtime", f"minictr={self.runtime}"]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        # containerd-shim-runc-v2 passes --root <exec-root>/runtime-runc/<namespace>
        engine = self.engine = Engine([client, "-H", f"unix://{self.sock}"],
                                      runtime_roots=str(self.tmp / "exec" / "runtime-*" / "*"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            if self.sock.exists() and engine("version", check=False, timeout=10).returncode == 0:
                return engine
            time.sleep(0.3)
        raise TimeoutError(f"dockerd not ready after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """Remove the containers, then SIGTERM by PID (dockerd stops its
        containerd), SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        ids = self.engine("ps", "-aq", check=False).stdout.split()
        if ids:
            self.engine("rm", "-f", *ids, check=False)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def docker_load_busybox(engine: Engine, tmp: Path) -> None:
    """skopeo turns the OCI layout into a docker archive that `docker load`
    takes, tagged as IMAGE."""
    archive = tmp / "busybox.tar"
    subprocess.run(["skopeo", "copy", "-q", f"oci:{bundles.BUSYBOX_LAYOUT}",
                    f"docker-archive:{archive}:{IMAGE}"], check=True, timeout=120,
                   capture_output=True)
    engine("load", "-i", str(archive), timeout=120)
    archive.unlink()


def unmount_under(path: Path) -> None:
    """Lazy-unmount anything an engine left mounted under its private dirs."""
    prefix = str(path)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
