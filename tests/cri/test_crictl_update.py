"""UpdateContainerResources through the real crictl (`update`): a running
pod container's cgroup limits change at once; a request below the engine's
minimum is INVALID_ARGUMENT and changes nothing."""
import json

import grpc
import pytest

from test_crictl_pods import container_json, pod_json

pytestmark = pytest.mark.root


def cgroup_value(pid: int, controller: str, name: str) -> str:
    for line in open(f"/proc/{pid}/cgroup").read().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            with open(f"/sys/fs/cgroup/{controllers}{path}/{name}") as f:
                return f.read().strip()
    pytest.skip(f"no v1 {controller} hierarchy on this host (the cgroup v2 VM covers update)")


def test_crictl_update_changes_the_limits(cri, tmp_path):
    from minictr.cri.v1 import api_pb2 as pb
    cri.crictl("pull", "busybox")
    pod = pod_json(tmp_path, "updpod")
    pod_id = cri.crictl("runp", str(pod)).stdout.strip()
    ctr = container_json(tmp_path, "limited", ["sleep", "300"],
                         linux={"resources": {"memory_limit_in_bytes": 64 << 20, "cpu_shares": 512}})
    ctr_id = cri.crictl("create", pod_id, str(ctr), str(pod)).stdout.strip()
    cri.crictl("start", ctr_id)
    pid = json.loads(cri.crictl("inspect", ctr_id).stdout)["info"]["pid"]
    assert cgroup_value(pid, "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert cgroup_value(pid, "cpu", "cpu.shares") == "512"
    cri.crictl("update", "--memory", str(128 << 20), "--cpu-quota", "20000", "--cpu-period", "100000",
               "--cpu-share", "256", ctr_id)
    assert cgroup_value(pid, "memory", "memory.limit_in_bytes") == str(128 << 20)
    assert cgroup_value(pid, "cpu", "cpu.cfs_quota_us") == "20000"
    assert cgroup_value(pid, "cpu", "cpu.shares") == "256"
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.UpdateContainerResources(pb.UpdateContainerResourcesRequest(
            container_id=ctr_id, linux=pb.LinuxContainerResources(memory_limit_in_bytes=1 << 20)), timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "Minimum memory limit" in e.value.details()
    assert cgroup_value(pid, "memory", "memory.limit_in_bytes") == str(128 << 20)
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.UpdateContainerResources(pb.UpdateContainerResourcesRequest(container_id="d" * 64), timeout=30)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    cri.crictl("stop", "--timeout", "0", ctr_id)
    cri.crictl("rm", ctr_id)
    cri.crictl("stopp", pod_id)
    cri.crictl("rmp", pod_id)


@pytest.mark.parametrize("parent, expected", [
    ("/minictr-test-pods/pod1", "/minictr-test-pods/pod1/{id}"),
    ("minictrtest-pod1.slice", "/minictrtest.slice/minictrtest-pod1.slice/minictr-{id}.scope")])
def test_the_pods_cgroup_parent_holds_its_containers(cri, tmp_path, parent, expected):
    import glob
    import os
    cri.crictl("pull", "busybox")
    pod = pod_json(tmp_path, "cgpod", linux={"cgroup_parent": parent,
                                              "security_context": {"namespace_options": {"pid": 1}}})
    pod_id = cri.crictl("runp", str(pod)).stdout.strip()
    ctr_id = cri.crictl("create", pod_id, str(container_json(tmp_path, "c", ["sleep", "300"])),
                        str(pod)).stdout.strip()
    cri.crictl("start", ctr_id)
    pid = json.loads(cri.crictl("inspect", ctr_id).stdout)["info"]["pid"]
    line = next(l for l in open(f"/proc/{pid}/cgroup").read().splitlines() if ":pids:" in l or l.startswith("0::"))
    assert line.split(":", 2)[2] == expected.format(id=ctr_id)
    cri.crictl("rm", "-f", ctr_id)
    cri.crictl("stopp", pod_id)
    cri.crictl("rmp", pod_id)
    top = parent.strip("/").split("/")[0] if "/" in parent else "minictrtest.slice"
    left = glob.glob(f"/sys/fs/cgroup/*/{top}") + glob.glob(f"/sys/fs/cgroup/{top}")
    for d in sorted(left, key=len, reverse=True):   # made by the runtime for this test: it removes them itself
        for sub, _, _ in sorted(os.walk(d), key=lambda w: -len(w[0])):
            os.rmdir(sub)
    assert not left
