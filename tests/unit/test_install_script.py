"""The install script's distro branches, run in dry-run mode (no VM runs
here), and the Vagrantfile that uses it."""
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _dry_run(distro: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / ".ci" / "install"), "--dry-run", "--distro", distro],
                          capture_output=True, text=True, timeout=30)


def test_ubuntu_branch_uses_ubuntu_package_names():
    res = _dry_run("ubuntu")
    assert res.returncode == 0, res.stderr
    apt = next(line for line in res.stdout.splitlines() if "apt-get install" in line)
    assert "linux-image-generic" in apt and "linux-image-amd64" not in apt
    for pkg in ("runc", "podman", "libseccomp-dev", "python3-venv", "busybox-static"):
        assert f" {pkg}" in apt
    assert "pip install" in res.stdout and "compileall" in res.stdout
    assert res.stdout.index("pip install -q -e") < res.stdout.index("-m minictr.launchers")   # after pip's scripts


def test_debian_branch():
    res = _dry_run("debian")
    assert res.returncode == 0, res.stderr
    assert "linux-image-amd64" in res.stdout


def test_unknown_distro_is_refused():
    res = _dry_run("plan9")
    assert res.returncode != 0 and "unsupported distribution 'plan9'" in res.stderr


def test_vagrantfile_validates():
    if not shutil.which("vagrant"):
        pytest.skip("vagrant is not installed (apt-get install vagrant)")
    res = subprocess.run(["vagrant", "validate", "--ignore-provider"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
