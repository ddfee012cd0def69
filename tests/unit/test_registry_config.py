"""Registry configuration: endpoints from mirrors and fallback, insecure
hosts, and errors naming the file and the field."""
import json

import pytest

from minictr.image.registry.config import Endpoint, RegistryConfig, RegistryConfigError


def test_defaults_docker_hub_upstream_and_loopback_plain_http():
    config = RegistryConfig()
    assert config.endpoints("docker.io") == [Endpoint("registry-1.docker.io", ("https",))]
    assert config.endpoints("index.docker.io") == config.endpoints("docker.io")
    assert config.endpoints("127.0.0.1:5000") == [Endpoint("127.0.0.1:5000", ("http",), insecure=True)]
    assert config.endpoints("localhost:5000")[0].schemes == ("http",)
    assert config.endpoints("[::1]:5000")[0].schemes == ("http",)
    assert config.endpoints("quay.io") == [Endpoint("quay.io", ("https",))]


def test_insecure_remote_hosts_try_https_then_http():
    config = RegistryConfig(insecure_registries=["myhost:5000", "plain", "10.0.0.0/8"])
    assert config.upstream("myhost:5000") == Endpoint("myhost:5000", ("https", "http"), insecure=True)
    assert config.is_insecure("plain:443") and config.is_insecure("10.1.2.3:5000")
    assert not config.is_insecure("myhost:5001") and not config.is_insecure("11.0.0.1")


def test_mirrors_then_upstream_unless_fallback_is_off():
    mirrors = {"docker.io": ["http://127.0.0.1:5000/", "https://mirror.example"], "quay.io": ["https://q.example"]}
    config = RegistryConfig(mirrors=mirrors)
    assert config.endpoints("docker.io") == [
        Endpoint("127.0.0.1:5000", ("http",), insecure=True, mirror=True),
        Endpoint("mirror.example", ("https",), mirror=True),
        Endpoint("registry-1.docker.io", ("https",)),
    ]
    assert [e.host for e in config.endpoints("quay.io")] == ["q.example", "quay.io"]
    closed = RegistryConfig(mirrors=mirrors, mirror_fallback=False)
    assert [e.host for e in closed.endpoints("docker.io")] == ["127.0.0.1:5000", "mirror.example"]
    assert [e.host for e in closed.endpoints("ghcr.io")] == ["ghcr.io"]  # no mirrors: nothing to fall back from


def test_plain_list_mirrors_docker_hub_as_dockerd(tmp_path):
    path = tmp_path / "registries.json"
    path.write_text(json.dumps({"registry-mirrors": ["http://127.0.0.1:5000"], "mirror-fallback": False}))
    config = RegistryConfig.load(str(path))
    assert [e.host for e in config.endpoints("docker.io")] == ["127.0.0.1:5000"]


def test_missing_file_is_defaults_and_env_overrides_path(tmp_path, monkeypatch):
    assert RegistryConfig.load(str(tmp_path / "absent.json")).mirrors == {}
    path = tmp_path / "r.json"
    path.write_text('{"insecure-registries": ["h:1"]}')
    monkeypatch.setenv("MINICTR_REGISTRIES_CONF", str(path))
    assert RegistryConfig.load().is_insecure("h:1")


@pytest.mark.parametrize("content, field", [
    ("{oops", "not valid JSON"),
    ("[]", "expected a JSON object"),
    ('{"registry-mirror": []}', "unknown field 'registry-mirror'"),
    ('{"registry-mirrors": "http://x"}', "registry-mirrors: expected"),
    ('{"registry-mirrors": {"docker.io": "http://x"}}', "registry-mirrors['docker.io']: expected a list"),
    ('{"registry-mirrors": ["ftp://x"]}', "registry-mirrors['docker.io']: 'ftp://x' is not an http"),
    ('{"registry-mirrors": ["127.0.0.1:5000"]}', "is not an http"),
    ('{"registry-mirrors": ["http://x/path"]}', "has no path"),
    ('{"mirror-fallback": "no"}', "mirror-fallback: expected true or false"),
    ('{"insecure-registries": "h:1"}', "insecure-registries: expected a list"),
    ('{"insecure-registries": ["10.0.0.0/33"]}', "not a valid CIDR"),
])
def test_bad_config_names_file_and_field(tmp_path, content, field):
    path = tmp_path / "registries.json"
    path.write_text(content)
    with pytest.raises(RegistryConfigError) as err:
        RegistryConfig.load(str(path))
    assert str(err.value).startswith(f"{path}: ") and field in str(err.value)


@pytest.mark.parametrize("text", ["", "  \n"])
def test_an_empty_file_means_the_defaults(tmp_path, text):
    path = tmp_path / "registries.json"
    path.write_text(text)
    config = RegistryConfig.load(str(path))
    assert config.endpoints("docker.io") == RegistryConfig().endpoints("docker.io")
    assert RegistryConfig.load("/dev/null").endpoints("quay.io") == [Endpoint("quay.io", ("https",))]
