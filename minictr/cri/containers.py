"""RuntimeService's container RPCs (CreateContainer … ReopenContainerLog):
containers joined to a sandbox, from minictr/pods/. CheckpointContainer
stays UNIMPLEMENTED, which kubelet reads as "not supported"."""
from __future__ import annotations

import json

import grpc

from minictr.cri.errors import CriError, invalid, not_found
from minictr.cri.not_yet import RpcGroup
from minictr.cri.sandboxes import as_dict, labels_match
from minictr.cri.v1 import api_pb2 as pb
from minictr.engine.errors import InvalidOption
from minictr.pods.config import ContainerConfig, InvalidConfig
from minictr.pods.pod_containers import ContainerNameTaken, ContainerNotFound, SandboxNotReady
from minictr.pods.sandbox import SandboxNotFound

_PROPAGATION = {"PROPAGATION_PRIVATE": pb.PROPAGATION_PRIVATE,
                "PROPAGATION_HOST_TO_CONTAINER": pb.PROPAGATION_HOST_TO_CONTAINER,
                "PROPAGATION_BIDIRECTIONAL": pb.PROPAGATION_BIDIRECTIONAL}


class PodContainers(RpcGroup):
    NOT_YET = ("StreamContainers",)
    WHY = "it is not implemented yet"

    def _container(self, container_id: str):
        try:
            return self.pods.containers.get(container_id)
        except ContainerNotFound as e:
            raise not_found(str(e)) from None

    def CreateContainer(self, request, context):
        try:
            cfg = ContainerConfig.from_cri(as_dict(request.config))
        except InvalidConfig as e:
            raise invalid(str(e)) from None
        try:
            return pb.CreateContainerResponse(container_id=self.pods.containers.create(request.pod_sandbox_id, cfg))
        except SandboxNotFound as e:
            raise not_found(str(e)) from None
        except InvalidConfig as e:
            raise invalid(str(e)) from None
        except ContainerNameTaken as e:
            raise CriError(grpc.StatusCode.ALREADY_EXISTS, str(e)) from None
        except SandboxNotReady as e:
            raise CriError(grpc.StatusCode.FAILED_PRECONDITION, str(e)) from None

    def StartContainer(self, request, context):
        self._container(request.container_id)
        self.pods.containers.start(request.container_id)
        return pb.StartContainerResponse()

    def StopContainer(self, request, context):
        self._container(request.container_id)
        self.pods.containers.stop(request.container_id, request.timeout)
        return pb.StopContainerResponse()

    def UpdateContainerResources(self, request, context):
        from minictr.pods.config import Resources
        self._container(request.container_id)
        if not request.HasField("linux"):
            return pb.UpdateContainerResourcesResponse()   # nothing for Linux to change (containerd's)
        try:
            res = Resources.from_cri(as_dict(request.linux), "linux")
        except InvalidConfig as e:
            raise invalid(str(e)) from None
        try:
            self.pods.containers.update_resources(request.container_id, res)
        except InvalidOption as e:
            raise invalid(str(e)) from None
        return pb.UpdateContainerResourcesResponse()

    def ReopenContainerLog(self, request, context):
        c = self._container(request.container_id)
        if c.state != "CONTAINER_RUNNING":
            raise CriError(grpc.StatusCode.FAILED_PRECONDITION, f"container {c.id} is not running")
        self.pods.containers.reopen_log(c.id)
        return pb.ReopenContainerLogResponse()

    def RemoveContainer(self, request, context):
        self.pods.containers.remove(request.container_id)
        return pb.RemoveContainerResponse()

    def ContainerStatus(self, request, context):
        c = self._container(request.container_id)
        response = pb.ContainerStatusResponse(status=self.container_status(c))
        if request.verbose:
            rec = c.record
            response.info["info"] = json.dumps({"sandboxID": c.sandbox_id, "pid": rec.pid or 0,
                                                "processStatus": rec.status, "config": c.config.raw,
                                                "logPath": c.log_path})
        return response

    def container_status(self, c) -> pb.ContainerStatus:
        cfg, rec = c.config, c.record
        image_ref = self._image_ref(rec)
        return pb.ContainerStatus(
            id=c.id, metadata=pb.ContainerMetadata(name=cfg.name, attempt=cfg.attempt),
            state=pb.ContainerState.Value(c.state), created_at=c.created_at, started_at=c.started_at,
            finished_at=c.finished_at, exit_code=c.exit_code, image=pb.ImageSpec(image=cfg.image),
            image_ref=image_ref, image_id=rec.image_id, reason=c.reason, message=c.message,
            labels=cfg.labels, annotations=cfg.annotations, log_path=c.log_path,
            mounts=[pb.Mount(container_path=m.container_path, host_path=m.host_path, readonly=m.readonly,
                             propagation=_PROPAGATION[m.propagation]) for m in cfg.mounts])

    def _image_ref(self, rec) -> str:
        """containerd's image_ref: the image's repo digest when it has one, else its ID."""
        record = self.engine.images.records.find(rec.image_id)
        digests = list(record.repo_digests) if record is not None else []
        return digests[0] if digests else rec.image_id

    def ListContainers(self, request, context):
        f = request.filter
        out = []
        for c in self.pods.containers.list(f.pod_sandbox_id and self._sandbox_id(f.pod_sandbox_id)):
            if f.id and not c.id.startswith(f.id):
                continue
            if f.HasField("state") and pb.ContainerState.Value(c.state) != f.state.state:
                continue
            if not labels_match(c.config.labels, f.label_selector):
                continue
            out.append(pb.Container(id=c.id, pod_sandbox_id=c.sandbox_id,
                                    metadata=pb.ContainerMetadata(name=c.config.name, attempt=c.config.attempt),
                                    image=pb.ImageSpec(image=c.config.image), image_ref=self._image_ref(c.record),
                                    image_id=c.record.image_id, state=pb.ContainerState.Value(c.state),
                                    created_at=c.created_at, labels=c.config.labels,
                                    annotations=c.config.annotations))
        return pb.ListContainersResponse(containers=out)

    def _sandbox_id(self, prefix: str) -> str:
        """A filter's sandbox ID (a prefix is allowed); one that matches none matches no container."""
        try:
            return self.pods.sandboxes.get(prefix).id
        except SandboxNotFound:
            return "-none-"


class Checkpoints(RpcGroup):
    NOT_YET = ("CheckpointContainer",)
    WHY = "checkpoint/restore is not supported"
