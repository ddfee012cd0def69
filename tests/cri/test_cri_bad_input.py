"""Malformed and hostile requests get one status code and one clear line,
and the server goes on serving: empty and bad references, unknown images,
RPCs not there yet, undecodable messages, garbage and truncated HTTP/2 on
the socket, and many calls at once on one engine."""
import socket
import struct
import threading

import grpc
import pytest

from minictr.cri.v1 import api_pb2 as pb

pytestmark = pytest.mark.root
BUSYBOX_ID = "sha256:c6348fa86ba0fb2108c9334f5fe913ddc6d853313e655891f133a0127c30099f"


def _code(call, request):
    with pytest.raises(grpc.RpcError) as e:
        call(request, timeout=30)
    return e.value.code(), e.value.details()


def _alive(cri):
    assert cri.runtime.Version(pb.VersionRequest(), timeout=10).runtime_name == "minictr"


def spec(image: str) -> pb.ImageSpec:
    return pb.ImageSpec(image=image)


def test_empty_references_are_invalid_arguments(cri):
    for call, request in ((cri.images.PullImage, pb.PullImageRequest()),
                          (cri.images.PullImage, pb.PullImageRequest(image=spec(""))),
                          (cri.images.ImageStatus, pb.ImageStatusRequest()),
                          (cri.images.RemoveImage, pb.RemoveImageRequest(image=spec("")))):
        code, details = _code(call, request)
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert details == "image.image: an image reference or ID is required"
    # crictl refuses an empty name itself
    assert "image name cannot be empty" in cri.crictl("pull", "", check=False).stderr


@pytest.mark.parametrize("ref, why", [("Busybox", "must be lowercase"), ("busybox:", "invalid tag"),
                                       ("a b", "invalid reference format"),
                                       ("busybox@sha256:abc", "invalid reference format"),
                                       ("x" * 300, "invalid reference format")])
