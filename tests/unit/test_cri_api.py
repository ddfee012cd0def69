"""The CRI v1 API in minictr/cri/v1: the committed generated code is what
grpcio-tools makes of api.proto today, the proto is the one the real crictl
1.36 speaks (compared with the descriptor compiled into it), and every RPC
of both services is answered by a method of ours, not the generated stub."""
import filecmp
import inspect

import pytest

from minictr.cri.v1 import api_pb2
from support.cri_tools import crictl
from support.go_descriptor import comparable, cri_descriptor

# Added upstream after cri-api 0.36 (crictl 1.36's): audit_request_id on Exec and Attach
NEWER_THAN_CRICTL = {("ExecRequest", "audit_request_id"), ("AttachRequest", "audit_request_id")}


def test_the_committed_code_is_regenerated_unchanged(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (the test extra) is not installed")
    from minictr.cri.v1 import regenerate
    fresh = regenerate.generate(str(tmp_path))
    for path in fresh:
        committed = f"{regenerate.SOURCE_ROOT}/{regenerate.PROTO.rsplit('/', 1)[0]}/{path.rsplit('/', 1)[1]}"
        assert filecmp.cmp(path, committed, shallow=False), f"{committed} is stale: run python -m {regenerate.__name__}"


def test_the_proto_is_the_one_crictl_speaks():
    path, why = crictl()
    if path is None:
        pytest.skip(why)
    theirs = comparable(cri_descriptor(path))
    from google.protobuf import descriptor_pb2
    ours = descriptor_pb2.FileDescriptorProto()
    api_pb2.DESCRIPTOR.CopyToProto(ours)
    ours = comparable(ours)
    for message in ours.message_type:
        for field in list(message.field):
            if (message.name, field.name) in NEWER_THAN_CRICTL:
                message.field.remove(field)
    assert [m.name for m in ours.message_type] == [m.name for m in theirs.message_type]
    for mine, real in zip(ours.message_type, theirs.message_type):
        assert mine == real, mine.name
    assert list(ours.enum_type) == list(theirs.enum_type)
    assert list(ours.service) == list(theirs.service)
    assert ours.package == theirs.package == "runtime.v1"


@pytest.mark.parametrize("service", ["RuntimeService", "ImageService"])
def test_every_rpc_is_answered_by_our_servicer(service):
    from minictr.cri.image_service import ImageService
    from minictr.cri.runtime_service import RuntimeService
    from minictr.cri.v1 import api_pb2_grpc
    ours = {"RuntimeService": RuntimeService, "ImageService": ImageService}[service]
    generated = getattr(api_pb2_grpc, f"{service}Servicer")
    names = [m.name for m in api_pb2.DESCRIPTOR.services_by_name[service].methods]
    assert len(names) == {"RuntimeService": 35, "ImageService": 6}[service]
    for name in names:
        method = inspect.getattr_static(ours, name)
        assert method is not getattr(generated, name), f"{service}.{name} falls through to the generated stub"


def test_a_group_cannot_list_what_it_implements():
    from minictr.cri.not_yet import RpcGroup
    with pytest.raises(TypeError, match="take it off NOT_YET"):
        type("Half", (RpcGroup,), {"NOT_YET": ("Exec",), "Exec": lambda self, r, c: None})


@pytest.mark.parametrize("user, expected", [("", (None, "")), ("1000", (1000, "")), ("1000:50", (1000, "")),
                                            ("nobody", (None, "nobody")), ("www:www", (None, "www")),
                                            ("0", (0, ""))])
def test_image_user_as_uid_or_username(user, expected):
    from minictr.cri.image_views import user_of
    assert user_of(user) == expected


class _Store:
    def __init__(self, creds=None):
        self.creds = creds or {}

    def get(self, host):
        return self.creds.get(host)


def test_pull_auth_scoping():
    from minictr.cri.image_auth import PullAuth
    stored = _Store({"other:5000": ("carol", "pw")})
    anywhere = PullAuth(api_pb2.AuthConfig(username="alice", password="x"), stored)
    assert anywhere.get("127.0.0.1:5000") == ("alice", "x") and anywhere.get("docker.io") == ("alice", "x")
    scoped = PullAuth(api_pb2.AuthConfig(username="alice", password="x",
                                         server_address="https://index.docker.io/v1/"), stored)
    assert scoped.get("registry-1.docker.io") == ("alice", "x")   # Docker Hub's names are one host
    assert scoped.get("other:5000") == ("carol", "pw") and scoped.get("quay.io") is None
    token = PullAuth(api_pb2.AuthConfig(registry_token="t0k", server_address="reg:5000"), stored)
    assert token.bearer("reg:5000") == "t0k" and token.get("reg:5000") is None and token.bearer("x") is None
    assert PullAuth(None, stored).get("other:5000") == ("carol", "pw")


@pytest.mark.parametrize("text, parsed", [("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:10010", ("::1", 10010)),
                                          ("0.0.0.0:65535", ("0.0.0.0", 65535))])
def test_streaming_addr(text, parsed):
    from minictr.cri.config import parse_streaming_addr
    assert parse_streaming_addr(text) == parsed


@pytest.mark.parametrize("text", ["localhost:80", "127.0.0.1", ":80", "127.0.0.1:-1", "127.0.0.1:x", ""])
def test_bad_streaming_addr(text):
    from minictr.cri.config import CriConfigError, parse_streaming_addr
    with pytest.raises(CriConfigError, match="expected IP:PORT"):
        parse_streaming_addr(text)
