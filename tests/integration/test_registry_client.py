"""The registry client against a real registry (Debian's docker-registry) in
its three modes, with images seeded by skopeo/podman/umoci, plus stub
servers for what a real registry never does (hostile answers, flakiness).
Pushes are checked with skopeo, never with our own reader."""
import base64
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import seeded_images  # noqa: E402
from support.http_stubs import FlakyProxy, Reply, StubServer  # noqa: E402

from minictr.image.errors import AuthError, DigestMismatch, NotFound, RegistryError  # noqa: E402
from minictr.image.registry import (CredentialStore, Endpoint, RegistryClient, RegistryConfig,  # noqa: E402
                                    login, logout, verified_blob_reader)
from minictr.image.registry.transport import RetryPolicy, Transport  # noqa: E402
from minictr.oci import digest as _digest  # noqa: E402
from minictr.oci import media_types as mt  # noqa: E402

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_total=5)
BUSYBOX_AMD64_LAYER = "sha256:b05093807bb0294152bb9cf86d64da722732dddaf7f8882fa1f120477dbc4db3"
BUSYBOX_AMD64_CONFIG = "sha256:c6348fa86ba0fb2108c9334f5fe913ddc6d853313e655891f133a0127c30099f"
HELLO_LAYOUT = seeded_images.HELLO_WORLD


@pytest.fixture
def store(tmp_path) -> CredentialStore:
    """Credentials in the test's own files, never the user's."""
    return CredentialStore(str(tmp_path / "auth" / "auth.json"), str(tmp_path / "docker" / "config.json"))


def make_client(store: CredentialStore, registry=None, user: str | None = "alice", **config) -> RegistryClient:
    if registry is not None and user and registry.credentials(user):
        store.save(registry.address, *registry.credentials(user))
    return RegistryClient(RegistryConfig(**config), store, retry=FAST)


def read_all(stream) -> bytes:
    return b"".join(iter(stream))


def skopeo_inspect(registry, ref: str) -> bytes:
    return seeded_images.inspect_raw(f"{registry.address}/{ref}", registry.skopeo_creds("--creds"))


def layout_blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


# -- manifests ----------------------------------------------------------------

@pytest.mark.parametrize("ref, media_type", [
    ("library/busybox:latest", mt.OCI_INDEX),
    ("library/busybox:1.38", mt.DOCKER_MANIFEST_LIST),
    ("library/busybox:amd64-only", mt.DOCKER_MANIFEST),
    ("library/alpine:3.20", mt.OCI_MANIFEST),
    ("library/hello-world:latest", mt.OCI_MANIFEST),
    ("test/whiteouts:latest", mt.OCI_MANIFEST),
    ("test/big:latest", mt.OCI_MANIFEST),
])
def test_manifest_by_tag_and_digest(seeded_registry, store, ref, media_type):
    seeded = seeded_registry.images[ref]
    client = make_client(store)
    repo, tag = ref.rsplit(":", 1)
    data, got_type, digest = client.get_manifest(seeded_registry.address, repo, tag)
    assert (data, got_type, digest) == (seeded.raw, media_type, seeded.digest)
    assert client.get_manifest(seeded_registry.address, repo, seeded.digest) == (seeded.raw, media_type, seeded.digest)


@pytest.mark.parametrize("mode", ["anonymous", "htpasswd", "token"])
def test_index_to_platform_manifest_to_config_in_each_mode(request, store, mode):
    registry = request.getfixturevalue({"anonymous": "seeded_registry", "htpasswd": "basic_registry",
                                        "token": "token_registry"}[mode])
    client = make_client(store, registry)
    index = registry.images["library/busybox:latest"]
    for arch in ("amd64", "arm64"):
        data, media_type, digest = client.get_manifest(registry.address, "library/busybox",
                                                       index.platform_digest(arch))
        assert media_type == mt.OCI_MANIFEST and digest == index.platform_digest(arch)
        manifest = json.loads(data)
        config = json.loads(client.fetch_blob(registry.address, "library/busybox", manifest["config"]["digest"]))
        assert config["architecture"] == arch
        assert config["config"]["Cmd"] == ["sh"]
        assert any(e.startswith("PATH=") for e in config["config"]["Env"])


