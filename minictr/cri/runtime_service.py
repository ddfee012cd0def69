"""runtime.v1.RuntimeService: one servicer made of its RPC groups, one
module each (runtime_info, sandboxes, containers, streaming, stats,
events), sharing the engine, the server's config and its settings."""
from __future__ import annotations

from minictr.cri.containers import Checkpoints, PodContainers
from minictr.cri.events import Events
from minictr.cri.runtime_info import RuntimeInfo
from minictr.cri.sandboxes import PodSandboxes
from minictr.cri.stats import Stats
from minictr.cri.streaming import Streaming
from minictr.cri.v1 import api_pb2_grpc


class RuntimeService(RuntimeInfo, PodSandboxes, PodContainers, Checkpoints, Streaming, Stats, Events,
                     api_pb2_grpc.RuntimeServiceServicer):
    def __init__(self, engine, config, settings, registry_view, pods):
        self.engine, self.config, self.settings = engine, config, settings
        self.pods = pods   # pods.runtime.PodRuntime
        self.registry_config_view = registry_view
