"""RuntimeService's resource usage RPCs (ContainerStats, ListContainerStats,
PodSandboxStats, ListPodSandboxStats) over pods/usage.py; the streaming
and metrics-descriptor variants stay UNIMPLEMENTED, which kubelet reads as
"use the list calls" (and its cAdvisor path)."""
from minictr.cri.errors import not_found
from minictr.cri.not_yet import RpcGroup
from minictr.cri.sandboxes import labels_match
from minictr.cri.v1 import api_pb2 as pb
from minictr.pods.sandbox import SandboxNotFound


def _u64(value) -> pb.UInt64Value | None:
    return None if value is None else pb.UInt64Value(value=int(value))


def _cpu(u) -> pb.CpuUsage:
    return pb.CpuUsage(timestamp=u.timestamp, usage_core_nano_seconds=_u64(u.cpu_ns),
                       usage_nano_cores=_u64(u.nano_cores))


def _memory(u) -> pb.MemoryUsage:
    return pb.MemoryUsage(timestamp=u.timestamp, working_set_bytes=_u64(u.working_set),
                          available_bytes=_u64(u.available), usage_bytes=_u64(u.memory_usage),
                          rss_bytes=_u64(u.rss), page_faults=_u64(u.page_faults),
                          major_page_faults=_u64(u.major_page_faults))


def container_stats(c, usage, layer) -> pb.ContainerStats:
    cfg = c.config
    return pb.ContainerStats(
        attributes=pb.ContainerAttributes(id=c.id, metadata=pb.ContainerMetadata(name=cfg.name, attempt=cfg.attempt),
                                          labels=cfg.labels, annotations=cfg.annotations),
        cpu=_cpu(usage), memory=_memory(usage),
        writable_layer=pb.FilesystemUsage(timestamp=usage.timestamp,
                                          fs_id=pb.FilesystemIdentifier(mountpoint=layer.mountpoint),
                                          used_bytes=_u64(layer.used_bytes), inodes_used=_u64(layer.inodes)))


def _interface(row) -> pb.NetworkInterfaceUsage:
    name, rx, rx_err, tx, tx_err = row
    return pb.NetworkInterfaceUsage(name=name, rx_bytes=_u64(rx), rx_errors=_u64(rx_err), tx_bytes=_u64(tx),
                                    tx_errors=_u64(tx_err))


class Stats(RpcGroup):
    NOT_YET = ("StreamContainerStats", "StreamPodSandboxStats", "ListMetricDescriptors", "ListPodSandboxMetrics",
               "StreamPodSandboxMetrics")
    WHY = "streamed stats and pod metrics are not implemented (the list calls are)"

    def ContainerStats(self, request, context):
        c = self._container(request.container_id)
        return pb.ContainerStatsResponse(stats=container_stats(c, *self.pods.stats.container(c)))

    def ListContainerStats(self, request, context):
        f = request.filter
        sandbox = f.pod_sandbox_id and self._sandbox_id(f.pod_sandbox_id)
        out = []
        for c in self.pods.containers.list(sandbox):
            if (f.id and not c.id.startswith(f.id)) or not labels_match(c.config.labels, f.label_selector):
                continue
            if c.state != "CONTAINER_RUNNING":
                continue   # containerd lists the stats of running containers only
            out.append(container_stats(c, *self.pods.stats.container(c)))
        return pb.ListContainerStatsResponse(stats=out)

    def PodSandboxStats(self, request, context):
        try:
            box = self.pods.sandboxes.get(request.pod_sandbox_id)
        except SandboxNotFound as e:
            raise not_found(str(e)) from None
        return pb.PodSandboxStatsResponse(stats=self._pod_stats(box))

    def ListPodSandboxStats(self, request, context):
        f = request.filter
        out = []
        for box in self.pods.sandboxes.list():
            if (f.id and not box.id.startswith(f.id)) or not labels_match(box.config.labels, f.label_selector):
                continue
            if box.state != "SANDBOX_READY":
                continue
            out.append(self._pod_stats(box))
        return pb.ListPodSandboxStatsResponse(stats=out)

    def _pod_stats(self, box) -> pb.PodSandboxStats:
        pod = self.pods.stats.pod(box, self.pods.containers.list(box.id))
        u, cfg = pod.usage, box.config
        interfaces = [_interface(row) for row in pod.interfaces]
        default = next((i for i in interfaces if i.name == "eth0"), interfaces[0] if interfaces else None)
        return pb.PodSandboxStats(
            attributes=pb.PodSandboxAttributes(
                id=box.id, metadata=pb.PodSandboxMetadata(name=cfg.name, uid=cfg.uid, namespace=cfg.namespace,
                                                          attempt=cfg.attempt),
                labels=cfg.labels, annotations=cfg.annotations),
            linux=pb.LinuxPodSandboxStats(
                cpu=_cpu(u), memory=_memory(u),
                network=pb.NetworkUsage(timestamp=u.timestamp, default_interface=default, interfaces=interfaces),
                process=pb.ProcessUsage(timestamp=u.timestamp, process_count=_u64(u.processes)),
                containers=[container_stats(c, usage, layer) for c, usage, layer in pod.containers
                            if c.state == "CONTAINER_RUNNING"]))
