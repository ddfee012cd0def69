"""Named network namespaces as containerd and CNI use them: a fresh netns
bind-mounted at <root>/<name>, one only `lo` in it, that outlives every
process; create and remove idempotent; a sweep removes leftovers."""
import os
import subprocess

import pytest

from minictr.pods.errors import NetnsError
from minictr.pods.netns import NetnsStore

pytestmark = pytest.mark.root


@pytest.fixture
def store(tmp_path):
    s = NetnsStore(str(tmp_path / "netns"))
    yield s
    s.sweep()
    left = [line.split()[4] for line in open("/proc/self/mountinfo") if str(tmp_path) in line.split()[4]]
    assert not left, f"left mounted: {left}"


def mounted(path: str) -> bool:
    return any(line.split()[4] == path for line in open("/proc/self/mountinfo"))


def links_in(path: str) -> list[str]:
    out = subprocess.run(["nsenter", f"--net={path}", "ip", "-o", "link"], capture_output=True, text=True,
                         check=True).stdout
    return [line.split(":")[1].strip() for line in out.splitlines()]


def test_create_makes_a_new_namespace_with_only_lo_and_is_idempotent(store):
    path = store.create("pod-a")
    assert path == os.path.join(store.root, "pod-a") and mounted(path)
    assert os.stat(path).st_ino != os.stat("/proc/self/ns/net").st_ino   # not the host's
    assert links_in(path) == ["lo"]
    inode = os.stat(path).st_ino
    assert store.create("pod-a") == path and os.stat(path).st_ino == inode
    assert [line.split()[4] for line in open("/proc/self/mountinfo")].count(path) == 1
    other = store.create("pod-b")
    assert os.stat(other).st_ino != inode
    assert store.names() == ["pod-a", "pod-b"] and store.exists("pod-a")


def test_the_namespace_outlives_the_processes_in_it(store):
    path = store.create("pod-a")
    subprocess.run(["nsenter", f"--net={path}", "ip", "link", "add", "va", "type", "veth", "peer", "name", "vb"], check=True)
    assert sorted(links_in(path)) == ["lo", "va@vb", "vb@va"]       # still there for the next process


def test_remove_unmounts_and_deletes_and_is_idempotent(store):
    path = store.create("pod-a")
    store.remove("pod-a")
    assert not os.path.exists(path) and not mounted(path) and not store.exists("pod-a")
    store.remove("pod-a")
    store.remove("never-made")


def test_adopt_names_the_netns_of_a_running_process(store):
    proc = subprocess.Popen(["unshare", "--net", "sleep", "30"])
    try:
        ns = f"/proc/{proc.pid}/ns/net"
        for _ in range(200):      # until unshare has exec'd sleep in its own netns
            if os.readlink(ns) != os.readlink("/proc/self/ns/net"):
                break
            os.sched_yield()
        path = store.adopt("pause-1", proc.pid)
        assert os.stat(path).st_ino == os.stat(ns).st_ino
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert store.exists("pause-1") and links_in(path) == ["lo"]   # held by the mount alone now


def test_sweep_removes_what_is_not_kept_including_an_unmounted_leftover(store):
    store.create("keep-me")
    store.create("stale")
    with open(os.path.join(store.root, "half-made"), "w"):
        pass          # a crash between creating the file and mounting on it
    assert sorted(store.sweep(keep={"keep-me"})) == ["half-made", "stale"]
    assert store.names() == ["keep-me"] and store.exists("keep-me")


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "x" * 129])
def test_a_bad_name_is_refused(store, name):
    with pytest.raises(NetnsError, match="netns name"):
        store.create(name)
