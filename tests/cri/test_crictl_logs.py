"""Pod container logs through the real crictl: the CRI format at the
kubelet's path, `logs -f` following, and `logs --reopen`
(ReopenContainerLog) after the file was renamed, as kubelet rotates it:
what came before is in the renamed file, what comes after in a new one."""
import os
import subprocess
import time

import grpc
import pytest

from test_crictl_pods import container_json, pod_json, wait_for

pytestmark = pytest.mark.root


def test_logs_follow_and_reopen(cri, tmp_path):
    from minictr.cri.v1 import api_pb2 as pb
    cri.crictl("pull", "busybox")
    pod = pod_json(tmp_path, "logpod")
    pod_id = cri.crictl("runp", str(pod)).stdout.strip()
    cmd = ["sh", "-c", "i=0; while [ $i -lt 600 ]; do echo line-$i; i=$((i+1)); sleep 0.05; done"]
    ctr_id = cri.crictl("create", pod_id, str(container_json(tmp_path, "talker", cmd)), str(pod)).stdout.strip()
    cri.crictl("start", ctr_id)
    path = tmp_path / "pod-logs" / "logpod" / "talker.log"
    assert wait_for(lambda: path.exists() and "line-3" in path.read_text())
    first = path.read_text().splitlines()[0].split(" ", 3)
    assert first[1:] == ["stdout", "F", "line-0"]          # <RFC3339Nano> stdout F line-0

    follow = subprocess.Popen([str(cri.crictl_path), "-r", f"unix://{cri.socket}", "logs", "-f", ctr_id],
                              stdout=subprocess.PIPE, text=True, env={**cri.env, "CRI_CONFIG_FILE": "/dev/null"})
    try:
        seen = [follow.stdout.readline().strip() for _ in range(5)]
        assert seen == [f"line-{i}" for i in range(5)]
    finally:
        follow.kill()
        follow.wait()

    rotated = path.with_name("talker.log.1")
    os.rename(path, rotated)
    cri.crictl("logs", "--reopen", ctr_id)
    assert wait_for(lambda: path.exists() and len(path.read_text().splitlines()) >= 3)
    old = [l.split(" ", 3)[3] for l in rotated.read_text().splitlines()]
    new = [l.split(" ", 3)[3] for l in path.read_text().splitlines()]
    last_old, first_new = int(old[-1].split("-")[1]), int(new[0].split("-")[1])
    assert first_new == last_old + 1, (old[-3:], new[:3])   # nothing lost, nothing twice
    time.sleep(0.2)
    assert "line-" in cri.crictl("logs", "--tail", "1", ctr_id).stdout   # reads the new file

    cri.crictl("stop", "--timeout", "0", ctr_id)
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.ReopenContainerLog(pb.ReopenContainerLogRequest(container_id=ctr_id), timeout=30)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    cri.crictl("rm", ctr_id)
    cri.crictl("stopp", pod_id)
    cri.crictl("rmp", pod_id)
