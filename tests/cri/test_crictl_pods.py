"""Pods through the real crictl: runp, pods, inspectp, create, start, ps,
inspect, logs, stop, rm, stopp, rmp against `minictr cri` with a private
CNI network, then nothing of the pod is left (netns, address, containers)."""
import json
import time

import pytest

pytestmark = pytest.mark.root


def pod_json(tmp_path, name="web", **extra):
    cfg = {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "attempt": 1},
           "hostname": name, "log_directory": str(tmp_path / "pod-logs" / name),
           "linux": {"security_context": {"namespace_options": {"pid": 1}}}, **extra}
    path = tmp_path / f"pod-{name}.json"
    path.write_text(json.dumps(cfg))
    return path


def container_json(tmp_path, name, command, **extra):
    cfg = {"metadata": {"name": name}, "image": {"image": "docker.io/library/busybox:latest"},
           "command": command, "log_path": f"{name}.log", **extra}
    path = tmp_path / f"ctr-{name}.json"
    path.write_text(json.dumps(cfg))
    return path


def wait_for(check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


def test_a_pod_from_runp_to_rmp(cri, tmp_path):
    cri.crictl("pull", "busybox")
    pod = pod_json(tmp_path)
    pod_id = cri.crictl("runp", str(pod)).stdout.strip()
    assert len(pod_id) == 64
    rows = cri.crictl("pods").stdout.splitlines()
    assert rows[0].split()[:3] == ["POD", "ID", "CREATED"] and pod_id[:13] in rows[1] and "Ready" in rows[1]
    status = cri.crictl_json("inspectp", pod_id)["status"]
    assert status["state"] == "SANDBOX_READY" and status["metadata"]["name"] == "web"
    ip = status["network"]["ip"]
    assert ip.startswith(cri.network.prefix), status["network"]

    ctr = container_json(tmp_path, "hello", ["sh", "-c", "echo hello from $(hostname); echo to-stderr >&2; "
                                                      "sleep 300"])
    ctr_id = cri.crictl("create", pod_id, str(ctr), str(pod)).stdout.strip()
    assert len(ctr_id) == 64
    assert cri.crictl_json("inspect", ctr_id)["status"]["state"] == "CONTAINER_CREATED"
    cri.crictl("start", ctr_id)
    ps = cri.crictl("ps").stdout.splitlines()
    assert ctr_id[:13] in ps[1] and "Running" in ps[1] and "hello" in ps[1] and pod_id[:13] in ps[1]
    inspect = cri.crictl_json("inspect", ctr_id)["status"]
    assert inspect["state"] == "CONTAINER_RUNNING" and inspect["logPath"].endswith("/web/hello.log")
    logs = wait_for(lambda: "hello" in (r := cri.crictl("logs", ctr_id)).stdout and r)
    assert logs.stdout == "hello from web\n" and logs.stderr == "to-stderr\n"

    cri.crictl("stop", "--timeout", "1", ctr_id)
    stopped = cri.crictl_json("inspect", ctr_id)["status"]
    # sh shares the pause container's pid namespace (not pid 1): SIGTERM ends it
    assert stopped["state"] == "CONTAINER_EXITED" and stopped["exitCode"] == 143 and stopped["reason"] == "Error"
    cri.crictl("rm", ctr_id)
    assert cri.crictl("ps", "-a", "-q").stdout.strip() == ""
    cri.crictl("stopp", pod_id)
    assert cri.crictl_json("inspectp", pod_id)["status"]["state"] == "SANDBOX_NOTREADY"
    assert ip not in cri.network.allocations()
    cri.crictl("rmp", pod_id)
    assert cri.crictl("pods", "-q").stdout.strip() == ""
    assert not cri.network.netns.names()


def test_crictl_errors_carry_the_cri_codes(cri, tmp_path):
    import grpc
    from minictr.cri.v1 import api_pb2 as pb
    res = cri.crictl("inspectp", "0" * 64, check=False)
    assert res.returncode != 0 and "not found" in res.stderr.lower()
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=pb.PodSandboxConfig()), timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "metadata.name" in e.value.details()
    pod_id = cri.crictl("runp", str(pod_json(tmp_path, "dup"))).stdout.strip()
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name="dup", namespace="default", uid="uid-dup", attempt=1))), timeout=30)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name="x"), image=pb.ImageSpec(image="no-such:image"))), timeout=30)
    assert e.value.code() == grpc.StatusCode.UNKNOWN and "not found" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id="f" * 64, config=pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name="x"), image=pb.ImageSpec(image="busybox"))), timeout=30)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    cri.crictl("pull", "busybox")
    good = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="once"), image=pb.ImageSpec(image="busybox"),
                              command=["sleep", "60"])
    with pytest.raises(grpc.RpcError) as e:   # a mount whose source is missing
        bad = pb.ContainerConfig()
        bad.CopyFrom(good)
        bad.mounts.append(pb.Mount(host_path=str(tmp_path / "no-such-dir"), container_path="/data"))
        cri.runtime.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=bad), timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "no-such-dir" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:   # a relative container path
        bad = pb.ContainerConfig()
        bad.CopyFrom(good)
        bad.mounts.append(pb.Mount(host_path=str(tmp_path), container_path="data"))
        cri.runtime.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=bad), timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "container_path" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:   # no name
        cri.runtime.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=pb.ContainerConfig(
            image=pb.ImageSpec(image="busybox"))), timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "metadata.name" in e.value.details()
    assert cri.crictl("ps", "-aq").stdout.strip() == ""          # none of them left a container
    first = cri.runtime.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=good),
                                        timeout=30).container_id
    with pytest.raises(grpc.RpcError) as e:   # the same name and attempt again
        cri.runtime.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=good), timeout=30)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS and first in e.value.details()
    assert cri.crictl("ps", "-aq").stdout.split() == [first]
    res = cri.crictl("create", pod_id, str(tmp_path / "missing.json"), str(pod_json(tmp_path, "dup")), check=False)
    assert res.returncode != 0
    cri.crictl("rmp", "-f", pod_id)
    assert cri.crictl("ps", "-aq").stdout.strip() == "" and cri.crictl("pods", "-q").stdout.strip() == ""
    cri.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=30)   # again: fine
    assert not cri.network.allocations() and not cri.network.netns.names()
