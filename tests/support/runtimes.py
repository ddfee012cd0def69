"""Running a bundle under minictr-runtime or runc the same way, for
side-by-side comparisons."""
import os
import shutil
import subprocess
import sys
from pathlib import Path


def minictr_runtime() -> str:
    cand = Path(sys.executable).parent / "minictr-runtime"
    return str(cand) if cand.exists() else (shutil.which("minictr-runtime") or "minictr-runtime")


def runtime_cmd(which: str, root: Path) -> list[str]:
    binary = minictr_runtime() if which == "minictr" else shutil.which(which)
    assert binary, f"{which} not found"
    return [binary, "--root", str(root)]


def run_bundle(which: str, root: Path, bundle: Path, container_id: str, timeout: float = 60,
               stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    cmd = runtime_cmd(which, root) + ["run", "--bundle", str(bundle), container_id]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=stdin)
    finally:
        # a failed run must not leave a container behind
        subprocess.run(runtime_cmd(which, root) + ["delete", "--force", container_id], capture_output=True)


def cli(which: str, root: Path, *args: str, timeout: float = 30, check: bool = False) -> subprocess.CompletedProcess:
    """Output goes to files, not pipes: after `create` the container's init
    keeps the runtime's stdio open, so reading a pipe to EOF would wait for
    the container to exit."""
    import tempfile
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run(runtime_cmd(which, root) + list(args), stdout=out, stderr=err,
                              stdin=subprocess.DEVNULL, timeout=timeout)
        out.seek(0)
        err.seek(0)
        res = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
    if check and res.returncode != 0:
        raise AssertionError(f"{which} {' '.join(args)} failed ({res.returncode}): {res.stderr}")
    return res


def leftovers(container_id: str) -> list[str]:
    """Mounts and cgroups that still mention the container id."""
    found = []
    with open("/proc/self/mountinfo") as f:
        found += [line.strip() for line in f if container_id in line]
    for base in ("/sys/fs/cgroup",):
        for dirpath, dirnames, _ in os.walk(base):
            if dirpath.count("/") > 7:
                dirnames[:] = []
                continue
            found += [os.path.join(dirpath, d) for d in dirnames if container_id in d]
    return found