def test_docker_manifest_list_entries_are_docker_manifests(seeded_registry, store):
    client = make_client(store)
    listing = seeded_registry.images["library/busybox:1.38"]
    data, media_type, _ = client.get_manifest(seeded_registry.address, "library/busybox",
                                              listing.platform_digest("amd64"))
    assert media_type == mt.DOCKER_MANIFEST
    assert json.loads(data)["layers"][0]["digest"] == BUSYBOX_AMD64_LAYER


def test_missing_tag_is_not_found_with_the_registry_words(seeded_registry, store):
    with pytest.raises(NotFound) as err:
        make_client(store).get_manifest(seeded_registry.address, "library/busybox", "no-such-tag")
    assert "library/busybox:no-such-tag" in str(err.value) and "MANIFEST_UNKNOWN" in str(err.value)


def test_list_tags(seeded_registry, store):
    tags = make_client(store).list_tags(seeded_registry.address, "library/busybox")
    assert sorted(tags) == ["1.38", "amd64-only", "latest"]


# -- blobs --------------------------------------------------------------------

def test_blob_stream_and_range_resume(seeded_registry, store):
    client = make_client(store)
    expected = layout_blob(seeded_images.BUSYBOX_AMD64, BUSYBOX_AMD64_LAYER).read_bytes()
    with client.open_blob(seeded_registry.address, "library/busybox", BUSYBOX_AMD64_LAYER) as stream:
        assert stream.size == len(expected)
        assert read_all(verified_blob_reader(stream, BUSYBOX_AMD64_LAYER, stream.size)) == expected
    # A download cut at 1 MB resumes with Range; the hash of the head carries on.
    cut = 1_000_000
    head_hash = hashlib.sha256(expected[:cut])
    with client.open_blob(seeded_registry.address, "library/busybox", BUSYBOX_AMD64_LAYER, offset=cut) as stream:
        assert stream.response.status_code == 206 and stream.size == len(expected)
        tail = read_all(verified_blob_reader(stream, BUSYBOX_AMD64_LAYER, len(expected), head_hash, already=cut))
    assert tail == expected[cut:]


def test_blob_redirect_is_followed(seeded_registry, store):
    path = f"/v2/library/busybox/blobs/{BUSYBOX_AMD64_LAYER}"
    with StubServer({path: Reply(307, headers={"Location": seeded_registry.url + path})}) as stub:
        client = make_client(store)
        with client.open_blob(stub.address, "library/busybox", BUSYBOX_AMD64_LAYER) as stream:
            read_all(verified_blob_reader(stream, BUSYBOX_AMD64_LAYER))


def test_broken_download_is_a_connection_error_to_resume_from(store):
    digest = "sha256:" + hashlib.sha256(b"x" * 1000).hexdigest()

    def truncated(req):
        req.close_connection = True
        return Reply(200, b"x" * 10, {"Content-Length": "1000"})
    with StubServer({f"/v2/a/b/blobs/{digest}": truncated}) as stub:
        with make_client(store).open_blob(stub.address, "a/b", digest) as stream:
            with pytest.raises(ConnectionError, match="download broken"):
                read_all(stream)


def test_corrupted_blob_in_registry_storage_is_a_digest_mismatch(make_registry, store):
    registry = make_registry("anonymous")
    seeded_images.skopeo_copy(f"oci:{HELLO_LAYOUT}", f"docker://{registry.address}/library/hello-world:latest")
    manifest = json.loads(skopeo_inspect(registry, "library/hello-world:latest"))
    layer = manifest["layers"][0]["digest"]
    blob = registry.blob_path(layer)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    client = make_client(store)
    with client.open_blob(registry.address, "library/hello-world", layer) as stream:
        with pytest.raises(DigestMismatch) as err:
            read_all(verified_blob_reader(stream, layer, stream.size))
    assert layer in str(err.value)
    with pytest.raises(DigestMismatch):
        client.fetch_blob(registry.address, "library/hello-world", layer)


# -- mirrors ------------------------------------------------------------------

@pytest.fixture
def loopback_only(monkeypatch):
    """Name lookups for anything but loopback fail here (and are recorded), so
    a test that would leave the machine cannot, and can say it tried."""
    real = socket.getaddrinfo
    looked_up = []

    def guarded(host, *args, **kwargs):
        looked_up.append(host)
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: not resolvable in tests")
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return looked_up


