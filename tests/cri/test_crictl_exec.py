"""ExecSync through the real crictl (`exec -s`) and grpcio: output and
exit code come back, a command past its timeout is DEADLINE_EXCEEDED, a
stopped container or an empty command is refused with the CRI's codes."""
import grpc
import pytest

from test_crictl_pods import container_json, pod_json

pytestmark = pytest.mark.root


def test_exec_sync_runs_in_the_pods_container(cri, tmp_path):
    from minictr.cri.v1 import api_pb2 as pb
    cri.crictl("pull", "busybox")
    pod = pod_json(tmp_path, "execpod")
    pod_id = cri.crictl("runp", str(pod)).stdout.strip()
    ctr_id = cri.crictl("create", pod_id, str(container_json(tmp_path, "sleeper", ["sleep", "300"])),
                        str(pod)).stdout.strip()
    cri.crictl("start", ctr_id)
    res = cri.crictl("exec", "-s", ctr_id, "hostname")
    assert res.stdout.split() == ["execpod"]   # crictl prints stdout, then stderr, each with Println
    res = cri.crictl("exec", "-s", ctr_id, "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert res.returncode != 0 and "exited with 3: err" in res.stderr   # crictl: the stderr, not the stdout
    reply = cri.runtime.ExecSync(pb.ExecSyncRequest(container_id=ctr_id, cmd=["cat", "/etc/hostname"]),
                                 timeout=30)
    assert reply.exit_code == 0 and reply.stdout == b"execpod\n" and reply.stderr == b""
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.ExecSync(pb.ExecSyncRequest(container_id=ctr_id, cmd=["sleep", "20"], timeout=1), timeout=30)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and "timed out" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.ExecSync(pb.ExecSyncRequest(container_id=ctr_id, cmd=[]), timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.ExecSync(pb.ExecSyncRequest(container_id="f" * 64, cmd=["true"]), timeout=30)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    # no sleep of the timed-out exec is left in the container
    assert "sleep 20" not in cri.crictl("exec", "-s", ctr_id, "ps").stdout
    cri.crictl("stop", "--timeout", "0", ctr_id)
    with pytest.raises(grpc.RpcError) as e:
        cri.runtime.ExecSync(pb.ExecSyncRequest(container_id=ctr_id, cmd=["true"]), timeout=30)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    cri.crictl("rm", ctr_id)
    cri.crictl("stopp", pod_id)
    cri.crictl("rmp", pod_id)
