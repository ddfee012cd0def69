"""PullImage's AuthConfig, as kubelet sends it from an imagePullSecret:
username/password, `auth` (base64 user:password), registry_token (a
bearer token used as is), server_address scoping them to one host; and
an image the credentials do not open stays unpulled with the reason."""
import base64
import json
import shutil
import urllib.request

import grpc
import pytest

from minictr.cri.v1 import api_pb2 as pb
from support import seeded_images
from support.registry import Registry
from support.token_issuer import SERVICE

pytestmark = pytest.mark.root
HELLO_ID = "sha256:b23a8f6569ae9ae331226205fa72f480ce5310707d0bc97e611f83fbbbde4604"


@pytest.fixture
def private_registry(tmp_path_factory, request):
    mode = request.param
    tmp = tmp_path_factory.mktemp(f"cri-{mode}")
    registry = Registry(tmp, mode).start()
    try:
        seeded_images.skopeo_copy(f"oci:{seeded_images.HELLO_WORLD}",
                                  f"docker://{registry.address}/private/hello-world:latest",
                                  *registry.skopeo_creds("--dest-creds"))
        yield registry
    finally:
        registry.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _pull(cri, ref, **auth):
    request = pb.PullImageRequest(image=pb.ImageSpec(image=ref))
    if auth:
        request.auth.CopyFrom(pb.AuthConfig(**auth))
    return cri.images.PullImage(request, timeout=120).image_ref


def _refused(cri, ref, **auth):
    with pytest.raises(grpc.RpcError) as e:
        _pull(cri, ref, **auth)
    return e.value.code(), e.value.details()


@pytest.mark.parametrize("private_registry", ["htpasswd"], indirect=True)
def test_basic_auth_by_password_or_auth_field(cri, private_registry):
    ref = f"{private_registry.address}/private/hello-world:latest"
    code, details = _refused(cri, ref)
    assert code == grpc.StatusCode.UNKNOWN and "unauthorized" in details and "\n" not in details
    code, details = _refused(cri, ref, username="alice", password="wrong")
    assert code == grpc.StatusCode.UNKNOWN and "'alice' refused" in details
    # credentials for another registry are not sent here
    code, _ = _refused(cri, ref, username="alice", password="wonderland", server_address="other.example:5000")
    assert code == grpc.StatusCode.UNKNOWN
    assert _pull(cri, ref, username="alice", password="wonderland",
                 server_address=f"http://{private_registry.address}") == HELLO_ID
    cri.images.RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=ref)), timeout=30)
    assert _pull(cri, ref, auth=base64.b64encode(b"bob:builder").decode()) == HELLO_ID
    assert cri.crictl_json("inspecti", ref)["status"]["repoTags"] == [ref]
    code, details = _refused(cri, ref, auth="not base64!")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details == "auth.auth: not base64 of user:password"


@pytest.mark.parametrize("private_registry", ["htpasswd"], indirect=True)
def test_crictl_pull_creds(cri, private_registry):
    ref = f"{private_registry.address}/private/hello-world:latest"
    assert cri.crictl("pull", ref, check=False).returncode != 0
    out = cri.crictl("pull", "--creds", "alice:wonderland", ref).stdout
    assert out.strip() == f"Image is up to date for {HELLO_ID}"


@pytest.mark.parametrize("private_registry", ["token"], indirect=True)
def test_registry_token_is_sent_as_is(cri, private_registry):
    issuer = private_registry.issuer
    scope = "repository:private/hello-world:pull"
    ask = urllib.request.Request(f"{issuer.realm}?service={SERVICE}&scope={scope}",
                                 headers={"Authorization": "Basic " + base64.b64encode(b"alice:wonderland").decode()})
    with urllib.request.urlopen(ask, timeout=10) as resp:
        token = json.load(resp)["token"]
    ref = f"{private_registry.address}/private/hello-world:latest"
    asked = len(issuer.requests)
    assert _pull(cri, ref, registry_token=token) == HELLO_ID
    assert len(issuer.requests) == asked   # the server fetched no token of its own
    code, details = _refused(cri, ref.replace(":latest", ":other"), registry_token="not-a-token")
    assert code == grpc.StatusCode.UNKNOWN and "registry token given was refused" in details
    code, details = _refused(cri, ref, identity_token="refresh-me")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "identity tokens are not supported" in details