def test_docker_io_through_a_mirror_without_fallback_stays_local(seeded_registry, store, loopback_only):
    client = make_client(store, mirrors={"docker.io": [seeded_registry.url]}, mirror_fallback=False)
    assert client.endpoints("docker.io") == [Endpoint(seeded_registry.address, ("http",), True, mirror=True)]
    index = seeded_registry.images["library/busybox:latest"]
    data, media_type, digest = client.get_manifest("docker.io", "library/busybox", "latest")
    assert (data, digest) == (index.raw, index.digest)
    with client.open_blob("index.docker.io", "library/busybox", BUSYBOX_AMD64_LAYER) as stream:
        read_all(verified_blob_reader(stream, BUSYBOX_AMD64_LAYER))
    assert set(loopback_only) == {"127.0.0.1"}


def test_mirror_failure_falls_back_to_upstream_only_when_allowed(seeded_registry, store, loopback_only):
    dead = "http://127.0.0.1:9"  # discard port: connection refused
    client = make_client(store, mirrors=[dead, seeded_registry.url], mirror_fallback=True)
    assert [e.host for e in client.endpoints("docker.io")] == ["127.0.0.1:9", seeded_registry.address,
                                                                "registry-1.docker.io"]
    client.get_manifest("docker.io", "library/busybox", "latest")  # the second mirror answers
    with pytest.raises(RegistryError) as err:
        client.get_manifest("docker.io", "library/nothing-here", "latest")
    assert "registry-1.docker.io" in str(err.value)  # tried last, and unresolvable here
    assert loopback_only[-1] == "registry-1.docker.io"
    closed = make_client(store, mirrors=[dead], mirror_fallback=False)
    with pytest.raises(RegistryError, match="cannot reach 127.0.0.1:9"):
        closed.get_manifest("docker.io", "library/busybox", "latest")
    assert loopback_only.count("registry-1.docker.io") == 1


def test_insecure_endpoint_tries_https_then_plain_http(seeded_registry):
    transport = Transport(retry=FAST)
    endpoint = Endpoint(seeded_registry.address, ("https", "http"), insecure=True)
    resp = transport.request("GET", endpoint, "/v2/")
    assert resp.status_code == 200 and resp.url.startswith("http://")
    with pytest.raises(RegistryError, match="TLS"):
        Transport(retry=FAST).request("GET", Endpoint(seeded_registry.address, ("https",)), "/v2/")


# -- authentication -----------------------------------------------------------

def test_token_flow_reuses_tokens_per_scope(token_registry, store):
    issuer = token_registry.issuer
    issuer.requests.clear()
    client = make_client(store, token_registry, user=None)
    index = token_registry.images["library/busybox:latest"]
    client.get_manifest(token_registry.address, "library/busybox", "latest")
    data, _, _ = client.get_manifest(token_registry.address, "library/busybox", index.platform_digest("amd64"))
    client.fetch_blob(token_registry.address, "library/busybox", json.loads(data)["config"]["digest"])
    with client.open_blob(token_registry.address, "library/busybox", BUSYBOX_AMD64_LAYER) as stream:
        read_all(stream)
    assert [(r.user, r.scopes) for r in issuer.requests] == [(None, ["repository:library/busybox:pull"])]
    client.get_manifest(token_registry.address, "library/alpine", "3.20")
    assert len(issuer.requests) == 2 and issuer.requests[1].scopes == ["repository:library/alpine:pull"]


def test_parallel_downloads_share_one_token(token_registry, store):
    from concurrent.futures import ThreadPoolExecutor
    token_registry.issuer.requests.clear()
    client = make_client(store, token_registry, user=None)
    manifest = json.loads(token_registry.images["test/big:latest"].raw)

    def download(desc):
        with client.open_blob(token_registry.address, "test/big", desc["digest"]) as stream:
            return sum(len(chunk) for chunk in verified_blob_reader(stream, desc["digest"], desc["size"]))
    with ThreadPoolExecutor(4) as pool:
        sizes = list(pool.map(download, manifest["layers"][:2]))
    assert sizes == [d["size"] for d in manifest["layers"][:2]]
    assert len(token_registry.issuer.requests) == 1


def test_expired_token_is_fetched_again(token_registry, store):
    issuer = token_registry.issuer
    issuer.requests.clear()
    issuer.expires_in = 1
    try:
        client = make_client(store, token_registry, user=None)
        client.get_manifest(token_registry.address, "library/hello-world", "latest")
        time.sleep(1.0)
        client.get_manifest(token_registry.address, "library/hello-world", "latest")
    finally:
        issuer.expires_in = 300
    assert len(issuer.requests) == 2


