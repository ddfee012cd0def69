"""Container and pod stats through the real crictl (`stats`, `statsp`) and
grpcio for the fields crictl does not print: a busy container shows CPU
time and cores, memory it touched shows in the working set, bytes it wrote
in its writable layer, a pod counts its processes."""
import json
import time

import grpc
import pytest

from test_crictl_pods import container_json, pod_json

pytestmark = pytest.mark.root


def test_stats_of_a_busy_pod(cri, tmp_path):
    from minictr.cri.v1 import api_pb2 as pb
    cri.crictl("pull", "busybox")
    pod = pod_json(tmp_path, "statpod")
    pod_id = cri.crictl("runp", str(pod)).stdout.strip()
    # ~8 MiB in the writable layer, then a busy loop
    cmd = ["sh", "-c", "dd if=/dev/zero of=/blob bs=1M count=8 2>/dev/null; while :; do :; done"]
    busy = cri.crictl("create", pod_id, str(container_json(tmp_path, "busy", cmd)), str(pod)).stdout.strip()
    cri.crictl("start", busy)
    time.sleep(1.5)
    first = cri.runtime.ContainerStats(pb.ContainerStatsRequest(container_id=busy), timeout=30).stats
    time.sleep(1.0)
    second = cri.runtime.ContainerStats(pb.ContainerStatsRequest(container_id=busy), timeout=30).stats
    assert second.attributes.id == busy and second.attributes.metadata.name == "busy"
    assert second.cpu.usage_core_nano_seconds.value > first.cpu.usage_core_nano_seconds.value > 0
    # a spinning shell uses most of one core
    assert 300_000_000 < second.cpu.usage_nano_cores.value < 2_500_000_000, second.cpu
    assert second.memory.usage_bytes.value > 0 and second.memory.working_set_bytes.value > 0
    assert second.writable_layer.used_bytes.value >= 8 << 20 and second.writable_layer.inodes_used.value >= 1

    rows = cri.crictl("stats").stdout.replace("\x1b[2J\x1b[H", "").splitlines()   # crictl clears the screen
    assert rows[0].split()[:2] == ["CONTAINER", "NAME"] and any(busy[:13] in r and "busy" in r for r in rows[1:])
    listed = json.loads(cri.crictl("stats", "-o", "json", "--pod", pod_id).stdout)["stats"]
    assert [s["attributes"]["id"] for s in listed] == [busy]

    pods = json.loads(cri.crictl("statsp", "-o", "json").stdout)["stats"]
    mine = next(p for p in pods if p["attributes"]["id"] == pod_id)
    linux = mine["linux"]
    assert int(linux["cpu"]["usageCoreNanoSeconds"]["value"]) > 0
    assert int(linux["process"]["processCount"]["value"]) >= 2      # pause and the shell
    assert [c["attributes"]["id"] for c in linux["containers"]] == [busy]
    assert linux["network"]["defaultInterface"]["name"] == "eth0"
    table = cri.crictl("statsp").stdout.replace("\x1b[2J\x1b[H", "").splitlines()
    assert table[0].split()[:2] == ["POD", "POD"] and any("statpod" in r for r in table[1:])

    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.ContainerStats(pb.ContainerStatsRequest(container_id="e" * 64), timeout=30)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.PodSandboxStats(pb.PodSandboxStatsRequest(pod_sandbox_id="e" * 64), timeout=30)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    cri.crictl("stop", "--timeout", "0", busy)
    cri.crictl("rm", busy)
    cri.crictl("stopp", pod_id)
    cri.crictl("rmp", pod_id)
