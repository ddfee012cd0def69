"""The runc verbs engines use beyond run: exec (argv and --process), a
console socket, pause/resume, ps, the user namespace, rlimit clamping,
sysctls, preserved fds and --explain."""
import array
import json
import tempfile
import shutil
import os
import socket
import subprocess
import time

from pathlib import Path

import pytest

from support.bundles import make_bundle, runc_default_spec
from support.runtimes import cli, leftovers, minictr_runtime, run_bundle

pytestmark = pytest.mark.root


def _spec(args, **process):
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["process"].update(process)
    return spec


@pytest.fixture
def sleeper(tmp_path, busybox_rootfs):
    """A started container running `sleep`, deleted afterwards."""
    bundle = make_bundle(tmp_path / "b", _spec(["sleep", "300"]), rootfs_src=busybox_rootfs)
    state = tmp_path / "state"
    cid = f"verbs{os.getpid()}"
    cli("minictr", state, "create", "--bundle", str(bundle), cid, check=True)
    cli("minictr", state, "start", cid, check=True)
    yield state, cid
    cli("minictr", state, "delete", "--force", cid)
    assert not leftovers(cid)


def test_exec_argv_runs_inside(sleeper):
    state, cid = sleeper
    res = cli("minictr", state, "exec", cid, "sh", "-c", "echo $$ $(hostname); cat /proc/1/cmdline | tr '\\0' ' '")
    assert res.returncode == 0, res.stderr
    pid, host, *cmd = res.stdout.split()
    assert host == "runc" and cmd == ["sleep", "300"] and int(pid) > 1


def test_exec_exit_code_and_missing_program(sleeper):
    state, cid = sleeper
    assert cli("minictr", state, "exec", cid, "sh", "-c", "exit 7").returncode == 7
    res = cli("minictr", state, "exec", cid, "/no/such")
    assert res.returncode != 0 and "/no/such" in res.stderr


def test_exec_process_file_detached_with_pid_file(sleeper, tmp_path):
    state, cid = sleeper
    # /dev/shm: the default spec's root is read-only
    proc = _spec(["sh", "-c", "echo detached > /dev/shm/marker; sleep 2"])["process"]
    (tmp_path / "p.json").write_text(json.dumps(proc))
    pidfile = tmp_path / "exec.pid"
    res = cli("minictr", state, "exec", "--process", str(tmp_path / "p.json"), "--detach", "--pid-file",
              str(pidfile), cid)
    assert res.returncode == 0, res.stderr
    pid = int(pidfile.read_text())
    assert os.path.exists(f"/proc/{pid}")
    deadline = time.monotonic() + 10
    while (out := cli("minictr", state, "exec", cid, "cat", "/dev/shm/marker").stdout) != "detached\n":
        assert time.monotonic() < deadline, f"the detached process did not run: {out!r}"
        time.sleep(0.05)
    ps = cli("minictr", state, "ps", "--format", "json", cid)
    assert pid in json.loads(ps.stdout)


def test_exec_into_stopped_container_fails(tmp_path, busybox_rootfs):
    bundle = make_bundle(tmp_path / "b", _spec(["true"]), rootfs_src=busybox_rootfs)
    state = tmp_path / "state"
    cli("minictr", state, "run", "--bundle", str(bundle), "--keep", "stopped1", check=True)
    try:
        res = cli("minictr", state, "exec", "stopped1", "true")
        assert res.returncode != 0 and "stopped" in res.stderr
    finally:
        cli("minictr", state, "delete", "stopped1", check=True)


def test_pause_resume(sleeper):
    state, cid = sleeper
    cli("minictr", state, "pause", cid, check=True)
    assert json.loads(cli("minictr", state, "state", cid).stdout)["status"] == "paused"
    cli("minictr", state, "resume", cid, check=True)
    assert json.loads(cli("minictr", state, "state", cid).stdout)["status"] == "running"


