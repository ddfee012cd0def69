"""`minictr cri` killed with SIGKILL (acceptance 3 of the CRI issue):
restarted on the same root it lists the same pods and containers with
their true states, logs go on (the shims outlive the server), and stop and
remove work; killed at seeded moments of RunPodSandbox and CreateContainer,
it leaves nothing once the pods are removed: no netns, veth, CNI address,
container, mount or cgroup."""
import os
import random
import signal
import subprocess
import time

import pytest

from test_crictl_pods import container_json, pod_json, wait_for

pytestmark = pytest.mark.root
SEED = 20261204


def _crictl_popen(cri, *args):
    return subprocess.Popen([str(cri.crictl_path), "-r", f"unix://{cri.socket}", "-i", f"unix://{cri.socket}",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env={**cri.env, "CRI_CONFIG_FILE": "/dev/null"})


def _restart(cri):
    assert cri.signal(signal.SIGKILL) == -signal.SIGKILL
    cri._channel = None
    cri.start()


def _remove_all(cri):
    for ctr in cri.crictl("ps", "-aq").stdout.split():
        cri.crictl("rm", "-f", ctr)
    for pod in cri.crictl("pods", "-q").stdout.split():
        cri.crictl("stopp", pod)
        cri.crictl("rmp", pod)


def _leftovers(cri) -> dict:
    root = str(cri.root)
    mounts = [line.split()[4] for line in open("/proc/self/mountinfo") if line.split()[4].startswith(root)]
    shims = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if b"minictr-shim" in cmd and root.encode() in cmd:
            shims.append(int(pid))
    return {"netns": cri.network.netns.names(), "addresses": cri.network.allocations(),
            "veths": cri.network.host_links(), "mounts": mounts, "shims": shims,
            "cni cache": [e.container_id for e in cri.network.cni.attachments()]}


def _nothing_left(cri) -> dict:
    deadline = time.monotonic() + 10
    while True:
        left = _leftovers(cri)
        if not any(left.values()) or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def test_pods_outlive_a_killed_server(cri, tmp_path):
    cri.crictl("pull", "busybox")
    pod = pod_json(tmp_path, "survivor")
    pod_id = cri.crictl("runp", str(pod)).stdout.strip()
    cmd = ["sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo tick-$i; i=$((i+1)); sleep 0.05; done"]
    ctr_id = cri.crictl("create", pod_id, str(container_json(tmp_path, "ticker", cmd)), str(pod)).stdout.strip()
    cri.crictl("start", ctr_id)
    done = cri.crictl("create", pod_id, str(container_json(tmp_path, "done", ["sh", "-c", "exit 7"])),
                      str(pod)).stdout.strip()
    cri.crictl("start", done)
    assert wait_for(lambda: cri.crictl_json("inspect", done)["status"]["state"] == "CONTAINER_EXITED")
    before = cri.crictl_json("inspectp", pod_id)["status"]
    lines_before = len(cri.crictl("logs", ctr_id).stdout.splitlines())

    _restart(cri)
    after = cri.crictl_json("inspectp", pod_id)["status"]
    assert after["state"] == "SANDBOX_READY" and after["network"]["ip"] == before["network"]["ip"]
    assert after["createdAt"] == before["createdAt"]
    assert cri.crictl_json("inspect", ctr_id)["status"]["state"] == "CONTAINER_RUNNING"
    exited = cri.crictl_json("inspect", done)["status"]
    assert exited["state"] == "CONTAINER_EXITED" and exited["exitCode"] == 7
    assert wait_for(lambda: len(cri.crictl("logs", ctr_id).stdout.splitlines()) > lines_before + 5)
    assert cri.crictl("exec", "-s", ctr_id, "hostname").stdout.split() == ["survivor"]

    cri.crictl("stop", "--timeout", "0", ctr_id)
    assert cri.crictl_json("inspect", ctr_id)["status"]["state"] == "CONTAINER_EXITED"
    _remove_all(cri)
    assert _nothing_left(cri) == {k: [] for k in _leftovers(cri)}


@pytest.mark.parametrize("phase", ["runp", "create"])
def test_a_server_killed_mid_request_leaves_nothing(cri, tmp_path, phase):
    cri.crictl("pull", "busybox")
    rng = random.Random(f"{SEED}-{phase}")
    for i in range(6):
        pod = pod_json(tmp_path, f"crash{i}")
        pod_id = cri.crictl("runp", str(pod)).stdout.strip() if phase == "create" else None
        if phase == "runp":
            client = _crictl_popen(cri, "runp", str(pod))
        else:
            ctr = container_json(tmp_path, f"c{i}", ["sleep", "60"])
            client = _crictl_popen(cri, "create", pod_id, str(ctr), str(pod))
        time.sleep(rng.uniform(0.0, 0.6))
        _restart(cri)
        client.communicate(timeout=30)
        # the states the restarted server reports are true ones
        for line in cri.crictl("pods").stdout.splitlines()[1:]:
            assert "Ready" in line or "NotReady" in line, line
        _remove_all(cri)
        left = _nothing_left(cri)
        assert not any(left.values()), (phase, i, left)
