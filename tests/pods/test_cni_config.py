"""Which CNI network applies and why a bad one is refused: the conf dir's
first *.conflist/*.conf/*.json in name order, a .conf wrapped as a list,
every malformed file one error naming the file and field; the default
conflist an install writes; results of each spec version typed alike."""
import json
import os

import pytest

from minictr.pods.cni import config
from minictr.pods.cni.default import default_conflist, write_default
from minictr.pods.cni.result import parse_result
from minictr.pods.errors import CNIConfigError, CNIResultError

BRIDGE = {"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local", "subnet": "10.1.0.0/24"}}


def write(d, name, doc):
    path = d / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def test_the_first_file_in_name_order_applies_and_other_suffixes_are_ignored(tmp_path):
    write(tmp_path, "99-last.conflist", {"cniVersion": "1.0.0", "name": "last", "plugins": [BRIDGE]})
    write(tmp_path, "20-mid.conf", {"cniVersion": "0.4.0", "name": "mid", **BRIDGE})
    write(tmp_path, "05-notes.txt", "not a config")
    write(tmp_path, "10-first.json", {"cniVersion": "0.3.1", "name": "first", **BRIDGE})
    net = config.load_dir(str(tmp_path))
    assert (net.name, net.cni_version, net.source) == ("first", "0.3.1", str(tmp_path / "10-first.json"))
    assert net.plugins == ({"cniVersion": "0.3.1", "name": "first", **BRIDGE},)


def test_a_conf_is_wrapped_as_a_one_plugin_list(tmp_path):
    net = config.load_file(write(tmp_path, "10.conf", {"cniVersion": "1.0.0", "name": "n", **BRIDGE}))
    assert net.to_dict() == {"cniVersion": "1.0.0", "name": "n",
                             "plugins": [{"cniVersion": "1.0.0", "name": "n", **BRIDGE}]}


def test_an_empty_or_missing_conf_dir_says_so(tmp_path):
    for d in (tmp_path, tmp_path / "absent"):
        with pytest.raises(CNIConfigError, match=f"no network config found in {d} "):
            config.load_dir(str(d))


@pytest.mark.parametrize("doc, message", [
    ('{"cniVersion": "1.0.0", "name": "n", "plugins": [', "not valid JSON: Expecting value at line 1 column 50"),
    ('[1, 2]', "expected a JSON object, got list"),
    ({"cniVersion": "1.0.0", "plugins": [BRIDGE]}, 'field "name" is missing'),
    ({"cniVersion": "1.0.0", "name": "bad name", "plugins": [BRIDGE]}, "field \"name\": 'bad name' is not a valid"),
    ({"name": "n", "plugins": [BRIDGE]}, 'field "cniVersion" is missing'),
    ({"cniVersion": "2.0", "name": "n", "plugins": [BRIDGE]}, "field \"cniVersion\": '2.0' is not a CNI version"),
    ({"cniVersion": "1.0.0", "name": "n"}, 'field "plugins" is missing'),
    ({"cniVersion": "1.0.0", "name": "n", "plugins": {}}, 'field "plugins" must be a list'),
    ({"cniVersion": "1.0.0", "name": "n", "plugins": []}, 'field "plugins" is empty'),
    ({"cniVersion": "1.0.0", "name": "n", "plugins": [BRIDGE, {"bridge": "x"}]}, 'plugins[1]: field "type" is missing'),
    ({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "../../bin/sh"}]}, "is not a plugin name"),
    ({"cniVersion": "1.0.0", "name": "n", "plugins": ["bridge"]}, "plugins[0]: expected a plugin object, got str"),
    ({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "portmap", "capabilities": []}]},
     'plugins[0]: field "capabilities" must be an object'),
    ({"cniVersion": "1.0.0", "name": "n", "plugins": [BRIDGE], "disableCheck": "yes"},
     'field "disableCheck" must be true or false'),
])
def test_a_malformed_conflist_is_one_error_naming_file_and_field(tmp_path, doc, message):
    path = write(tmp_path, "10-bad.conflist", doc)
    with pytest.raises(CNIConfigError) as caught:
        config.load_dir(str(tmp_path))
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_a_conf_holding_a_list_is_told_to_be_a_conflist(tmp_path):
    path = write(tmp_path, "10.conf", {"cniVersion": "1.0.0", "name": "n", "plugins": [BRIDGE]})
    with pytest.raises(CNIConfigError, match=f'{path}: has "plugins", so it is a network list'):
        config.load_dir(str(tmp_path))