def test_private_repository_needs_credentials(token_registry, store):
    private = token_registry.images["private/hello-world:latest"]
    with pytest.raises(AuthError) as err:
        make_client(store).get_manifest(token_registry.address, "private/hello-world", "latest")
    assert "unauthorized" in str(err.value) and token_registry.address in str(err.value)
    assert "private/hello-world" in str(err.value)
    reader = make_client(store, token_registry, user="bob")
    assert reader.get_manifest(token_registry.address, "private/hello-world", "latest")[2] == private.digest
    token_users = {r.user for r in token_registry.issuer.requests}
    assert "bob" in token_users


def test_wrong_password_is_a_clear_auth_error_in_both_modes(token_registry, basic_registry, store):
    for registry in (token_registry, basic_registry):
        store.save(registry.address, "alice", "not-her-password")
        client = RegistryClient(RegistryConfig(), store, retry=FAST)
        with pytest.raises(AuthError) as err:
            client.get_manifest(registry.address, "library/busybox", "latest")
        assert registry.address in str(err.value) and "'alice'" in str(err.value)
        assert "wrong username or password" in str(err.value)


def test_basic_auth_registry(basic_registry, store):
    with pytest.raises(AuthError, match="authentication required"):
        make_client(store).get_manifest(basic_registry.address, "library/busybox", "latest")
    client = make_client(store, basic_registry)
    assert client.get_manifest(basic_registry.address, "library/busybox", "latest")[2] == \
        basic_registry.images["library/busybox:latest"].digest
    with client.open_blob(basic_registry.address, "library/busybox", BUSYBOX_AMD64_LAYER) as stream:
        read_all(verified_blob_reader(stream, BUSYBOX_AMD64_LAYER))


def test_reader_cannot_push(token_registry, store):
    client = make_client(store, token_registry, user="bob")
    with pytest.raises(AuthError) as err:
        client.push_blob(token_registry.address, "push/by-bob", "sha256:" + hashlib.sha256(b"x").hexdigest(),
                         io.BytesIO(b"x"), 1)
    assert token_registry.address in str(err.value) and "push/by-bob" in str(err.value)


@pytest.mark.parametrize("mode", ["htpasswd", "token"])
def test_login_stores_0600_docker_format_and_refuses_wrong_password(request, store, mode):
    registry = request.getfixturevalue("basic_registry" if mode == "htpasswd" else "token_registry")
    client = RegistryClient(RegistryConfig(), store, retry=FAST)
    with pytest.raises(AuthError, match="wrong username or password"):
        login(client, registry.address, "alice", "nope", store)
    assert not os.path.exists(store.path)
    login(client, registry.address, "alice", "wonderland", store)
    assert os.stat(store.path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(store.path)).st_mode & 0o777 == 0o700
    saved = json.loads(Path(store.path).read_text())
    assert saved == {"auths": {registry.address: {"auth": base64.b64encode(b"alice:wonderland").decode()}}}
    assert client.get_manifest(registry.address, "library/busybox", "latest")
    assert logout(registry.address, store) and store.get(registry.address) is None


