"""RuntimeService's pod sandbox RPCs on minictr/pods/: the request's config
becomes a pods.config.PodConfig (InvalidArgument when it cannot), the
pods layer does the work, and its records come back as CRI messages.
Status and list answer from the engine's truth, so a sandbox whose pause
process died reads NOTREADY, as containerd reports it."""
from __future__ import annotations

import json

from google.protobuf.json_format import MessageToDict

from minictr.cri.errors import CriError, invalid, not_found
from minictr.cri.not_yet import RpcGroup
from minictr.cri.v1 import api_pb2 as pb
from minictr.pods.config import InvalidConfig, PodConfig
from minictr.pods.sandbox import SandboxNameTaken, SandboxNotFound

import grpc


def as_dict(message) -> dict:
    """A request's message in the form pods.config reads."""
    return MessageToDict(message, preserving_proto_field_name=True)


def pod_config(message) -> PodConfig:
    try:
        return PodConfig.from_cri(as_dict(message))
    except InvalidConfig as e:
        raise invalid(str(e)) from None


def labels_match(labels: dict, selector) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _namespace_option(cfg: PodConfig) -> pb.NamespaceOption:
    ns = cfg.namespaces
    return pb.NamespaceOption(network=pb.NamespaceMode.Value(ns.network), pid=pb.NamespaceMode.Value(ns.pid),
                              ipc=pb.NamespaceMode.Value(ns.ipc), target_id=ns.target_id)


def _metadata(cfg: PodConfig) -> pb.PodSandboxMetadata:
    return pb.PodSandboxMetadata(name=cfg.name, uid=cfg.uid, namespace=cfg.namespace, attempt=cfg.attempt)


class PodSandboxes(RpcGroup):
    NOT_YET = ("StreamPodSandboxes", "UpdatePodSandboxResources")
    WHY = "it is not implemented yet"

    def _sandbox(self, sandbox_id: str):
        try:
            return self.pods.sandboxes.get(sandbox_id)
        except SandboxNotFound as e:
            raise not_found(str(e)) from None

    def RunPodSandbox(self, request, context):
        cfg = pod_config(request.config)
        if request.runtime_handler:
            raise not_found(f"no runtime for {request.runtime_handler!r} is configured")
        try:
            return pb.RunPodSandboxResponse(pod_sandbox_id=self.pods.sandboxes.run(cfg, request.runtime_handler))
        except SandboxNameTaken as e:
            raise CriError(grpc.StatusCode.ALREADY_EXISTS, str(e)) from None

    def StopPodSandbox(self, request, context):
        box = self._sandbox(request.pod_sandbox_id)
        self.pods.sandboxes.stop(box.id, self.pods.pod_containers(box.id))
        return pb.StopPodSandboxResponse()

    def RemovePodSandbox(self, request, context):
        try:
            box = self.pods.sandboxes.get(request.pod_sandbox_id)
        except SandboxNotFound:
            return pb.RemovePodSandboxResponse()   # removed already: containerd says nothing either
        self.pods.sandboxes.remove(box.id, self.pods.pod_containers(box.id))
        return pb.RemovePodSandboxResponse()

    def PodSandboxStatus(self, request, context):
        box = self._sandbox(request.pod_sandbox_id)
        cfg = box.config
        status = pb.PodSandboxStatus(
            id=box.id, metadata=_metadata(cfg), state=pb.PodSandboxState.Value(box.state),
            created_at=box.created_at,
            network=pb.PodSandboxNetworkStatus(ip=box.ip, additional_ips=[pb.PodIP(ip=ip) for ip in box.ips[1:]]),
            linux=pb.LinuxPodSandboxStatus(namespaces=pb.Namespace(options=_namespace_option(cfg))),
            labels=cfg.labels, annotations=cfg.annotations, runtime_handler=box.runtime_handler)
        response = pb.PodSandboxStatusResponse(status=status)
        for c in self.pods.containers.list(box.id):
            response.containers_statuses.append(self.container_status(c))
        if request.verbose:
            rec = box.record
            response.info["info"] = json.dumps({
                "pid": rec.pid or 0, "processStatus": rec.status, "netNamespacePath": box.netns,
                "image": rec.image_ref, "sandboxID": box.id, "cniAttachment": box.cni_id,
                "runtimeHandler": box.runtime_handler, "config": cfg.raw})
        return response

    def ListPodSandbox(self, request, context):
        f = request.filter
        out = []
        for box in self.pods.sandboxes.list():
            if f.id and not box.id.startswith(f.id):
                continue
            if f.HasField("state") and pb.PodSandboxState.Value(box.state) != f.state.state:
                continue
            if not labels_match(box.config.labels, f.label_selector):
                continue
            out.append(pb.PodSandbox(id=box.id, metadata=_metadata(box.config),
                                     state=pb.PodSandboxState.Value(box.state), created_at=box.created_at,
                                     labels=box.config.labels, annotations=box.config.annotations,
                                     runtime_handler=box.runtime_handler))
        return pb.ListPodSandboxResponse(items=out)
