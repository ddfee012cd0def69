"""Pod sandboxes and their containers (pods/sandbox.py, pods/pod_containers.py)
as the CRI layer drives them, against the real kernel, the engine and
Debian's CNI plugins: a pause container holding a CNI-networked netns,
containers that join it, and nothing left once the pod is removed."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.engine_env import module_engine  # noqa: E402

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def mc(tmp_path_factory):
    yield from module_engine(tmp_path_factory, "pods")


@pytest.fixture(scope="module")
def pods(mc, podnet):
    from minictr.engine.containers import Engine
    from minictr.pods.pod_containers import PodContainers
    from minictr.pods.sandbox import PodSandboxes
    engine = Engine(str(mc.root))
    boxes = PodSandboxes(engine, podnet.cni, podnet.netns)
    yield boxes, PodContainers(engine, boxes)
    for box in boxes.list():
        boxes.remove(box.id, [c.record for c in PodContainers(engine, boxes).list(box.id)])


def pod_config(name, tmp_path, **extra):
    from minictr.pods.config import PodConfig
    raw = {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "attempt": 0},
           "hostname": name, "log_directory": str(tmp_path / "logs" / name),
           "dns_config": {"servers": ["10.96.0.10"], "searches": ["default.svc.cluster.local"],
                          "options": ["ndots:5"]}, **extra}
    return PodConfig.from_cri(raw)


def container_config(name, command, **extra):
    from minictr.pods.config import ContainerConfig
    return ContainerConfig.from_cri({"metadata": {"name": name}, "image": {"image": "busybox:latest"},
                                     "command": command, "log_path": f"{name}/0.log", **extra})


def wait_for(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    return check()


def ns_of(pid, kind):
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def test_a_pod_shares_its_namespaces_and_has_a_cni_address(pods, podnet, tmp_path):
    boxes, containers = pods
    box_id = boxes.run(pod_config("web", tmp_path))
    box = boxes.get(box_id)
    assert box.state == "SANDBOX_READY" and box.ip.startswith(podnet.prefix), box.ip
    assert podnet.netns.exists(box.cni_id)
    server = containers.create(box_id, container_config("server", ["httpd", "-f", "-p", "8080", "-h", "/etc"]))
    containers.start(server)
    client = containers.create(box_id, container_config(
        "client", ["sh", "-c", "sleep 0.3; wget -qO- http://127.0.0.1:8080/hostname; hostname; "
                               "cat /etc/resolv.conf; sleep 30"]))
    containers.start(client)
    s, c = containers.get(server), containers.get(client)
    assert s.state == c.state == "CONTAINER_RUNNING"
    pause_pid = box.record.pid
    for kind in ("net", "ipc", "uts"):
        assert ns_of(s.record.pid, kind) == ns_of(c.record.pid, kind) == ns_of(pause_pid, kind), kind
    assert ns_of(c.record.pid, "net") != ns_of(os.getpid(), "net")
    log = tmp_path / "logs" / "web" / "client" / "0.log"
    text = wait_for(lambda: log.exists() and "ndots" in log.read_text() and log.read_text())
    lines = [line.split(" ", 3) for line in text.splitlines()]
    assert all(stream == "stdout" and tag == "F" for _, stream, tag, _ in lines), text
    said = [content for *_, content in lines]
    assert said[0] == "web" and said[1] == "web", said   # the pod's /etc/hostname served over localhost, its hostname
    assert "nameserver 10.96.0.10" in said and "search default.svc.cluster.local" in said
    # the host reaches the pod's address through our own bridge
    assert subprocess.run(["ping", "-c", "1", "-W", "2", box.ip], capture_output=True).returncode == 0

    boxes.stop(box_id, [containers.get(server).record, containers.get(client).record])
    assert boxes.get(box_id).state == "SANDBOX_NOTREADY"
    assert containers.get(server).state == containers.get(client).state == "CONTAINER_EXITED"
    assert not podnet.netns.exists(box.cni_id) and box.ip not in podnet.allocations()
    boxes.stop(box_id)   # again: nothing more to do, no error
    boxes.remove(box_id, [containers.get(server).record, containers.get(client).record])
    assert not boxes.list() and not containers.list()
    boxes.remove(box_id)   # an unknown sandbox: removed already


def test_two_pods_get_distinct_addresses_and_reach_each_other(pods, podnet, tmp_path):
    boxes, containers = pods
    a, b = boxes.run(pod_config("one", tmp_path)), boxes.run(pod_config("two", tmp_path))
    try:
        ip_a, ip_b = boxes.get(a).ip, boxes.get(b).ip
        assert ip_a != ip_b
        pinger = containers.create(a, container_config("ping", ["ping", "-c", "1", "-W", "2", ip_b]))
        containers.start(pinger)
        done = wait_for(lambda: containers.get(pinger).state == "CONTAINER_EXITED")
        assert done and containers.get(pinger).exit_code == 0 and containers.get(pinger).reason == "Completed"
    finally:
        for box in (a, b):
            boxes.remove(box, [c.record for c in containers.list(box)])


def test_bad_requests_leave_nothing_behind(pods, podnet, tmp_path):
    from minictr.pods.config import InvalidConfig
    from minictr.pods.errors import PodError
    from minictr.pods.sandbox import SandboxNameTaken
    boxes, containers = pods
    box_id = boxes.run(pod_config("dup", tmp_path))
    netns_before, allocated = set(podnet.netns.names()), set(podnet.allocations())
    with pytest.raises(SandboxNameTaken):
        boxes.run(pod_config("dup", tmp_path))
    assert set(podnet.netns.names()) == netns_before and set(podnet.allocations()) == allocated
    with pytest.raises(PodError, match="not found"):
        containers.create(box_id, container_config("x", ["true"], image={"image": "no-such-image:1"}))
    with pytest.raises(InvalidConfig, match="no such file"):
        containers.create(box_id, container_config("y", ["true"], mounts=[
            {"container_path": "/data", "host_path": str(tmp_path / "missing")}]))
    with pytest.raises(InvalidConfig, match="metadata.uid"):
        from minictr.pods.config import PodConfig
        PodConfig.from_cri({"metadata": {"name": "x", "namespace": "y"}})
    assert not containers.list(box_id)
    boxes.remove(box_id)
    assert box_id not in [b.id for b in boxes.list()]


def test_a_run_killed_before_its_pause_container_is_swept(pods, podnet):
    """The netns and the CNI attachment of a RunPodSandbox that died before
    the pause container was recorded: the next server's sweep removes them."""
    from minictr.pods.cni.network import Attachment
    boxes, _ = pods
    token = "f" * 64
    netns = podnet.netns.create(token)
    podnet.cni.add(Attachment(token, netns))
    assert len(podnet.allocations()) >= 1
    swept = boxes.sweep()
    assert token in swept
    assert not podnet.netns.exists(token) and not any(e.container_id == token for e in podnet.cni.attachments())
