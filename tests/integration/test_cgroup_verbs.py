"""The verbs that work through the cgroup driver: pause/resume (freezer or
cgroup.freeze), update, events --stats, delete --force of a whole process
tree (cgroup.kill), and the container's own view of its cgroup. Run on the
host's v1 controllers and, marked cgroupv2, on unified v2 in the test VM."""
import json
import os
import time

import pytest

from support.bundles import make_bundle, runc_default_spec
from support.runtimes import cli, leftovers, run_bundle

pytestmark = [pytest.mark.root, pytest.mark.cgroupv2]

UNIFIED = os.path.exists("/sys/fs/cgroup/cgroup.controllers")

# a ticker: the count only advances while the container runs
TICKER = "i=0; while :; do i=$((i+1)); echo $i > /dev/shm/ticks; sleep 0.05; done"


def _started(tmp_path, busybox_rootfs, args, cid, resources=None, path=None):
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["linux"]["resources"].update(resources or {})
    if path:
        spec["linux"]["cgroupsPath"] = path
    bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
    state = tmp_path / "state"
    cli("minictr", state, "create", "--bundle", str(bundle), cid, check=True)
    cli("minictr", state, "start", cid, check=True)
    return state


@pytest.fixture
def ticker(tmp_path, busybox_rootfs):
    cid = f"tick{os.getpid()}"
    state = _started(tmp_path, busybox_rootfs, ["sh", "-c", TICKER], cid)
    yield state, cid
    cli("minictr", state, "delete", "--force", cid)
    assert not leftovers(cid)


def _ticks(state, cid) -> int:
    out = cli("minictr", state, "exec", cid, "sh", "-c", "cat /dev/shm/ticks 2>/dev/null; true", check=True).stdout.strip()
    return int(out or 0)


def _status(state, cid) -> str:
    return json.loads(cli("minictr", state, "state", cid, check=True).stdout)["status"]


def test_pause_freezes_and_resume_thaws(ticker):
    state, cid = ticker
    deadline = time.monotonic() + 30
    while _ticks(state, cid) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    cli("minictr", state, "pause", cid, check=True)
    assert _status(state, cid) == "paused"
    # exec would join the frozen cgroup and freeze too: read the file from the host side
    pid = json.loads(cli("minictr", state, "state", cid).stdout)["pid"]
    ticks_file = f"/proc/{pid}/root/dev/shm/ticks"
    frozen_at = open(ticks_file).read()
    time.sleep(0.6)
    assert open(ticks_file).read() == frozen_at, "the ticker advanced while paused"
    cli("minictr", state, "resume", cid, check=True)
    assert _status(state, cid) == "running"
    deadline = time.monotonic() + 30
    while open(ticks_file).read() == frozen_at and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open(ticks_file).read() != frozen_at, "the ticker did not resume"


def _limit_inside(state, cid) -> str:
    path = "/sys/fs/cgroup/memory.max" if UNIFIED else "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    return cli("minictr", state, "exec", cid, "cat", path, check=True).stdout.strip()


def test_update_changes_limits_seen_inside(ticker):
    state, cid = ticker
    cli("minictr", state, "update", "--memory", "64m", "--pids-limit", "50", cid, check=True)
    assert _limit_inside(state, cid) == str(64 << 20)
    for _ in range(30):  # sh alone between two sleeps: look again (bounded)
        stats = json.loads(cli("minictr", state, "events", "--stats", cid, check=True).stdout)
        if stats["data"]["pids"]["current"] >= 2:
            break
        time.sleep(0.05)
    assert stats["type"] == "stats"
    assert stats["data"]["pids"]["limit"] == 50
    assert stats["data"]["memory"]["usage"]["limit"] == 64 << 20
    assert stats["data"]["pids"]["current"] >= 2  # sh and its sleep
    assert stats["data"]["memory"]["usage"]["usage"] > 0


def test_update_rejects_bad_values_and_keeps_limits(ticker):
    state, cid = ticker
    cli("minictr", state, "update", "--memory", "64m", cid, check=True)
    res = cli("minictr", state, "update", "--memory", "banana", cid)
    assert res.returncode != 0
    assert "memory" in res.stderr
    assert _limit_inside(state, cid) == str(64 << 20)


def test_delete_force_kills_the_whole_tree(tmp_path, busybox_rootfs):
    """Children that outlive their parent (reparented inside the container)
    all die: the cgroup ends empty and is removed."""
    cid = f"tree{os.getpid()}"
    script = "for i in 1 2 3 4 5; do (sleep 300 &) ; done; exec sleep 300"
    state = _started(tmp_path, busybox_rootfs, ["sh", "-c", script], cid)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ps = cli("minictr", state, "ps", "--format", "json", cid).stdout
            if len(json.loads(ps or "[]")) >= 6:
                break
            time.sleep(0.1)
        pids = json.loads(cli("minictr", state, "ps", "--format", "json", cid, check=True).stdout)
        assert len(pids) >= 6, pids
    finally:
        cli("minictr", state, "delete", "--force", cid, check=True)
    assert [p for p in pids if _alive(p)] == []
    assert not leftovers(cid)


def _alive(pid: int) -> bool:
    """Running or sleeping, not a zombie: once `create` has exited the init's
    parent is the host's pid 1 (an engine's shim would be its subreaper),
    and reaping it is that process's business."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_container_sees_its_cgroup_as_root(tmp_path, busybox_rootfs):
    """With a cgroup namespace (runc's default spec has one) the container
    sees itself at the root and can read its own limits."""
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", "cat /proc/self/cgroup; "
                               "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null; true"]
    spec["linux"]["resources"]["pids"] = {"limit": 33}
    if not any(ns["type"] == "cgroup" for ns in spec["linux"]["namespaces"]):
        spec["linux"]["namespaces"].append({"type": "cgroup"})
    bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
    res = run_bundle("minictr", tmp_path / "state", bundle, "cgview")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split()
    assert "33" in lines, res.stdout
    cgroup_lines = [l for l in lines if l.count(":") >= 2]
    assert cgroup_lines and all(l.endswith(":/") for l in cgroup_lines), res.stdout


def test_absolute_cgroups_path(tmp_path, busybox_rootfs):
    """An absolute cgroupsPath is taken from the hierarchy's root, as runc does."""
    cid = f"abs{os.getpid()}"
    path = f"/minictr-test-{cid}/{cid}"
    state = _started(tmp_path, busybox_rootfs, ["sleep", "300"], cid, path=path)
    try:
        where = f"/sys/fs/cgroup{path}" if UNIFIED else f"/sys/fs/cgroup/pids{path}"
        pid = json.loads(cli("minictr", state, "state", cid).stdout)["pid"]
        with open(os.path.join(where, "cgroup.procs")) as f:
            assert str(pid) in f.read().split()
    finally:
        cli("minictr", state, "delete", "--force", cid, check=True)
    assert not os.path.exists(where)
    assert not os.path.exists(os.path.dirname(where)), "the parent the runtime made is left behind"
