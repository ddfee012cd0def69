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


def _block_device() -> str | None:
    """major:minor of a real disk of this host (or VM)."""
    import os
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram", "zram", "sr")):
            with open(f"/sys/block/{name}/dev") as f:
                return f.read().strip()
    return None


def _v2() -> bool:
    import os
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def test_block_io_throttles_are_applied(tmp_path, busybox_rootfs):
    dev = _block_device()
    if dev is None:
        pytest.skip("no disk in /sys/block to throttle")
    major, minor = (int(n) for n in dev.split(":"))
    resources = {"blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
                             "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 300}]}}
    show = ("cat /sys/fs/cgroup/io.max" if _v2() else
            "cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device "
            "/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device")
    bundle = make_bundle(tmp_path / "b", _spec(["sh", "-c", show], resources), rootfs_src=busybox_rootfs)
    res = run_bundle("minictr", tmp_path / "state", bundle, "bioctr1", timeout=60)
    assert res.returncode == 0, res.stderr
    if _v2():
        assert f"{dev} rbps=1048576 wbps=max riops=max wiops=300" in res.stdout, res.stdout
    else:
        assert f"{dev} 1048576" in res.stdout and f"{dev} 300" in res.stdout, res.stdout
    assert not leftovers("bioctr1")


def _hugetlb_available() -> bool:
    import os
    if _v2():
        return "hugetlb" in open("/sys/fs/cgroup/cgroup.controllers").read().split()
    return os.path.isdir("/sys/fs/cgroup/hugetlb")


def test_hugepage_limits_are_applied_or_refused_by_name(tmp_path, busybox_rootfs):
    resources = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}
    show = "cat /sys/fs/cgroup/hugetlb.2MB.max" if _v2() else "cat /sys/fs/cgroup/hugetlb/hugetlb.2MB.limit_in_bytes"
    bundle = make_bundle(tmp_path / "b", _spec(["sh", "-c", show], resources), rootfs_src=busybox_rootfs)
    res = run_bundle("minictr", tmp_path / "state", bundle, "hugectr1", timeout=60)
    if _hugetlb_available():
        assert res.returncode == 0 and res.stdout.strip() == str(4 << 20), (res.stdout, res.stderr)
    else:
        assert res.returncode != 0
        assert "linux.resources.hugepageLimits" in res.stderr and "hugetlb" in res.stderr, res.stderr
    assert not leftovers("hugectr1")


@pytest.mark.parametrize("resources,field", [
    ({"network": {"classID": 1048577}}, "linux.resources.network"),
    ({"network": {"priorities": [{"name": "eth0", "priority": 5}]}}, "linux.resources.network"),
])
def test_net_cls_and_net_prio_are_refused_where_they_are_missing(tmp_path, busybox_rootfs, resources, field):
    import os
    if not _v2() and (os.path.isdir("/sys/fs/cgroup/net_cls") or os.path.isdir("/sys/fs/cgroup/net_prio")):
        pytest.skip("this host mounts net_cls/net_prio: they would be applied")
    bundle = make_bundle(tmp_path / "b", _spec(["true"], resources), rootfs_src=busybox_rootfs)
    res = run_bundle("minictr", tmp_path / "state", bundle, "netclsctr1", timeout=60)
    assert res.returncode != 0 and field in res.stderr, res.stderr
    assert not leftovers("netclsctr1")


@pytest.mark.parametrize("where,key,value", [
    ("process", "apparmorProfile", "docker-default"),
    ("process", "selinuxLabel", "system_u:system_r:container_t:s0"),
    ("linux", "mountLabel", "system_u:object_r:container_file_t:s0"),
])
def test_security_labels_are_never_ignored(tmp_path, busybox_rootfs, where, key, value):
    spec = _spec(["true"], {})
    spec[where][key] = value
    bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
    res = run_bundle("minictr", tmp_path / "state", bundle, "labelctr1", timeout=60)
    assert res.returncode != 0 and f"{where}.{key}" in res.stderr, res.stderr
    assert not leftovers("labelctr1")


AA_PROFILE = """profile minictr-test-confined flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  unix,
  mount,
  umount,
  pivot_root,
  ptrace,
  deny /etc/passwd r,
}
"""


def test_an_apparmor_profile_confines_the_process(tmp_path, busybox_rootfs):
    """process.apparmorProfile is applied at execve, as runc does (the VM's
    kernel runs AppArmor; this host's does not, and the test above checks
    the refusal there)."""
    import os
    import shutil
    try:
        enabled = open("/sys/module/apparmor/parameters/enabled").read().strip() == "Y"
    except OSError:
        enabled = False
    if not enabled or not os.path.exists("/sys/kernel/security/apparmor"):
        pytest.skip("AppArmor is not enabled on this host (the cgroup v2 VM runs it)")
    if not shutil.which("apparmor_parser"):
        pytest.skip("apparmor_parser is not installed (apt install apparmor)")
    profile = tmp_path / "minictr-test-confined"
    profile.write_text(AA_PROFILE)
    subprocess.run(["apparmor_parser", "-r", "-W", str(profile)], check=True, capture_output=True, timeout=60)
    try:
        spec = _spec(["sh", "-c", "cat /proc/self/attr/current; cat /etc/passwd >/dev/null 2>&1 && echo readable "
                                  "|| echo denied"], {})
        spec["process"]["apparmorProfile"] = "minictr-test-confined"
        bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
        res = run_bundle("minictr", tmp_path / "state", bundle, "aactr1", timeout=60)
        assert res.returncode == 0, res.stderr
        assert "minictr-test-confined (enforce)" in res.stdout and "denied" in res.stdout, res.stdout
        spec["process"]["apparmorProfile"] = "no-such-profile"
        bundle = make_bundle(tmp_path / "b2", spec, rootfs_src=busybox_rootfs)
        res = run_bundle("minictr", tmp_path / "state", bundle, "aactr2", timeout=60)
        assert res.returncode != 0 and "no-such-profile" in res.stderr, res.stderr
    finally:
        subprocess.run(["apparmor_parser", "-R", str(profile)], capture_output=True, timeout=60)
    assert not leftovers("aactr1") and not leftovers("aactr2")
