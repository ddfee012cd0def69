"""docker's less common run options, which the CRI also asks for, seen
from inside the container as a user checks them: --sysctl, --dns-search /
--dns-option, --group-add, --oom-score-adj, --cpu-quota/--cpu-period,
--cpuset-cpus, --device, --cgroup-parent; and each refused with docker's
words when wrong, leaving no container behind."""
import json
import os

import pytest

pytestmark = pytest.mark.root


def run(mc, *args, check=True):
    return mc("run", "--rm", "--network", "none", *args, timeout=60, check=check)


def test_sysctls_dns_and_groups_reach_the_container(mc):
    out = mc("run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmni=2048",
             "--dns-search", "example.test", "--dns-option", "ndots:3", "--group-add", "10",
             "--group-add", "daemon", "busybox", "sh", "-c",
             "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; grep -E '^(search|options)' "
             "/etc/resolv.conf; id -G", timeout=60, check=True).stdout.splitlines()
    assert out[:2] == ["1", "2048"]
    assert "search example.test" in out and "options ndots:3" in out
    groups = out[-1].split()
    assert groups[0] == "0" and "10" in groups and "1" in groups   # busybox's daemon is gid 1


def test_oom_score_adj_and_cpu_limits(mc):
    out = run(mc, "--oom-score-adj", "500", "--cpu-quota", "50000", "--cpu-period", "100000",
              "--cpuset-cpus", "0", "busybox", "sh", "-c",
              "cat /proc/self/oom_score_adj; grep Cpus_allowed_list /proc/self/status").stdout.split()
    assert out[0] == "500" and out[-1] == "0"
    res = run(mc, "--cpus", "1", "--cpu-period", "100000", "busybox", "true", check=False)
    assert res.returncode != 0 and "Conflicting options: Nano CPUs and CPU Period" in res.stderr
    res = run(mc, "--oom-score-adj", "1001", "busybox", "true", check=False)
    assert res.returncode != 0 and "range for oom score adj is [-1000, 1000]" in res.stderr


def test_a_device_is_made_with_its_permissions(mc):
    st = os.stat("/dev/null")
    out = run(mc, "--device", "/dev/null:/dev/mynull:rw", "busybox", "sh", "-c",
              "ls -l /dev/mynull; echo x > /dev/mynull && echo wrote").stdout
    words = out.split()
    assert words[0].startswith("crw") and words[4:6] == [f"{os.major(st.st_rdev)},", str(os.minor(st.st_rdev))]
    assert "wrote" in out
    res = run(mc, "--device", "/etc/passwd", "busybox", "true", check=False)
    assert res.returncode != 0 and "not a device node" in res.stderr
    res = run(mc, "--device", "relative", "busybox", "true", check=False)
    assert res.returncode != 0 and "is not an absolute path" in res.stderr


def test_sysctls_that_would_change_the_host_are_refused(mc):
    before = mc("ps", "-aq", check=True).stdout
    for sysctl, why in (("vm.swappiness=10", "not namespaced"), ("kernel.hostname=x", "--hostname")):
        res = run(mc, "--sysctl", sysctl, "busybox", "true", check=False)
        assert res.returncode != 0 and why in res.stderr, res.stderr
    res = mc("run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=0", "busybox", "true",
             timeout=60)
    assert res.returncode != 0 and "host's network namespace" in res.stderr
    assert mc("ps", "-aq", check=True).stdout == before
    with open("/proc/sys/vm/swappiness") as f:
        assert f.read().strip() != ""   # the host's value is still readable: untouched


def test_cgroup_parent_places_the_container(mc):
    cid = mc("run", "-d", "--network", "none", "--cgroup-parent", "/minictr-test-parent", "busybox",
             "sleep", "30", check=True).stdout.strip()
    mc.leftovers.append(cid)
    try:
        pid = mc("inspect", "-f", "{{.State.Pid}}", cid, check=True).stdout.strip()
        line = next(l for l in open(f"/proc/{pid}/cgroup").read().splitlines()
                    if ":pids:" in l or l.startswith("0::"))
        assert line.split(":", 2)[2] == f"/minictr-test-parent/{cid}", line
        inspect = json.loads(mc("inspect", cid, check=True).stdout)[0]
        assert inspect["HostConfig"]["CgroupParent"] == "/minictr-test-parent"
    finally:
        mc("rm", "-f", cid, check=True)
        mc.leftovers.remove(cid)
    # the runtime made the parent, so it removed it with the container's own;
    # a parent someone else made (the kubelet's pod cgroup) is left to its owner
    import glob
    left = glob.glob("/sys/fs/cgroup/*/minictr-test-parent") + glob.glob("/sys/fs/cgroup/minictr-test-parent")
    for d in left:
        os.rmdir(d)
    assert not left


def test_a_cgroup_parent_made_by_someone_else_is_kept(mc):
    import glob
    hierarchies = [d for d in glob.glob("/sys/fs/cgroup/*") if os.path.isfile(os.path.join(d, "cgroup.procs"))]
    made = []
    try:
        for h in hierarchies:
            os.mkdir(os.path.join(h, "minictr-test-owned"))
            made.append(os.path.join(h, "minictr-test-owned"))
        run(mc, "--cgroup-parent", "minictr-test-owned", "busybox", "true")
        for d in made:
            assert os.path.isdir(d) and not [n for n in os.listdir(d) if len(n) == 64], d
    finally:
        for d in made:
            os.rmdir(d)


def _cgroup_file(pid: str, controller: str, name: str) -> str:
    for line in open(f"/proc/{pid}/cgroup").read().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            with open(f"/sys/fs/cgroup/{controllers}{path}/{name}") as f:
                return f.read().strip()
    pytest.skip(f"no v1 {controller} hierarchy here (the cgroup v2 VM covers update)")


def test_update_changes_a_running_containers_limits(mc):
    cid = mc("run", "-d", "--network", "none", "-m", "64m", "busybox", "sleep", "60", check=True).stdout.strip()
    mc.leftovers.append(cid)
    pid = mc("inspect", "-f", "{{.State.Pid}}", cid, check=True).stdout.strip()
    assert _cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(64 << 20)
    res = mc("update", "-m", "128m", "--memory-swap", "256m", "--cpus", "0.5", "--pids-limit", "50", cid,
             check=True)
    assert res.stdout.strip() == cid
    assert _cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(128 << 20)
    assert _cgroup_file(pid, "cpu", "cpu.cfs_quota_us") == "50000"
    assert _cgroup_file(pid, "pids", "pids.max") == "50"
    host = json.loads(mc("inspect", cid, check=True).stdout)[0]["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (128 << 20, 500_000_000, 50)
    # refused: below docker's minimum; nothing changes
    res = mc("update", "-m", "1m", cid)
    assert res.returncode != 0 and "Minimum memory limit allowed is 6MB" in res.stderr
    assert _cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(128 << 20)
    res = mc("update", cid)
    assert res.returncode != 0 and "one or more flags" in res.stderr
    # a stopped container keeps the new limits for its next start
    mc("stop", "-t", "0", cid, check=True)
    mc("update", "-m", "96m", cid, check=True)
    mc("start", cid, check=True)
    pid = mc("inspect", "-f", "{{.State.Pid}}", cid, check=True).stdout.strip()
    assert _cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(96 << 20)
    mc("rm", "-f", cid, check=True)
    mc.leftovers.remove(cid)
