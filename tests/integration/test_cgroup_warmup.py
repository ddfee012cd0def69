"""The start-up warm-up (minictr/runtime/cgroups/warmup.py) makes a scratch
cgroup beside the runtime's own in the v1 cpu hierarchy: it must be gone
after create, run and exec, and one left by a killed runtime is swept."""
import glob
import os
import subprocess

import pytest

from support.bundles import make_bundle, runc_default_spec
from support.runtimes import cli, run_bundle

pytestmark = pytest.mark.root


def _cpu_parent() -> str:
    for line in open("/proc/self/cgroup").read().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            d = "/sys/fs/cgroup/cpu" + path.rstrip("/")
            if os.path.exists(os.path.join(d, "tasks")):
                return d
    pytest.skip("no v1 cpu hierarchy on this host: the warm-up is not used (unified cgroup v2)")


def _scratch(parent: str) -> list[str]:
    return glob.glob(os.path.join(parent, ".minictr-warm-*"))


def _bundle(tmp_path, busybox_rootfs, args):
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    return make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)


def test_no_scratch_cgroup_left_by_run_create_exec(tmp_path, busybox_rootfs):
    parent = _cpu_parent()
    before = _scratch(parent)
    res = run_bundle("minictr", tmp_path / "state", _bundle(tmp_path, busybox_rootfs, ["true"]), "warm-run")
    assert res.returncode == 0, res.stderr
    assert _scratch(parent) == before

    cid = "warm-create"
    bundle = tmp_path / "b"
    (bundle / "config.json").write_text((bundle / "config.json").read_text().replace('"true"', '"sleep", "30"'))
    state = tmp_path / "state"
    try:
        cli("minictr", state, "create", "--bundle", str(bundle), cid, check=True)
        assert _scratch(parent) == before, "create left its scratch cgroup"
        cli("minictr", state, "start", cid, check=True)
        assert cli("minictr", state, "exec", cid, "true").returncode == 0
        assert _scratch(parent) == before, "exec left its scratch cgroup"
    finally:
        cli("minictr", state, "delete", "--force", cid)


def test_scratch_of_a_dead_runtime_is_swept(tmp_path, busybox_rootfs):
    parent = _cpu_parent()
    # a pid that surely is dead: a child we started and reaped
    p = subprocess.Popen(["true"])
    p.wait()
    stale = os.path.join(parent, f".minictr-warm-{p.pid}")
    os.mkdir(stale)
    try:
        res = run_bundle("minictr", tmp_path / "state", _bundle(tmp_path, busybox_rootfs, ["true"]), "warm-sweep")
        assert res.returncode == 0, res.stderr
        assert not os.path.exists(stale)
    finally:
        if os.path.exists(stale):
            os.rmdir(stale)
