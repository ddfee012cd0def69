"""The CNI execution protocol against recording fake plugins (no root, no
kernel state): the spec's environment, name/cniVersion/prevResult/
runtimeConfig on stdin, ADD in order and DEL in reverse, CHECK given the
ADD's result, a failed ADD rolled back by a DEL, plugin errors and missing
plugins as one clear error, and the cache a DEL after a restart reads."""
import json
import os
from pathlib import Path

import pytest

from minictr.pods.cni.network import CNI, Attachment, pod_args
from minictr.pods.errors import CNIError, CNIPluginError, CNIPluginNotFound, CNIResultError

FAKE = Path(__file__).with_name("fake_plugin.py")


@pytest.fixture
def world(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("fake-a", "fake-b", "fake-c"):
        (bindir / name).symlink_to(FAKE)
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    log = tmp_path / "calls.jsonl"

    def configure(*plugins, version="1.0.0", name="fakenet", filename="10-fake.conflist"):
        doc = {"cniVersion": version, "name": name,
               "plugins": [{"log": str(log), **p} for p in plugins]}
        (conf_dir / filename).write_text(json.dumps(doc))

    def calls(command=None):
        """What the plugins were called with, in order (of one CNI_COMMAND, if given)."""
        if not log.exists():
            return []
        found = [json.loads(line) for line in log.read_text().splitlines()]
        return [c for c in found if command in (None, c["env"]["CNI_COMMAND"])]

    cni = CNI(str(conf_dir), bin_dirs=(str(tmp_path / "nowhere"), str(bindir)), cache_dir=str(tmp_path / "cache"))
    return type("World", (), {"cni": cni, "configure": staticmethod(configure), "calls": staticmethod(calls),
                              "conf_dir": conf_dir, "bindir": bindir, "tmp": tmp_path})


def att(**kw):
    base = dict(container_id="sandbox1", netns="/run/minictr/netns/sandbox1",
                args=pod_args("default", "web", "sandbox1", "uid-1"))
    return Attachment(**{**base, **kw})


def test_add_runs_the_list_in_order_with_the_spec_environment_and_chained_prev_result(world):
    world.configure({"type": "fake-a"}, {"type": "fake-b", "capabilities": {"portMappings": True}},
                    {"type": "fake-c"})
    ports = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"}]
    result = world.cni.add(att(capability_args={"portMappings": ports, "bandwidth": {"ingressRate": 1}}))
    calls = world.calls()
    assert [c["plugin"] for c in calls] == ["fake-a", "fake-b", "fake-c"]
    env = calls[0]["env"]
    assert env["CNI_COMMAND"] == "ADD" and env["CNI_CONTAINERID"] == "sandbox1"
    assert env["CNI_NETNS"] == "/run/minictr/netns/sandbox1" and env["CNI_IFNAME"] == "eth0"
    assert env["CNI_ARGS"] == ("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
                               "K8S_POD_INFRA_CONTAINER_ID=sandbox1;K8S_POD_UID=uid-1")
    assert env["CNI_PATH"] == f"{world.tmp / 'nowhere'}:{world.bindir}"
    for c in calls:
        assert c["conf"]["name"] == "fakenet" and c["conf"]["cniVersion"] == "1.0.0"
    assert "prevResult" not in calls[0]["conf"]
    assert [i["name"] for i in calls[1]["conf"]["prevResult"]["interfaces"]] == ["fake-a-if"]
    assert [i["name"] for i in calls[2]["conf"]["prevResult"]["interfaces"]] == ["fake-a-if", "fake-b-if"]
    # only the plugin declaring a capability gets it, and only what it declared
    assert calls[1]["conf"]["runtimeConfig"] == {"portMappings": ports}
    assert "runtimeConfig" not in calls[0]["conf"] and "runtimeConfig" not in calls[2]["conf"]
    # the typed result: the last plugin's
    assert [i.name for i in result.interfaces] == ["fake-a-if", "fake-b-if", "fake-c-if"]
    assert result.pod_ip() == "10.99.0.5" and str(result.ips[0].gateway) == "10.99.0.1"
    assert str(result.routes[0].dst) == "0.0.0.0/0" and result.dns.nameservers == ("10.99.0.1",)
    assert result.dns.search == ("pod.local",)


def test_del_runs_in_reverse_with_the_add_result_and_a_second_del_is_harmless(world):
    world.configure({"type": "fake-a"}, {"type": "fake-b"})
    added = world.cni.add(att())
    world.cni.delete(att())
    dels = world.calls("DEL")
    assert [c["plugin"] for c in dels] == ["fake-b", "fake-a"]
    assert all(c["conf"]["prevResult"] == added.raw for c in dels)
    assert world.cni.attachments() == []
    world.cni.delete(att())   # nothing recorded: DEL again, without prevResult
    again = world.calls("DEL")[2:]
    assert [c["plugin"] for c in again] == ["fake-b", "fake-a"]
    assert all("prevResult" not in c["conf"] for c in again)


def test_del_after_a_restart_uses_the_config_and_args_the_add_used(world):
    world.configure({"type": "fake-a"}, {"type": "fake-b", "capabilities": {"portMappings": True}})
    ports = [{"hostPort": 9090, "containerPort": 90, "protocol": "tcp"}]
    world.cni.add(att(capability_args={"portMappings": ports}))
    # the conf dir changes and a new process knows only the sandbox's id and netns
    world.configure({"type": "fake-c"}, name="othernet")
    fresh = CNI(world.cni.conf_dir, world.cni.bin_dirs, world.cni.cache.directory)
    fresh.delete(Attachment("sandbox1", "/run/minictr/netns/sandbox1"))
    dels = world.calls("DEL")
    assert [c["plugin"] for c in dels] == ["fake-b", "fake-a"]
    assert dels[0]["conf"]["name"] == "fakenet" and dels[0]["conf"]["runtimeConfig"] == {"portMappings": ports}
    assert "K8S_POD_NAME=web" in dels[0]["env"]["CNI_ARGS"]


def test_check_gives_every_plugin_the_add_result(world):
    world.configure({"type": "fake-a"}, {"type": "fake-b"})
    added = world.cni.add(att())
    world.cni.check(att())
    checks = world.calls("CHECK")
    assert [c["plugin"] for c in checks] == ["fake-a", "fake-b"]
    assert all(c["conf"]["prevResult"] == added.raw for c in checks)


def test_check_needs_a_completed_add_and_cni_0_4_0(world):
    world.configure({"type": "fake-a"})
    with pytest.raises(CNIError, match="no completed ADD is recorded"):
        world.cni.check(att())
    world.configure({"type": "fake-a"}, version="0.3.1")
    world.cni.add(att())
    with pytest.raises(CNIError, match="CHECK needs cniVersion 0.4.0 or later; network 'fakenet'"):
        world.cni.check(att())


def test_a_second_add_returns_the_recorded_result_without_running_plugins(world):
    world.configure({"type": "fake-a"})
    first = world.cni.add(att())
    second = world.cni.add(att())
    assert second == first and len(world.calls()) == 1


def test_a_plugin_error_result_is_one_clear_error_and_the_add_is_rolled_back(world):
    world.configure({"type": "fake-a"}, {"type": "fake-b", "fail": ["ADD"]}, {"type": "fake-c"})
    with pytest.raises(CNIPluginError) as caught:
        world.cni.add(att())
    err = caught.value
    assert str(err) == ("CNI plugin fake-b ADD for network 'fakenet' failed: fake-b refuses: "
                        "bad field \"x\" (code 7)")
    assert (err.plugin, err.command, err.code) == ("fake-b", "ADD", 7)
    commands = [(c["plugin"], c["env"]["CNI_COMMAND"]) for c in world.calls()]
    assert commands == [("fake-a", "ADD"), ("fake-b", "ADD"), ("fake-c", "DEL"), ("fake-b", "DEL"),
                        ("fake-a", "DEL")]
    assert world.cni.attachments() == [] and os.listdir(world.cni.cache.directory) == []


def test_a_crashed_plugin_reports_its_stderr(world):
    world.configure({"type": "fake-a", "crash": ["ADD"]})
    with pytest.raises(CNIPluginError, match=r"CNI plugin fake-a ADD for network 'fakenet' failed \(status 2\): "
                                             r"panic: fake-a fell over"):
        world.cni.add(att())
    assert world.cni.attachments() == []


def test_a_result_that_is_not_json_is_an_error_and_rolled_back(world):
    world.configure({"type": "fake-a", "garbage": ["ADD"]})
    with pytest.raises(CNIResultError, match="CNI plugin fake-a ADD .* printed a result that is not JSON"):
        world.cni.add(att())
    assert [c["env"]["CNI_COMMAND"] for c in world.calls()] == ["ADD", "DEL"]
    assert world.cni.attachments() == []


def test_a_missing_plugin_is_named_and_nothing_runs(world):
    world.configure({"type": "fake-a"}, {"type": "no-such-plugin"})
    with pytest.raises(CNIPluginNotFound) as caught:
        world.cni.add(att())
    assert str(caught.value) == (f"CNI plugin 'no-such-plugin' (network 'fakenet' in "
                                 f"{world.conf_dir / '10-fake.conflist'}) not found in "
                                 f"{world.tmp / 'nowhere'}:{world.bindir}")
    assert world.calls() == [] and world.cni.attachments() == []
    with pytest.raises(CNIPluginNotFound):
        world.cni.status()


def test_a_failing_del_keeps_the_record_for_a_retry(world):
    world.configure({"type": "fake-a"}, {"type": "fake-b", "fail": ["DEL"]})
    world.cni.add(att())
    with pytest.raises(CNIPluginError, match="fake-b DEL"):
        world.cni.delete(att())
    assert [e.container_id for e in world.cni.attachments()] == ["sandbox1"]


def test_del_without_any_record_or_config_is_a_no_op(world):
    world.cni.delete(att())
    assert world.calls() == []


def test_bad_attachment_names_are_refused():
    with pytest.raises(CNIError, match="container id 'a/b'"):
        Attachment("a/b", "/x")
    with pytest.raises(CNIError, match="interface name 'waytoolonginterfacename'"):
        Attachment("a", "/x", ifname="waytoolonginterfacename")
