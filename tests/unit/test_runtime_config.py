"""config.json parsing: every error names its field; good configs parse."""
import json

import pytest

from minictr.oci.runtime_config import ConfigError, load_bundle_config, parse_config


def base():
    return {
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": ["sh"], "cwd": "/", "env": ["PATH=/bin"]},
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]},
    }


def error_of(cfg) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config(cfg)
    return str(e.value)


def test_minimal_config_parses():
    c = parse_config(base())
    assert c.process.args == ["sh"]
    assert [n.type for n in c.linux.namespaces] == ["pid", "mount"]
    assert c.hooks["prestart"] == []


@pytest.mark.parametrize("mutate,expected", [
    (lambda c: c.pop("ociVersion"), "ociVersion: is required"),
    (lambda c: c.__setitem__("ociVersion", "2.0.0"), "ociVersion: unsupported version"),
    (lambda c: c["root"].__setitem__("path", 5), "root.path: must be a string"),
    (lambda c: c.pop("root"), "root: is required"),
    (lambda c: c["process"].__setitem__("args", []), "process.args: must name the program"),
    (lambda c: c["process"].__setitem__("args", ["sh", 3]), "process.args[1]: must be a string"),
    (lambda c: c["process"].__setitem__("cwd", "relative"), "process.cwd: must be an absolute path"),
    (lambda c: c["process"].__setitem__("env", ["NOEQUALS"]), "process.env[0]: must be KEY=VALUE"),
    (lambda c: c["process"].__setitem__("user", {"uid": -1}), "process.user.uid: must not be negative"),
    (lambda c: c["process"].__setitem__("user", {"uid": True}), "process.user.uid: must be an integer"),
    (lambda c: c["process"].__setitem__("rlimits", [{"type": "RLIMIT_NOFILE", "soft": 1}]),
     "process.rlimits[0].hard: is required"),
    (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}), "linux.namespaces[2].type: unknown namespace"),
    (lambda c: c["linux"]["namespaces"].append({"type": "pid"}), "linux.namespaces[2].type: namespace type 'pid' is listed twice"),
    (lambda c: c["linux"]["namespaces"].append({"type": "net", "path": "x"}), "linux.namespaces[2].type"),
    (lambda c: c["linux"]["namespaces"].append({"type": "network", "path": "rel"}), "linux.namespaces[2].path: must be an absolute"),
    (lambda c: c.__setitem__("mounts", [{"source": "x"}]), "mounts[0].destination: is required"),
    (lambda c: c.__setitem__("mounts", [{"destination": "/x", "options": "ro"}]), "mounts[0].options: must be an array"),
    (lambda c: c.__setitem__("hooks", {"prestart": [{"path": "/x", "timeout": 0}]}), "hooks.prestart[0].timeout: must be greater than zero"),
    (lambda c: c.__setitem__("hooks", {"prestop": []}), "hooks.prestop: unknown hook kind"),
    (lambda c: c["linux"].__setitem__("devices", [{"type": "x", "path": "/dev/x"}]), "linux.devices[0].type"),
    (lambda c: c["linux"].__setitem__("uidMappings", [{"containerID": 0, "hostID": 1000}]), "linux.uidMappings[0].size: is required"),
    (lambda c: c["linux"].__setitem__("sysctl", {"net.ipv4.ip_forward": 1}), "linux.sysctl.net.ipv4.ip_forward: must be a string"),
    (lambda c: c["linux"].__setitem__("rootfsPropagation", "sideways"), "linux.rootfsPropagation: unknown propagation"),
    (lambda c: c.__setitem__("annotations", {"a": 1}), "annotations.a: must be a string"),
])
def test_errors_name_the_field(mutate, expected):
    cfg = base()
    mutate(cfg)
    assert expected in error_of(cfg)


def test_top_level_must_be_object():
    assert "must be an object" in error_of([1, 2])


def test_bundle_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="config.json: no such file"):
        load_bundle_config(tmp_path)
    (tmp_path / "config.json").write_text("{\n  \"ociVersion\": ,\n}")
    with pytest.raises(ConfigError, match=r"config.json: invalid JSON at line 2 column 17"):
        load_bundle_config(tmp_path)
    cfg = base()
    cfg["process"]["args"] = "sh"
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=r"config.json: process.args: must be an array"):
        load_bundle_config(tmp_path)
