"""Acceptance: limits work for real under minictr-runtime. Runs on this
host's v1 controllers and, marked cgroupv2, inside the unified-v2 VM."""
import json
import subprocess
import threading
import time

import pytest

from support.bundles import make_bundle, runc_default_spec
from support.runtimes import cli, leftovers, run_bundle

pytestmark = [pytest.mark.root, pytest.mark.cgroupv2]


def _spec(args, resources):
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["linux"]["resources"].update(resources)
    return spec


def _hog_spec():
    limit = 32 << 20
    # tail buffers an endless line from /dev/zero: it grows until killed
    return _spec(["tail", "/dev/zero"], {"memory": {"limit": limit, "swap": limit}})


def test_memory_limit_oom_kills_a_hog(tmp_path, busybox_rootfs):
    bundle = make_bundle(tmp_path / "b", _hog_spec(), rootfs_src=busybox_rootfs)
    res = run_bundle("minictr", tmp_path / "state", bundle, "oomhog", timeout=60)
    assert res.returncode == 137, res.stderr
    assert "OOM-killed" in res.stderr
    assert not leftovers("oomhog")


def test_oom_kill_is_an_event(tmp_path, busybox_rootfs):
    """`events` (what engines watch) reports the OOM kill; the container is
    made with create/start so it stays until `delete`, as under an engine."""
    bundle = make_bundle(tmp_path / "b", _hog_spec(), rootfs_src=busybox_rootfs)
    state = tmp_path / "state"
    events = []
    try:
        cli("minictr", state, "create", "--bundle", str(bundle), "oomev", check=True)

        def watch():
            res = cli("minictr", state, "events", "--interval", "100ms", "oomev", timeout=60)
            events.extend(json.loads(line) for line in res.stdout.splitlines() if line.strip())

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(0.5)  # events is watching before the hog starts
        cli("minictr", state, "start", "oomev", check=True)
        watcher.join(60)
        assert not watcher.is_alive(), "events did not end when the container stopped"
        assert json.loads(cli("minictr", state, "state", "oomev").stdout)["status"] == "stopped"
    finally:
        cli("minictr", state, "delete", "--force", "oomev")
    assert any(e["type"] == "oom" for e in events), events
    assert not leftovers("oomev")


def test_pids_limit_stops_a_fork_bomb(tmp_path, busybox_rootfs):
    # bounded: 40 attempts, each child sleeps 2 s and exits
    # the count is read with shell builtins only: no fork is left to spare
    script = ("(for i in $(seq 1 40); do sleep 2 & done); "
              "for f in /sys/fs/cgroup/pids.current /sys/fs/cgroup/pids/pids.current; do "
              "[ -f $f ] && read n < $f && echo procs=$n; done; wait")
    spec = _spec(["sh", "-c", script], {"pids": {"limit": 10}})
    bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
    res = run_bundle("minictr", tmp_path / "state", bundle, "forkbomb", timeout=60)
    assert "fork" in res.stderr, res.stderr
    procs = int(res.stdout.split("procs=")[1].split()[0])
    assert procs <= 10, res.stdout


def test_cpu_quota_throttles(tmp_path, busybox_rootfs):
    # 0.2 CPU; spin 2 s of wall time; cpu.stat must show throttling and the
    # usage must stay well under the wall time
    script = ("read up0 rest < /proc/uptime; timeout 2 sh -c 'while :; do :; done'; "
              "read up1 rest < /proc/uptime; echo uptime_start $up0; echo uptime_end $up1; "
              "if [ -f /sys/fs/cgroup/cpu.stat ]; then cat /sys/fs/cgroup/cpu.stat; "
              "else cat /sys/fs/cgroup/cpu/cpu.stat; echo usage_ns $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage); fi")
    spec = _spec(["sh", "-c", script], {"cpu": {"quota": 20000, "period": 100000}})
    bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
    res = run_bundle("minictr", tmp_path / "state", bundle, "cpuquota", timeout=60)
    assert res.returncode in (0, 124, 143), res.stderr
    stat = dict(line.split() for line in res.stdout.splitlines() if len(line.split()) == 2)
    assert int(stat["nr_throttled"]) > 0, res.stdout
    used_s = int(stat["usage_usec"]) / 1e6 if "usage_usec" in stat else int(stat["usage_ns"]) / 1e9
    # against the wall time the spin really took (a loaded VM stretches `timeout 2`)
    wall_s = float(stat["uptime_end"]) - float(stat["uptime_start"])
    assert used_s < 0.5 * wall_s, f"used {used_s:.2f}s of CPU in {wall_s:.2f}s of wall time at a 0.2 CPU quota"
