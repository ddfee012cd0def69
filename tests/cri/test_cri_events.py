"""GetContainerEvents (kubelet's evented PLEG): a stream open while a pod
lives sees its sandbox and container created, started, stopped, deleted,
each with the pod's status attached."""
import threading
import time

import grpc
import pytest

from test_crictl_pods import container_json, pod_json, wait_for

pytestmark = pytest.mark.root


def test_the_event_stream_follows_a_pod(cri, tmp_path):
    from minictr.cri.v1 import api_pb2 as pb
    cri.crictl("pull", "busybox")
    stream = cri.runtime.GetContainerEvents(pb.GetEventsRequest(), timeout=60)
    seen = []

    def read():
        try:
            for event in stream:
                seen.append(event)
        except grpc.RpcError:
            pass   # cancelled at the end
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.3)
    pod = pod_json(tmp_path, "evpod")
    pod_id = cri.crictl("runp", str(pod)).stdout.strip()
    ctr_id = cri.crictl("create", pod_id, str(container_json(tmp_path, "brief", ["sh", "-c", "sleep 1"])),
                        str(pod)).stdout.strip()
    cri.crictl("start", ctr_id)
    assert wait_for(lambda: cri.crictl_json("inspect", ctr_id)["status"]["state"] == "CONTAINER_EXITED")
    cri.crictl("rm", ctr_id)

    def kinds(cid):
        return [pb.ContainerEventType.Name(e.container_event_type) for e in seen if e.container_id == cid]
    want = ["CONTAINER_CREATED_EVENT", "CONTAINER_STARTED_EVENT", "CONTAINER_STOPPED_EVENT",
            "CONTAINER_DELETED_EVENT"]
    assert wait_for(lambda: kinds(ctr_id) == want, 10), kinds(ctr_id)
    assert kinds(pod_id)[:2] == want[:2]
    started = next(e for e in seen if e.container_id == ctr_id
                   and e.container_event_type == pb.CONTAINER_STARTED_EVENT)
    assert started.pod_sandbox_status.id == pod_id and started.pod_sandbox_status.metadata.name == "evpod"
    assert [s.id for s in started.containers_statuses] == [ctr_id]
    cri.crictl("stopp", pod_id)
    cri.crictl("rmp", pod_id)
    assert wait_for(lambda: kinds(pod_id) == want, 10), kinds(pod_id)
    stream.cancel()
    reader.join(5)
