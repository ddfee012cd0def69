"""`minictr cri`: the gRPC server on a unix socket, serving RuntimeService
and ImageService from one Engine (thread-safe: a connection per worker
thread) until SIGTERM or SIGINT, then a graceful stop and the socket gone."""
from __future__ import annotations

import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc

from minictr import __version__
from minictr.cri import memory
from minictr.cri.config import CriConfigError, RuntimeSettings, ServerConfig
from minictr.cri.errors import Guard
from minictr.cri.image_service import ImageService
from minictr.cri.listen_socket import BoundSocket, claim
from minictr.cri.runtime_service import RuntimeService
from minictr.cri.v1 import api_pb2_grpc
from minictr.engine.containers import Engine
from minictr.image.registry.config import RegistryConfig
from minictr.image.registry.credentials import CredentialStore
from minictr.pods.cni.default import write_default
from minictr.pods.runtime import DEFAULT_CNI_BIN_DIRS, PodRuntime

log = logging.getLogger("minictr.cri")
GRACE_SECONDS = 5.0   # in-flight RPCs get this long at shutdown, then are cancelled
_MAX_MESSAGE = 16 << 20   # kubelet's own limit for CRI messages


def configure_logging(level: int = logging.INFO) -> None:
    """One line per event on stderr, as a daemon under systemd writes them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("minictr")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _registry_view(registry_config) -> dict:
    return {"mirrors": registry_config.mirrors, "mirrorFallback": registry_config.mirror_fallback,
            "insecureRegistries": registry_config.insecure_registries}


def build(config: ServerConfig):
    """(grpc server, engine), the services added, nothing bound yet."""
    registry_config = RegistryConfig.load()   # a broken file fails the start, not every pull
    engine = Engine(config.root)
    server = grpc.server(ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="cri"),
                         interceptors=[Guard()],
                         options=[("grpc.max_receive_message_length", _MAX_MESSAGE),
                                  ("grpc.max_send_message_length", _MAX_MESSAGE)])
    settings = RuntimeSettings()
    pods = PodRuntime(engine, config.cni_conf_dir, config.cni_bin_dirs or DEFAULT_CNI_BIN_DIRS)
    api_pb2_grpc.add_RuntimeServiceServicer_to_server(
        RuntimeService(engine, config, settings, lambda: _registry_view(registry_config), pods), server)
    api_pb2_grpc.add_ImageServiceServicer_to_server(
        ImageService(engine, registry_config, CredentialStore()), server)
    server.pods = pods
    return server, engine


def prepare_pods(pods) -> None:
    """Before serving: a default network if the conf dir has none (as an
    install of containerd or podman writes one), and what a server killed
    in the middle of a RunPodSandbox left (a netns, a CNI attachment) gone."""
    written = write_default(pods.cni.conf_dir)
    if written:
        log.info("no CNI network was configured: wrote %s", written)
    swept = pods.sandboxes.sweep()
    if swept:
        log.info("removed the network of %d pod sandbox(es) a killed server left half made", len(swept))


def serve(config: ServerConfig) -> int:
    memory.few_arenas()
    configure_logging()
    server, engine = build(config)
    try:
        claim(config.listen)
        try:
            server.add_insecure_port(f"unix:{config.listen}")
        except RuntimeError as e:
            raise CriConfigError(f"--listen {config.listen}: cannot listen: {e}") from None
        bound = BoundSocket(config.listen)
        prepare_pods(server.pods)
        stop, why = threading.Event(), []

        def on_signal(signum, frame):
            why.append(signal.Signals(signum).name)
            stop.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, on_signal)
        server.start()
        log.info("minictr %s: CRI v1 (RuntimeService, ImageService) on unix://%s, root %s", __version__,
                 config.listen, engine.root)
        # A timed wait: the kernel may hand the signal to one of gRPC's
        # threads, and Python runs its handler only when the main thread
        # next executes bytecode, which an untimed wait would never do.
        while not stop.wait(0.2):
            pass
        log.info("%s: stopping (in-flight calls get %.0f s)", why[0], GRACE_SECONDS)
        server.stop(GRACE_SECONDS).wait()
        bound.release()
        log.info("stopped; %s removed", config.listen)
        return 0
    finally:
        server.stop(0)
        engine.close()