def test_the_default_conflist_is_written_once_and_atomically(tmp_path):
    conf_dir = tmp_path / "net.d"
    path = write_default(str(conf_dir), subnet="10.232.9.0/24", bridge="mctest0", data_dir="/tmp/ipam")
    assert os.listdir(conf_dir) == ["10-minictr.conflist"]
    net = config.load_dir(str(conf_dir))
    assert [p["type"] for p in net.plugins] == ["bridge", "portmap", "loopback"]
    bridge = net.plugins[0]
    assert bridge["bridge"] == "mctest0" and bridge["isGateway"] and bridge["ipMasq"] and bridge["hairpinMode"]
    assert bridge["ipam"] == {"type": "host-local", "ranges": [[{"subnet": "10.232.9.0/24"}]],
                              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "/tmp/ipam"}
    assert net.plugins[1]["capabilities"] == {"portMappings": True}
    # a conf dir with a network already is left alone
    before = open(path).read()
    assert write_default(str(conf_dir), subnet="10.232.10.0/24") is None
    assert open(path).read() == before


def test_the_default_subnet_overlaps_no_host_route():
    import ipaddress
    import subprocess
    from minictr.pods.cni.default import free_subnet
    subnet = ipaddress.ip_network(free_subnet())
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout.split("\n")
    for line in routes:
        dst = line.split(" ")[0]
        if dst and dst != "default":
            assert not subnet.overlaps(ipaddress.ip_network(dst, strict=False)), line
    assert default_conflist(str(subnet))["plugins"][0]["ipam"]["ranges"] == [[{"subnet": str(subnet)}]]


def test_results_of_each_spec_version_read_alike():
    v1 = parse_result({"cniVersion": "1.0.0",
                       "interfaces": [{"name": "cni0", "mac": "aa"}, {"name": "eth0", "sandbox": "/run/netns/x"}],
                       "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 1}],
                       "routes": [{"dst": "0.0.0.0/0"}], "dns": {"nameservers": ["10.1.0.1"]}}, "bridge")
    v04 = parse_result({"cniVersion": "0.4.0", "interfaces": [{"name": "eth0", "sandbox": "/run/netns/x"}],
                        "ips": [{"version": "4", "address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 0}]},
                       "bridge")
    v02 = parse_result({"cniVersion": "0.2.0", "ip4": {"ip": "10.1.0.5/24", "gateway": "10.1.0.1",
                                                        "routes": [{"dst": "0.0.0.0/0"}]}}, "bridge")
    for r in (v1, v04, v02):
        assert r.pod_ip() == "10.1.0.5" and str(r.ips[0].gateway) == "10.1.0.1"
        assert str(r.ips[0].address.network) == "10.1.0.0/24"
    assert v1.pod_ip("eth1") is None and v1.sandbox_ips("eth0") == [v1.ips[0]]
    # an address on a host-side interface is not the pod's
    host = parse_result({"cniVersion": "1.0.0", "interfaces": [{"name": "cni0"}],
                         "ips": [{"address": "10.1.0.1/24", "interface": 0}]}, "bridge")
    assert host.pod_ip() is None


@pytest.mark.parametrize("doc, message", [
    ([], "that is not a JSON object"),
    ({"ips": [{"gateway": "10.0.0.1"}]}, "field 'address' is missing"),
    ({"ips": [{"address": "10.0.0.300/24"}]}, "does not appear to be an IPv4 or IPv6 interface"),
    ({"ips": [{"address": "10.0.0.3/24", "interface": 3}], "interfaces": []}, "ips[0].interface 3 is not an index"),
    ({"ips": "10.0.0.3/24"}, "ips is not a list"),
])
def test_a_result_the_spec_does_not_describe_is_refused(doc, message):
    with pytest.raises(CNIResultError) as caught:
        parse_result(doc, "weird")
    assert str(caught.value).startswith("CNI plugin weird returned a result") and message in str(caught.value)
