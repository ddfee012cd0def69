"""WWW-Authenticate parsing, Retry-After, registry error bodies and the
credential file's keys: the pure parts of registry authentication."""
import base64
import json
import os

import pytest

from minictr.image.errors import AuthError
from minictr.image.registry import challenge
from minictr.image.registry.credentials import DOCKER_HUB_KEY, CredentialStore, key_host
from minictr.image.registry.errors import error_message
from minictr.image.registry.transport import RetryPolicy, _retry_after

HUB = ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
       'scope="repository:library/busybox:pull"')


def test_docker_hub_challenge():
    [c] = challenge.parse(HUB)
    assert c.scheme == "bearer"
    assert c.realm == "https://auth.docker.io/token"
    assert c.service == "registry.docker.io"
    assert c.scopes == ["repository:library/busybox:pull"]


def test_quoted_values_keep_commas_spaces_and_escapes():
    [c] = challenge.parse(r'Bearer realm="https://a/t?x=1,y=2", service="my \"svc\", eu", error="insufficient_scope"')
    assert c.realm == "https://a/t?x=1,y=2"
    assert c.service == 'my "svc", eu'
    assert c.params["error"] == "insufficient_scope"


def test_several_scopes_space_separated_and_repeated():
    [c] = challenge.parse('Bearer realm="r",scope="repository:a:pull,push repository:b:pull",scope="registry:catalog:*"')
    assert c.scopes == ["repository:a:pull,push", "repository:b:pull", "registry:catalog:*"]


def test_bare_tokens_case_and_whitespace():
    [c] = challenge.parse("  BEARER   Realm = https://auth/token ,  Service=reg  ")
    assert (c.scheme, c.realm, c.service) == ("bearer", "https://auth/token", "reg")


def test_basic_challenge_and_preference_for_bearer():
    [c] = challenge.parse('Basic realm="Registry Realm"')
    assert (c.scheme, c.realm) == ("basic", "Registry Realm")
    both = 'Basic realm="x", Bearer realm="https://a/token",service="s"'
    assert [x.scheme for x in challenge.parse(both)] == ["basic", "bearer"]
    assert challenge.pick(both).scheme == "bearer"
    assert challenge.pick('Negotiate abc==, Basic realm="r"').scheme == "basic"


def test_token68_challenge():
    [c] = challenge.parse("Negotiate YWJjZA==")
    assert c.params["token68"] == "YWJjZA=="


@pytest.mark.parametrize("header, message", [
    ("", "empty"),
    ("   ", "empty"),
    ('Bearer realm="https://auth', "unterminated"),
    ('Bearer realm="a" junk', "unexpected"),
    ('Bearer realm="a"x="b"', "unexpected"),
    ("=oops", "expected an auth scheme"),
    ('"quoted"', "expected an auth scheme"),
])
def test_malformed_headers(header, message):
    with pytest.raises(challenge.ChallengeError, match=message):
        challenge.parse(header)


def test_unsupported_scheme_only():
    with pytest.raises(challenge.ChallengeError, match="unsupported auth scheme 'negotiate'"):
        challenge.pick("Negotiate abc")


def test_bearer_without_params_has_no_realm():
    assert challenge.pick("Bearer").realm == ""


def test_retry_after_seconds_and_http_date():
    assert _retry_after({"Retry-After": "7"}) == 7.0
    assert _retry_after({}) is None
    assert _retry_after({"Retry-After": "soon"}) is None
    assert _retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past


def test_backoff_doubles_up_to_the_cap_and_retry_after_wins():
    policy = RetryPolicy(base_delay=0.5, max_delay=3)
    assert [policy.delay(n, None) for n in range(5)] == [0.5, 1, 2, 3, 3]
    assert policy.delay(0, 10) == 10


class _Resp:
    def __init__(self, body: bytes, status: int = 400):
        self.body, self.status_code = body, status

    def iter_content(self, size):
        yield self.body[:size]


@pytest.mark.parametrize("body, expected", [
    (b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}',
     "MANIFEST_UNKNOWN: manifest unknown"),
    (b'{"errors":[{"code":"A","message":"one"},{"code":"B"}]}', "A: one; B"),
    (b'{"details":"incorrect username or password"}', "incorrect username or password"),
    (b"<html>\n<b>502</b>\tBad\x00Gateway</html>", "<html> <b>502</b> Bad Gateway</html>"),
    (b"", ""),
    (b'{"errors": "not a list"}', '{"errors": "not a list"}'),
    (b"x" * 1000, "x" * 200 + "..."),
])
def test_error_message_from_bodies(body, expected):
    assert error_message(_Resp(body)) == expected


def test_credential_keys_name_hosts_as_docker_writes_them():
    assert key_host(DOCKER_HUB_KEY) == "docker.io"
    assert key_host("registry-1.docker.io") == "docker.io"
    assert key_host("http://myhost:5000/v2/") == "myhost:5000"
    assert key_host("myhost:5000") == "myhost:5000"
    assert key_host("quay.io/org") == "quay.io"


def test_store_writes_docker_hub_as_docker_does_and_keeps_other_fields(tmp_path):
    path = tmp_path / "cfg" / "auth.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"auths": {"index.docker.io": {"auth": "b2xkOm9sZA=="}}, "credsStore": "x"}))
    store = CredentialStore(str(path), str(tmp_path / "none.json"))
    store.save("docker.io", "me", "p:w")
    data = json.loads(path.read_text())
    assert data == {"auths": {DOCKER_HUB_KEY: {"auth": base64.b64encode(b"me:p:w").decode()}}, "credsStore": "x"}
    assert store.get("registry-1.docker.io") == ("me", "p:w")
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert store.erase("docker.io") and not store.erase("docker.io")
    assert [p.name for p in path.parent.iterdir()] == ["auth.json"]  # no temp file left behind


def test_docker_config_is_read_after_ours(tmp_path):
    docker = tmp_path / "docker.json"
    docker.write_text(json.dumps({"auths": {DOCKER_HUB_KEY: {"auth": base64.b64encode(b"d:1").decode()},
                                            "h:1": {"username": "u", "password": "p"}}}))
    store = CredentialStore(str(tmp_path / "ours.json"), str(docker))
    assert store.get("docker.io") == ("d", "1")
    assert store.get("h:1") == ("u", "p")
    store.save("docker.io", "o", "2")
    assert store.get("docker.io") == ("o", "2")
    assert store.get("elsewhere") is None


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot read credentials"),
    ('{"auths": []}', "'auths' is an object"),
    ('{"auths": {"h": {"auth": "%%%"}}}', "not base64"),
])
def test_broken_credential_files_are_named(tmp_path, content, message):
    path = tmp_path / "auth.json"
    path.write_text(content)
    with pytest.raises(AuthError, match=message) as err:
        CredentialStore(str(path), str(tmp_path / "none.json")).get("h")
    assert str(path) in str(err.value)
