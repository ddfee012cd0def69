"""Acceptance 2, v2 half: the tests marked `cgroupv2` (limits, freezer,
cgroup.kill, update, runc parity) run again on unified cgroup v2, inside a
throwaway qemu VM booted here, because this host's cgroups are hybrid."""
import os
import shlex
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

pytestmark = pytest.mark.root


def _need_vm() -> None:
    if os.environ.get("MINICTR_IN_VM"):
        pytest.skip("already inside the test VM")
    try:
        harness.check_host()
    except harness.VMUnavailable as why:
        pytest.skip(f"cannot boot the cgroup v2 VM: {why}")


def test_cgroup_v2_tests_pass_in_vm(tmp_path):
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("this host is unified cgroup v2: the cgroupv2 tests ran here directly")
    _need_vm()

    results = tmp_path / "vm"
    junit = results / "junit.xml"
    # where the shared images are, if the host was told (the guest sees the host's files, not its env)
    shared = os.environ.get("MINICTR_SHARED_IMAGES")
    env = f"MINICTR_SHARED_IMAGES={shlex.quote(shared)} " if shared else ""
    res = harness.run(f"{env}.venv/bin/python -m pytest -q -rs -p no:cacheprovider -m cgroupv2 "
                      f"--junitxml={junit} tests/integration", results, timeout=1200)
    report = f"--- guest output ---\n{res.log}\n--- console (tail) ---\n{res.console[-3000:]}"
    assert res.returncode is not None, f"the VM never reported back ({res.seconds:.0f}s)\n{report}"
    print(f"cgroup v2 VM: {res.seconds:.0f}s, pytest exit {res.returncode}")
    assert "cgroup2 controllers:" in res.log and "memory" in res.log.split("cgroup2 controllers:")[1].split("\n")[0], report
    assert res.returncode == 0, report

    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    assert counts["tests"] >= 10 and counts["failures"] == counts["errors"] == 0, (counts, report)
    # inside the VM nothing may skip: every cgroupv2 test must have really run on v2
    assert counts["skipped"] == 0, (counts, report)


def test_the_vm_sees_a_repository_under_tmp(tmp_path):
    """The guest mounts a fresh /tmp: a clone there must still be the guest's
    working directory (the repository is a share of its own)."""
    _need_vm()
    clone = Path("/tmp") / f"minictr-vm-clone-{os.getpid()}"
    clone.mkdir()
    try:
        (clone / "marker").write_text("the clone under /tmp\n")
        res = harness.run("pwd; cat marker", tmp_path / "vm", timeout=300, repo=clone)
        assert res.returncode == 0, f"{res.log}\n{res.console[-2000:]}"
        assert f"{clone}\nthe clone under /tmp" in res.log, res.log
    finally:
        import shutil
        shutil.rmtree(clone, ignore_errors=True)
