"""A private engine for a test module: its own root, busybox loaded from the
real Docker Hub layout in ../shared/images and tagged `busybox:latest`,
and its own default bridge (a random name and subnet, so a real minictr0
on the host is never touched). teardown() removes every container, then
checks nothing of theirs is left mounted."""
import json
import os
import secrets
import subprocess
import sys
import tarfile
from pathlib import Path

from support.bundles import BUSYBOX_LAYOUT
from support.engine_cli import MinictrCLI


def _layout_tar(layout: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w") as tar:
        for entry in sorted(layout.iterdir()):
            tar.add(entry, arcname=entry.name)
    return dest


def free_test_subnet(prefix: str) -> str:
    """A random /24 under prefix that no route on the host uses yet."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    for _ in range(100):
        candidate = f"{prefix}.{secrets.randbelow(250) + 2}."
        if candidate not in routes:
            return candidate + "0/24"
    raise RuntimeError(f"no free /24 under {prefix} on this host")


class EngineEnv(MinictrCLI):
    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.leftovers: list[str] = []   # names removed after each test, whatever its outcome
        self.bridge = f"mct{secrets.token_hex(4)}"
        self.subnet = free_test_subnet("10.231")
        self.env.update({"MINICTR_BRIDGE_NAME": self.bridge, "MINICTR_BRIDGE_SUBNET": self.subnet,
                         "MINICTR_NETWORK_CONF": str(self.workdir / "network.json")})

    @property
    def venv_minictr(self) -> Path:
        from support.engine_cli import VENV_BIN
        return VENV_BIN / "minictr"

    def load_busybox(self) -> None:
        tar = _layout_tar(BUSYBOX_LAYOUT, self.workdir / "busybox.tar")
        self("load", "-i", str(tar), check=True)
        loaded = json.loads(self("image", "inspect", "busybox:1.38.0-glibc", check=True).stdout)[0]
        self("tag", loaded["Id"], "busybox:latest", check=True)

    def run_detached(self, *args: str) -> str:
        res = self("run", "-d", *args, check=True, timeout=60)
        return res.stdout.strip()

    def inspect_container(self, name: str) -> dict:
        return json.loads(self("container", "inspect", name, check=True).stdout)[0]

    def teardown(self) -> list[str]:
        """Remove every container; returns what was left mounted under the root."""
        ids = self("ps", "-aq", "--no-trunc").stdout.split()
        if ids:
            self("rm", "-f", *ids, timeout=120)
        self._network_teardown()
        root = str(self.root)
        with open("/proc/self/mountinfo") as f:
            left = [line.split()[4] for line in f if line.split()[4].startswith(root)]
        for point in sorted(left, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        return left

    def _network_teardown(self) -> None:
        self("network", "prune", "-f", timeout=60)
        teardown = Path(__file__).with_name("network_teardown.py")
        subprocess.run([sys.executable, str(teardown), str(self.root)], capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


def module_engine(tmp_path_factory, name: str, why: str = "the engine needs root (namespaces, overlayfs, cgroups)"):
    """The body of a module-scoped `mc` fixture: an EngineEnv with busybox
    loaded, torn down after the module (nothing may be left mounted)."""
    import shutil

    import pytest
    from support.bundles import BUSYBOX_LAYOUT as layout
    if os.geteuid() != 0:
        pytest.skip(why)
    if not layout.exists():
        pytest.skip(f"busybox layout missing: {layout}")
    env = EngineEnv(tmp_path_factory.mktemp(name))
    env.load_busybox()
    yield env
    left = env.teardown()
    shutil.rmtree(env.workdir, ignore_errors=True)
    assert not left, f"left mounted: {left}"