def test_docker_config_json_is_honoured(basic_registry, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    auth = base64.b64encode(b"bob:builder").decode()
    (home / ".docker" / "config.json").write_text(json.dumps({"auths": {f"http://{basic_registry.address}/v2/":
                                                                          {"auth": auth}}}))
    monkeypatch.setenv("HOME", str(home))
    for name in ("DOCKER_CONFIG", "MINICTR_AUTH_FILE"):
        monkeypatch.delenv(name, raising=False)
    client = RegistryClient(RegistryConfig(), CredentialStore(), retry=FAST)
    assert client.get_manifest(basic_registry.address, "library/busybox", "latest")
    assert not (home / ".config").exists()  # reading docker's file writes nothing of ours


# -- push ---------------------------------------------------------------------

def _push_layout_image(client, address: str, repo: str, layout: Path, manifest_digest: str, **blob_options):
    """Push one image of an OCI layout blob by blob; returns each blob's outcome."""
    raw = layout_blob(layout, manifest_digest).read_bytes()
    manifest = json.loads(raw)
    outcomes = []
    for desc in [manifest["config"], *manifest["layers"]]:
        with open(layout_blob(layout, desc["digest"]), "rb") as f:
            outcomes.append(client.push_blob(address, repo, desc["digest"], f, desc["size"], **blob_options))
    assert client.put_manifest(address, repo, "latest", raw, mt.OCI_MANIFEST) == manifest_digest
    return outcomes


def _skopeo_copies(registry, ref: str, dest: Path) -> None:
    seeded_images.run("skopeo", "copy", "--quiet", "--src-tls-verify=false", *registry.skopeo_creds("--src-creds"),
                      f"docker://{registry.address}/{ref}", f"oci:{dest}:x")


def test_push_monolithic_chunked_mount_and_skip(make_registry, store, tmp_path):
    registry = make_registry("token")
    client = make_client(store, registry)
    address = registry.address
    hello = json.loads((HELLO_LAYOUT / "index.json").read_text())["manifests"][0]["digest"]
    busybox = json.loads((seeded_images.BUSYBOX_AMD64 / "index.json").read_text())["manifests"][0]["digest"]

    assert _push_layout_image(client, address, "push/mono", HELLO_LAYOUT, hello) == ["uploaded", "uploaded"]
    assert _push_layout_image(client, address, "push/chunked", seeded_images.BUSYBOX_AMD64, busybox,
                              chunk_size=512 << 10) == ["uploaded", "uploaded"]
    patches = [line for line in registry.log.splitlines() if '"PATCH /v2/push/chunked/blobs/uploads/' in line]
    assert len(patches) == 6  # 2226327 bytes in five 512 KiB chunks, the config in one
    assert _push_layout_image(client, address, "push/mounted", seeded_images.BUSYBOX_AMD64, busybox,
                              mount_from="push/chunked") == ["mounted", "mounted"]
    assert _push_layout_image(client, address, "push/mounted", seeded_images.BUSYBOX_AMD64, busybox) == \
        ["exists", "exists"]
    assert client.blob_exists(address, "push/mono", BUSYBOX_AMD64_LAYER) is None
    assert client.blob_exists(address, "push/mounted", BUSYBOX_AMD64_LAYER) == 2226327

    for repo, digest in (("push/mono", hello), ("push/chunked", busybox), ("push/mounted", busybox)):
        assert _digest.of_bytes(skopeo_inspect(registry, f"{repo}:latest")) == digest
        _skopeo_copies(registry, f"{repo}:latest", tmp_path / repo.replace("/", "-"))


def test_push_into_anonymous_registry_then_skopeo_copy(make_registry, store, tmp_path):
    registry = make_registry("anonymous")
    client = make_client(store)
    hello = json.loads((HELLO_LAYOUT / "index.json").read_text())["manifests"][0]["digest"]
    _push_layout_image(client, registry.address, "library/hello", HELLO_LAYOUT, hello, chunk_size=1000)
    _skopeo_copies(registry, "library/hello:latest", tmp_path / "copy")
    assert json.loads((tmp_path / "copy" / "index.json").read_text())["manifests"][0]["digest"] == hello


# -- retries ------------------------------------------------------------------

def test_retries_on_5xx_429_and_dropped_connections(seeded_registry, store):
    failures = [Reply(503), Reply(429, headers={"Retry-After": "0"}), "drop", None]
    with FlakyProxy(seeded_registry.address, failures) as proxy:
        client = make_client(store)
        assert client.get_manifest(proxy.address, "library/busybox", "latest")[2] == \
            seeded_registry.images["library/busybox:latest"].digest
        assert len(proxy.seen) == 4


def test_retry_after_is_honoured(seeded_registry, store):
    with FlakyProxy(seeded_registry.address, [Reply(429, headers={"Retry-After": "1"})]) as proxy:
        started = time.monotonic()
        make_client(store).get_manifest(proxy.address, "library/hello-world", "latest")
        assert time.monotonic() - started >= 1.0


def test_retries_are_bounded(seeded_registry, store):
    with FlakyProxy(seeded_registry.address, [Reply(500, b"<html>down</html>")] * 10) as proxy:
        with pytest.raises(RegistryError) as err:
            make_client(store).get_manifest(proxy.address, "library/busybox", "latest")
        assert len(proxy.seen) == FAST.attempts
        assert "HTTP 500" in str(err.value) and "down" in str(err.value)
    with FlakyProxy(seeded_registry.address, [Reply(503, headers={"Retry-After": "3600"})]) as proxy:
        started = time.monotonic()
        with pytest.raises(RegistryError, match="503"):
            make_client(store).get_manifest(proxy.address, "library/busybox", "latest")
        assert time.monotonic() - started < 2 and len(proxy.seen) == 1


# -- hostile and broken answers -----------------------------------------------

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                       "config": {"mediaType": mt.OCI_CONFIG, "digest": BUSYBOX_AMD64_CONFIG, "size": 459},
                       "layers": []}).encode()