def test_a_bad_reference_is_refused_before_any_request(cri, cri_registry, ref, why):
    code, details = _code(cri.images.PullImage, pb.PullImageRequest(image=spec(ref)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("failed to parse image reference") and why in details
    assert "\n" not in details and "Traceback" not in details
    # as containerd: a name that cannot be an image is simply not there
    assert not cri.images.ImageStatus(pb.ImageStatusRequest(image=spec(ref)), timeout=10).HasField("image")
    cri.images.RemoveImage(pb.RemoveImageRequest(image=spec(ref)), timeout=10)
    assert ref not in cri_registry.log   # nothing was asked of the registry


def test_unknown_images(cri):
    code, details = _code(cri.images.PullImage, pb.PullImageRequest(image=spec("nosuch/image:1")))
    assert code == grpc.StatusCode.NOT_FOUND
    assert details.startswith('failed to pull image "docker.io/nosuch/image:1": ') and "not found" in details
    assert not cri.images.ImageStatus(pb.ImageStatusRequest(image=spec("nosuch")), timeout=10).HasField("image")
    assert list(cri.images.ListImages(pb.ListImagesRequest(filter=pb.ImageFilter(image=spec("nosuch"))),
                                      timeout=10).images) == []
    cri.images.RemoveImage(pb.RemoveImageRequest(image=spec("nosuch")), timeout=10)   # idempotent
    code, _ = _code(cri.images.PullImage, pb.PullImageRequest(image=pb.ImageSpec(image="busybox",
                                                                                    runtime_handler="kata")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    _alive(cri)


def test_an_unreachable_registry_is_unknown_with_the_reason(cri):
    port = _closed_port()
    code, details = _code(cri.images.PullImage, pb.PullImageRequest(image=spec(f"127.0.0.1:{port}/x:y")))
    assert code == grpc.StatusCode.UNKNOWN
    assert f"127.0.0.1:{port}" in details and "connection refused" in details


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rpcs_not_there_yet_say_so(cri):
    code, details = _code(cri.runtime.CheckpointContainer, pb.CheckpointContainerRequest(container_id="x"))
    assert code == grpc.StatusCode.UNIMPLEMENTED and "checkpoint/restore is not supported" in details
    code, details = _code(cri.runtime.UpdatePodSandboxResources, pb.UpdatePodSandboxResourcesRequest())
    assert code == grpc.StatusCode.UNIMPLEMENTED
    assert details.startswith("minictr does not implement UpdatePodSandboxResources")
    # a method the API does not have at all
    unknown = cri.channel.unary_unary("/runtime.v1.RuntimeService/NoSuchCall")
    code, _ = _code(unknown, b"")
    assert code == grpc.StatusCode.UNIMPLEMENTED
    _alive(cri)


def test_update_runtime_config_checks_the_cidr(cri):
    ok = pb.UpdateRuntimeConfigRequest(runtime_config=pb.RuntimeConfig(
        network_config=pb.NetworkConfig(pod_cidr="10.244.0.0/24,fd00:10:244::/64")))
    cri.runtime.UpdateRuntimeConfig(ok, timeout=10)
    verbose = cri.runtime.Status(pb.StatusRequest(verbose=True), timeout=10)
    assert '"podCIDR": "10.244.0.0/24,fd00:10:244::/64"' in verbose.info["config"]
    bad = pb.UpdateRuntimeConfigRequest(runtime_config=pb.RuntimeConfig(
        network_config=pb.NetworkConfig(pod_cidr="10.244.0.0/33")))
    code, details = _code(cri.runtime.UpdateRuntimeConfig, bad)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'10.244.0.0/33' is not a CIDR" in details


def test_an_undecodable_message_is_refused(cri):
    raw = cri.channel.unary_unary("/runtime.v1.ImageService/ImageStatus")
    code, _ = _code(raw, b"\x0a\xff\xff\xff\xff\xff")   # field 1, a length longer than the message
    assert code == grpc.StatusCode.INTERNAL   # as grpc-go (containerd) answers an unmarshal error
    _alive(cri)


def _raw(cri, data: bytes, read: bool = True) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(cri.socket))
        s.sendall(data)
        if not read:
            return b""
        got = b""
        try:
            for _ in range(100):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return got


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _frame(kind: int, flags: int, stream: int, payload: bytes, length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def test_garbage_and_truncated_http2_leave_the_server_serving(cri):
    _raw(cri, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    _raw(cri, bytes(range(256)) * 64)
    # a SETTINGS frame that announces 100 bytes and sends 5, then hangs up
    _raw(cri, PREFACE + _frame(0x4, 0, 0, b"\x00\x03\x00\x00", length=100)[:14], read=False)
    # a HEADERS frame announcing 16 MiB on stream 1, cut short
    _raw(cri, PREFACE + _frame(0x4, 0, 0, b"") + _frame(0x1, 0x4, 1, b"\x82", length=(1 << 24) - 1))
    # a frame on stream 0 that must not be there (DATA), and a half frame header
    _raw(cri, PREFACE + _frame(0x4, 0, 0, b"") + _frame(0x0, 0, 0, b"xx") + b"\x00\x00")
    _alive(cri)
    assert cri.proc.poll() is None
    assert "Traceback" not in cri.log


def test_many_calls_at_once_on_one_engine(cri):
    """The thread pool's workers each get their own database connection."""
    errors, answers = [], []

    def pull(name):
        try:
            answers.append(cri.images.PullImage(pb.PullImageRequest(image=spec(name)), timeout=120).image_ref)
        except grpc.RpcError as e:
            errors.append(f"pull {name}: {e.code()}: {e.details()}")

    def read(n):
        try:
            for _ in range(10):
                cri.images.ListImages(pb.ListImagesRequest(), timeout=30)
                cri.images.ImageStatus(pb.ImageStatusRequest(image=spec("busybox")), timeout=30)
                cri.images.ImageFsInfo(pb.ImageFsInfoRequest(), timeout=30)
        except grpc.RpcError as e:
            errors.append(f"reader {n}: {e.code()}: {e.details()}")

    threads = [threading.Thread(target=pull, args=(name,))
               for name in ("busybox", "busybox", "hello-world", "registry.k8s.io/pause:3.9")]
    threads += [threading.Thread(target=read, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors, errors
    assert answers.count(BUSYBOX_ID) == 3
    images = cri.images.ListImages(pb.ListImagesRequest(), timeout=10).images
    assert sorted(len(i.repo_tags) for i in images) == [1, 2]
    assert "Traceback" not in cri.log
