"""Containers sharing namespaces, as docker's --ipc, --pid and --uts have
it (and as a pod's containers share the sandbox's): the joiner sees the
other's processes and its SysV IPC objects, a shareable container's
/dev/shm too; the host's namespaces with `host`. Bad values and a donor
that is not running fail at once with docker's words."""
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.probe import parse  # noqa: E402

pytestmark = pytest.mark.root


@pytest.fixture
def donor(mc, probe):
    """A running container holding a SysV shared memory segment."""
    names = []

    def make(name: str, *opts: str) -> str:
        mc.run_detached("--name", name, "--network", "none", "-v", f"{probe}:/probe:ro", *opts, "busybox",
                        "sh", "-c", "/probe shm-create > /tmp/made; echo posix > /dev/shm/note; sleep 600")
        names.append(name)
        for _ in range(100):   # bounded: the segment exists once /tmp/made is written
            if "shm-create OK" in mc("exec", name, "cat", "/tmp/made").stdout:
                return name
        pytest.fail(f"{name}: the probe did not create its segment")
    yield make
    if names:
        mc("rm", "-f", *names, timeout=60)


def _probe_in(mc, probe, *opts: str, script: str):
    return mc("run", "--rm", "--network", "none", "-v", f"{probe}:/probe:ro", *opts, "busybox", "sh", "-c",
              script, timeout=60)


def test_ipc_and_pid_of_a_running_container(mc, probe, donor):
    donor("nsdonor")
    res = _probe_in(mc, probe, "--ipc", "container:nsdonor", "--pid", "container:nsdonor",
                    script="/probe shm-find; ps -o comm")
    assert res.returncode == 0, res.stderr
    assert parse(res.stdout)["shm-find"] == "OK"
    commands = res.stdout.split()
    assert "sleep" in commands, "the joiner sees the donor's processes"
    # a container of its own sees neither
    alone = _probe_in(mc, probe, script="/probe shm-find; ps -o comm")
    assert parse(alone.stdout)["shm-find"] == "ENOENT" and "sleep" not in alone.stdout.split()
    host = mc.inspect_container("nsdonor")["HostConfig"]
    assert host["IpcMode"] == "private" and host["PidMode"] == ""


def test_a_shareable_containers_dev_shm_is_shared(mc, probe, donor):
    donor("nsshare", "--ipc", "shareable")
    res = _probe_in(mc, probe, "--ipc", "container:nsshare", script="/probe shm-find; cat /dev/shm/note")
    assert res.returncode == 0, res.stderr
    assert parse(res.stdout)["shm-find"] == "OK" and "posix" in res.stdout
    assert mc.inspect_container("nsshare")["HostConfig"]["IpcMode"] == "shareable"
    mc("rm", "-f", "nsshare", check=True, timeout=60)
    with open("/proc/self/mountinfo") as f:
        assert str(mc.root) not in f.read(), "the shareable /dev/shm is unmounted with the container"


def test_host_namespaces_and_no_ipc(mc):
    res = mc("run", "--rm", "--network", "none", "--uts", "host", "busybox", "hostname", check=True)
    assert res.stdout.strip() == socket.gethostname()
    res = mc("run", "--rm", "--network", "none", "--pid", "host", "busybox", "cat", "/proc/1/comm", check=True)
    with open("/proc/1/comm") as f:
        assert res.stdout.strip() == f.read().strip()
    res = mc("run", "--rm", "--network", "none", "--ipc", "none", "busybox", "ls", "/dev/shm")
    assert res.returncode != 0 and "No such file or directory" in res.stderr


@pytest.mark.parametrize("flags, message", [
    (("--ipc", "bogus"), "--ipc: invalid IPC mode"),
    (("--pid", "shareable"), "--pid: invalid PID mode"),
    (("--uts", "container:x"), "--uts: invalid UTS mode"),
    (("--ipc", "container:"), "--ipc: container: needs a container name or ID"),
    (("--pid", "container:no-such-box"), "No such container: no-such-box"),
    (("--uts", "host", "--hostname", "h"), "conflicting options: hostname and the UTS mode"),
])
def test_bad_modes_are_refused_before_anything_is_made(mc, flags, message):
    before = mc("ps", "-aq").stdout
    res = mc("run", "--rm", "--network", "none", *flags, "busybox", "true")
    assert res.returncode == 125 and message in res.stderr, res.stderr
    assert mc("ps", "-aq").stdout == before


def test_joining_a_stopped_container_fails(mc):
    mc("create", "--name", "nsstopped", "--network", "none", "busybox", "true", check=True)
    try:
        res = mc("run", "--rm", "--network", "none", "--pid", "container:nsstopped", "busybox", "true")
        assert res.returncode == 125 and "cannot join PID of a non running container" in res.stderr
    finally:
        mc("rm", "-f", "nsstopped", timeout=60)


def test_a_namespace_named_by_path_as_a_pod_sandbox_is_joined(mc, probe, donor):
    """podman's ns:PATH: any process's namespace file, as a pod's pause
    process holds them (the CRI layer joins its containers this way)."""
    donor("nspath")
    pid = mc.inspect_container("nspath")["State"]["Pid"]
    res = _probe_in(mc, probe, "--ipc", f"ns:/proc/{pid}/ns/ipc", "--pid", f"ns:/proc/{pid}/ns/pid",
                    script="/probe shm-find; ps -o comm")
    assert res.returncode == 0, res.stderr
    assert parse(res.stdout)["shm-find"] == "OK" and "sleep" in res.stdout.split()