def test_console_socket_gets_a_pty_master(tmp_path, busybox_rootfs):
    bundle = make_bundle(tmp_path / "b", _spec(["sh", "-c", "tty; echo done"], terminal=True),
                         rootfs_src=busybox_rootfs)
    state = tmp_path / "state"
    sock_path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    server.settimeout(20)
    try:
        cli("minictr", state, "create", "--bundle", str(bundle), "--console-socket", sock_path, "tty1", check=True)
        conn, _ = server.accept()
        fds = array.array("i")
        msg, anc, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
        fds.frombytes(anc[0][2][:fds.itemsize])
        master = fds[0]
        assert msg.startswith(b"/dev/pts/")
        cli("minictr", state, "start", "tty1", check=True)
        out = b""
        deadline = time.monotonic() + 10
        while b"done" not in out and time.monotonic() < deadline:
            try:
                out += os.read(master, 1024)
            except OSError:
                break
        assert b"/dev/pts/0" in out and b"done" in out, out
        os.close(master)
        conn.close()
    finally:
        server.close()
        cli("minictr", state, "delete", "--force", "tty1")


@pytest.mark.parametrize("which", ["runc", "minictr"])
def test_user_namespace_maps_root(which, busybox_rootfs):
    spec = _spec(["sh", "-c", "id -u; cat /proc/self/uid_map"])
    spec["linux"]["namespaces"].append({"type": "user"})
    spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    spec["mounts"] = [m for m in spec["mounts"] if m["type"] != "cgroup"]
    # the mapped root (host uid 100000) must be able to reach the rootfs:
    # pytest's own tmp dirs are 0700
    work = Path(tempfile.mkdtemp(prefix="minictr-userns-", dir="/tmp"))
    try:
        os.chmod(work, 0o755)
        root = work / "root-src"
        subprocess.run(["cp", "-a", str(busybox_rootfs), str(root)], check=True)
        subprocess.run(["chown", "-R", "100000:100000", str(root)], check=True)
        bundle = make_bundle(work / "b", spec, rootfs_src=root)
        res = run_bundle(which, work / "state", bundle, f"userns-{which}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split("\n")
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"]


def test_rlimit_above_hard_limit_is_clamped_with_warning(tmp_path, busybox_rootfs):
    import resource
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard * 2
    bundle = make_bundle(tmp_path / "b", _spec(["sh", "-c", "ulimit -n"],
                                               rlimits=[{"type": "RLIMIT_NOFILE", "soft": want, "hard": want}]),
                         rootfs_src=busybox_rootfs)
    res = run_bundle("minictr", tmp_path / "state", bundle, "rlim1")
    with open("/proc/self/status") as f:
        can_raise = any(line.startswith("CapEff:") and int(line.split()[1], 16) >> 24 & 1 for line in f)
    if can_raise:
        assert res.stdout.strip() == str(want)
    else:
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == str(hard)
        assert "clamped" in res.stderr and "RLIMIT_NOFILE" in res.stderr


def test_sysctl_is_set_inside(tmp_path, busybox_rootfs):
    spec = _spec(["cat", "/proc/sys/net/ipv4/ip_forward"])
    spec["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    spec["linux"]["readonlyPaths"] = [p for p in spec["linux"]["readonlyPaths"] if p != "/proc/sys"]
    bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
    res = run_bundle("minictr", tmp_path / "state", bundle, "sysctl1")
    assert res.stdout.strip() == "1", res.stderr


def test_preserve_fds(tmp_path, busybox_rootfs):
    bundle = make_bundle(tmp_path / "b", _spec(["sh", "-c", "cat <&3"]), rootfs_src=busybox_rootfs)
    r, w = os.pipe()
    os.write(w, b"through fd 3\n")
    os.close(w)
    try:
        res = subprocess.run([minictr_runtime(), "--root", str(tmp_path / "state"), "run", "--preserve-fds", "1",
                              "--bundle", str(bundle), "pfd1"], pass_fds=tuple({r, 3}), capture_output=True, text=True,
                             timeout=30, preexec_fn=lambda: os.dup2(r, 3))
    finally:
        os.close(r)
    assert res.stdout == "through fd 3\n", res.stderr


def test_explain_names_kernel_steps(tmp_path, busybox_rootfs):
    bundle = make_bundle(tmp_path / "b", _spec(["true"]), rootfs_src=busybox_rootfs)
    res = subprocess.run([minictr_runtime(), "--explain", "--root", str(tmp_path / "state"), "run", "--bundle",
                          str(bundle), "explain1"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    for step in ("unshare(CLONE_NEWNS): own mount table", "pivot_root", "capset", "execve", "write cgroup.procs"):
        assert step in res.stderr, res.stderr