def _unauthorized(challenge: str) -> Reply:
    return Reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                 {"WWW-Authenticate": challenge, "Content-Type": "application/json"})


@pytest.mark.parametrize("challenge, message", [
    ('Bearer realm="http://127.0.0.1:9/token,service=x', "unterminated"),
    ('Bearer realm="http://127.0.0.1:9/token,service="x"', "unexpected 'x'"),
    ("Bearer service=x,scope=y", "no realm"),
    ('Bearer realm="file:///etc/passwd"', "not an http"),
    ("Negotiate abc==", "unsupported auth scheme"),
    ("", "empty"),
])
def test_malformed_challenges(store, challenge, message):
    with StubServer({"/v2/a/b/manifests/latest": _unauthorized(challenge)}) as stub:
        with pytest.raises(AuthError, match=message):
            make_client(store).get_manifest(stub.address, "a/b", "latest")


def test_token_server_garbage_and_errors(make_registry, store):
    registry = make_registry("token")
    client = make_client(store)
    for misbehave, message in (("garbage", "returned no token"), ("no-token", "returned no token"),
                               ("500", "answered 500")):
        registry.issuer.misbehave = misbehave
        with pytest.raises(AuthError, match=message) as err:
            client.get_manifest(registry.address, "library/busybox", "latest")
        assert registry.issuer.realm in str(err.value)


def test_manifest_bytes_must_match_the_digest(store):
    wrong = "sha256:" + "0" * 64
    routes = {
        f"/v2/a/b/manifests/{wrong}": Reply(200, MANIFEST, {"Content-Type": mt.OCI_MANIFEST}),
        "/v2/a/b/manifests/lying": Reply(200, MANIFEST, {"Content-Type": mt.OCI_MANIFEST,
                                                          "Docker-Content-Digest": wrong}),
        "/v2/a/b/manifests/huge": Reply(200, b" " * (5 << 20), {"Content-Type": mt.OCI_MANIFEST}),
        "/v2/a/b/manifests/honest": Reply(200, MANIFEST, {"Content-Type": "application/json"}),
    }
    with StubServer(routes) as stub:
        client = make_client(store)
        with pytest.raises(DigestMismatch, match=wrong):
            client.get_manifest(stub.address, "a/b", wrong)
        with pytest.raises(DigestMismatch, match="Docker-Content-Digest"):
            client.get_manifest(stub.address, "a/b", "lying")
        with pytest.raises(RegistryError, match="larger than"):
            client.get_manifest(stub.address, "a/b", "huge")
        assert client.get_manifest(stub.address, "a/b", "honest") == (MANIFEST, mt.OCI_MANIFEST,
                                                                       _digest.of_bytes(MANIFEST))


def test_non_json_error_bodies(store):
    routes = {
        "/v2/a/b/manifests/html404": Reply(404, b"<html><body>\x00Nope\nnot here</body></html>",
                                           {"Content-Type": "text/html"}),
        "/v2/a/b/manifests/teapot": Reply(418, b"\xff\xfe short and stout" * 40),
        "/v2/a/b/manifests/forbidden": Reply(403, b'{"errors":[{"code":"DENIED","message":"go away"}]}'),
    }
    with StubServer(routes) as stub:
        client = make_client(store)
        with pytest.raises(NotFound, match="Nope not here"):
            client.get_manifest(stub.address, "a/b", "html404")
        with pytest.raises(RegistryError, match=r"HTTP 418.*short and stout.*\.\.\.$"):
            client.get_manifest(stub.address, "a/b", "teapot")
        with pytest.raises(AuthError, match="denied.*DENIED: go away"):
            client.get_manifest(stub.address, "a/b", "forbidden")
