"""The network configuration: file, environment overrides, clear errors."""
import pytest

from minictr.network.config import NetworkConfig
from minictr.network.errors import NetworkConfigError


def test_defaults_without_a_file(tmp_path):
    cfg = NetworkConfig.load(str(tmp_path / "missing.json"), environ={})
    assert (cfg.bridge, cfg.subnet, cfg.gateway) == ("minictr0", "10.66.0.0/16", "10.66.0.1")
    assert [(str(b), s) for b, s in cfg.pools] == [("10.67.0.0/16", 24)]


def test_file_then_environment(tmp_path):
    path = tmp_path / "network.json"
    path.write_text('{"bridge-name": "br9", "subnet": "10.90.0.0/16", "gateway": "10.90.0.254",'
                    ' "default-address-pools": [{"base": "10.91.0.0/16", "size": 26}]}')
    cfg = NetworkConfig.load(str(path), environ={})
    assert (cfg.bridge, cfg.subnet, cfg.gateway) == ("br9", "10.90.0.0/16", "10.90.0.254")
    assert [(str(b), s) for b, s in cfg.pools] == [("10.91.0.0/16", 26)]
    env = {"MINICTR_BRIDGE_NAME": "mctest1", "MINICTR_BRIDGE_SUBNET": "10.199.1.0/24",
           "MINICTR_NETWORK_POOL": "10.198.0.0/16:24"}
    cfg = NetworkConfig.load(str(path), environ=env)
    assert (cfg.bridge, cfg.subnet, cfg.gateway) == ("mctest1", "10.199.1.0/24", "10.199.1.1")
    assert [(str(b), s) for b, s in cfg.pools] == [("10.198.0.0/16", 24)]
    env["MINICTR_NETWORK_CONF"] = str(path)
    assert NetworkConfig.load(environ=env).bridge == "mctest1"


@pytest.mark.parametrize("content, message", [
    ("{", "not valid JSON"),
    ("[]", "expected a JSON object"),
    ('{"bip": "10.1.0.1/16"}', "unknown field 'bip'"),
    ('{"subnet": 5}', "subnet: expected a string"),
    ('{"subnet": "10.66.0.1/16"}', "invalid subnet 10.66.0.1/16: it should be 10.66.0.0/16"),
    ('{"gateway": "10.1.1.1"}', "invalid gateway 10.1.1.1: not in subnet 10.66.0.0/16"),
    ('{"bridge-name": "a-very-long-bridge-name"}', "is not a valid interface name"),
    ('{"default-address-pools": [{"base": "10.67.0.0/16", "size": 8}]}', "size 8 must be between"),
])
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "network.json"
    path.write_text(content)
    with pytest.raises(NetworkConfigError) as err:
        NetworkConfig.load(str(path), environ={})
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_bad_environment_subnet_names_the_variable():
    with pytest.raises(NetworkConfigError, match="^MINICTR_BRIDGE_SUBNET: invalid subnet 'x'"):
        NetworkConfig.load("/dev/null", environ={"MINICTR_BRIDGE_SUBNET": "x"})
