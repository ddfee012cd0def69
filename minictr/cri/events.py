"""RuntimeService.GetContainerEvents: the stream of container lifecycle
events kubelet's evented PLEG reads instead of relisting; each event
carries its pod's status and its containers' (pods/events.py finds them)."""
from __future__ import annotations

import time

from minictr.cri.errors import CriError
from minictr.cri.not_yet import RpcGroup
from minictr.cri.v1 import api_pb2 as pb
from minictr.pods import events as pod_events

POLL_SECONDS = 0.5
_TYPES = {pod_events.CREATED: pb.CONTAINER_CREATED_EVENT, pod_events.STARTED: pb.CONTAINER_STARTED_EVENT,
          pod_events.STOPPED: pb.CONTAINER_STOPPED_EVENT, pod_events.DELETED: pb.CONTAINER_DELETED_EVENT}


class Events(RpcGroup):
    def GetContainerEvents(self, request, context):
        pods = self.pods
        before = pod_events.snapshot(pods.sandboxes, pods.containers)
        while context.is_active():
            time.sleep(POLL_SECONDS)
            after = pod_events.snapshot(pods.sandboxes, pods.containers)
            for cid, kind, sandbox_id in pod_events.changes(before, after):
                yield self._event(cid, kind, sandbox_id)
            before = after

    def _event(self, cid: str, kind: str, sandbox_id: str) -> pb.ContainerEventResponse:
        event = pb.ContainerEventResponse(container_id=cid, container_event_type=_TYPES[kind],
                                          created_at=time.time_ns())
        try:
            status = self.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id), None)
        except CriError:   # the pod went meanwhile (a DELETED event of its last part)
            return event
        event.pod_sandbox_status.CopyFrom(status.status)
        event.containers_statuses.extend(status.containers_statuses)
        return event
