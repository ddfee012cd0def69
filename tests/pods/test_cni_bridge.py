"""A pod's network through Debian's real CNI plugins (bridge, host-local,
portmap, loopback) on a private bridge and a free /24: the address is in
the subnet and answers the host over that bridge; two pods reach each
other; a hostPort on 127.0.0.1 reaches a listener in the pod; CHECK
passes; DEL removes the veth, the address and the NAT chains, and a second
DEL is harmless; a bad config, a missing plugin and a plugin's error leave
nothing behind."""
import http.client
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from minictr.pods.cni.network import CNI, Attachment, pod_args
from minictr.pods.errors import CNIConfigError, CNIPluginError, CNIPluginNotFound
from support.cni_env import CNI_BIN, in_netns, rules_naming

pytestmark = pytest.mark.root


class Pod:
    def __init__(self, podnet, name, ports=()):
        self.podnet = podnet
        self.netns = podnet.netns.create(name)
        self.att = Attachment(name, self.netns, args=pod_args("default", name, name),
                              capability_args={"portMappings": list(ports)} if ports else {})

    def remove(self):
        self.podnet.cni.delete(self.att)
        self.podnet.netns.remove(self.att.container_id)


@pytest.fixture
def pods(podnet):
    made = []

    def make(name, ports=()):
        pod = Pod(podnet, name, ports)
        made.append(pod)
        return pod
    yield make
    for pod in made:
        pod.remove()


def ping(ip: str, netns: str | None = None) -> bool:
    argv = ["busybox", "ping", "-c", "1", "-W", "2", ip]
    res = in_netns(netns, *argv, timeout=10) if netns else subprocess.run(argv, capture_output=True, timeout=10)
    return res.returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_add_gives_an_address_in_the_subnet_that_the_host_reaches_over_the_bridge(podnet, pods):
    pod = pods("pod-a")
    result = podnet.cni.add(pod.att)
    ip = result.pod_ip("eth0")
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(podnet.subnet)
    assert str(result.ips[0].gateway) == podnet.prefix + "1"
    assert podnet.allocations() == [ip]
    # the pod's side: eth0 with that address, lo up (loopback), default route via the bridge
    addrs = json.loads(in_netns(pod.netns, "ip", "-j", "addr").stdout)
    by_name = {a["ifname"]: a for a in addrs}
    assert [a["local"] for a in by_name["eth0"]["addr_info"] if a["family"] == "inet"] == [ip]
    assert "UP" in by_name["lo"]["flags"]
    assert in_netns(pod.netns, "ip", "route", "show", "default").stdout.split()[:3] == \
        ["default", "via", podnet.prefix + "1"]
    # the host's side: the route to the pod goes through our bridge only, and it answers
    route = subprocess.run(["ip", "route", "get", ip], capture_output=True, text=True).stdout
    assert f"dev {podnet.bridge}" in route
    assert len(podnet.host_links()) == 1
    assert ping(ip)
    # the interfaces the result names
    assert [i.name for i in result.interfaces if i.sandbox] == ["eth0"]
    assert {i.name for i in result.interfaces if not i.sandbox} == {podnet.bridge, podnet.host_links()[0]}


def test_two_pods_get_distinct_addresses_and_reach_each_other(podnet, pods):
    a, b = pods("pod-1"), pods("pod-2")
    ip_a, ip_b = podnet.cni.add(a.att).pod_ip(), podnet.cni.add(b.att).pod_ip()
    assert ip_a != ip_b and sorted(podnet.allocations()) == sorted([ip_a, ip_b])
    assert ping(ip_b, a.netns) and ping(ip_a, b.netns)


def test_a_host_port_on_127_0_0_1_reaches_a_listener_in_the_pod(podnet, pods, tmp_path):
    port = free_port()
    pod = pods("web", ports=[{"hostPort": port, "containerPort": 8080, "protocol": "tcp", "hostIP": "127.0.0.1"}])
    ip = podnet.cni.add(pod.att).pod_ip()
    (tmp_path / "index.html").write_text("hello from the pod\n")
    server = subprocess.Popen(["nsenter", f"--net={pod.netns}", sys.executable, "-m", "http.server", "8080",
                               "--bind", "0.0.0.0", "--directory", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:     # until it listens (seen from the host, over the bridge)
            try:
                socket.create_connection((ip, 8080), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/index.html")
        reply = conn.getresponse()
        assert (reply.status, reply.read()) == (200, b"hello from the pod\n")
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert rules_naming(f"--dport {port} -j DNAT --to-destination {ip}:8080")


def test_check_passes_for_an_attachment_as_added(podnet, pods):
    pod = pods("checked")
    podnet.cni.add(pod.att)
    podnet.cni.check(pod.att)


def test_check_with_host_ports(podnet, pods):
    pod = pods("checked-ports", ports=[{"hostPort": free_port(), "containerPort": 80, "protocol": "tcp",
                                        "hostIP": "127.0.0.1"}])
    podnet.cni.add(pod.att)
    try:
        podnet.cni.check(pod.att)
    except CNIPluginError as e:
        if e.plugin == "portmap" and "could not check ipv6 dnat" in e.msg:
            pytest.xfail("portmap < 1.2.0 CHECKs ip6tables chains an IPv4-only pod never has "
                         "(containernetworking/plugins#819): " + str(e))
        raise


def test_check_fails_once_the_pods_default_route_is_gone(podnet, pods):
    pod = pods("broken")
    podnet.cni.add(pod.att)
    in_netns(pod.netns, "ip", "route", "del", "default", check=True)
    with pytest.raises(CNIPluginError, match="CNI plugin bridge CHECK"):
        podnet.cni.check(pod.att)


def test_del_removes_the_veth_the_address_and_the_chains_and_again_is_harmless(podnet):
    port = free_port()
    netns = podnet.netns.create("gone")
    att = Attachment("gone", netns, capability_args={"portMappings": [
        {"hostPort": port, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"}]})
    before_links = set(podnet.host_links())
    ip = podnet.cni.add(att).pod_ip()
    ident = 'id: \\"gone\\"'
    assert rules_naming(ident) and set(podnet.host_links()) - before_links
    podnet.cni.delete(att)
    assert set(podnet.host_links()) == before_links
    assert ip not in podnet.allocations()
    assert rules_naming(ident) == [] and rules_naming(f"--dport {port}") == []
    assert in_netns(netns, "ip", "-o", "link").stdout.count(":") and "eth0" not in in_netns(
        netns, "ip", "-o", "link").stdout
    assert podnet.cni.attachments() == []
    podnet.cni.delete(att)          # again: every plugin tolerates it
    podnet.netns.remove("gone")
    podnet.cni.delete(att)          # and once the netns is gone too


def test_del_after_a_restart_and_a_config_change_undoes_what_was_added(podnet, tmp_path):
    netns = podnet.netns.create("survivor")
    att = Attachment("survivor", netns)
    ip = podnet.cni.add(att).pod_ip()
    # a new process, whose conf dir now holds another network entirely
    other = tmp_path / "other.d"
    other.mkdir()
    (other / "00-other.conflist").write_text(json.dumps(
        {"cniVersion": "1.0.0", "name": "other", "plugins": [{"type": "loopback"}]}))
    fresh = CNI(str(other), bin_dirs=(CNI_BIN,), cache_dir=podnet.cache_dir)
    fresh.delete(Attachment("survivor", netns))
    assert ip not in podnet.allocations() and rules_naming('id: \\"survivor\\"') == []
    assert "eth0" not in in_netns(netns, "ip", "-o", "link").stdout
    podnet.netns.remove("survivor")


def test_a_plugin_error_result_rolls_the_whole_add_back(podnet, tmp_path):
    """bridge and host-local succeed, then tuning refuses its sysctl: the
    ADD fails with tuning's message and the DEL that follows removes the
    veth, the address and the masquerade chain bridge made."""
    conf = json.loads(open(podnet.conf_path).read())
    conf["plugins"].insert(1, {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.no_such_knob": "1"}})
    conf_dir = tmp_path / "tuning.d"
    conf_dir.mkdir()
    (conf_dir / "10.conflist").write_text(json.dumps(conf))
    cni = CNI(str(conf_dir), bin_dirs=(CNI_BIN,), cache_dir=podnet.cache_dir)
    netns = podnet.netns.create("refused")
    links, allocations = set(podnet.host_links()), set(podnet.allocations())
    try:
        with pytest.raises(CNIPluginError) as caught:
            cni.add(Attachment("refused", netns))
        assert caught.value.plugin == "tuning" and caught.value.command == "ADD"
        assert str(caught.value).startswith(f"CNI plugin tuning ADD for network '{podnet.network_name}' failed: ")
        assert "no_such_knob" in str(caught.value)
        assert set(podnet.host_links()) == links and set(podnet.allocations()) == allocations
        assert rules_naming('id: \\"refused\\"') == [] and cni.attachments() == []
        assert "eth0" not in in_netns(netns, "ip", "-o", "link").stdout
    finally:
        podnet.netns.remove("refused")


def test_a_missing_plugin_or_a_malformed_conflist_is_refused_before_anything_runs(podnet, tmp_path):
    netns = podnet.netns.create("never")
    links, allocations = set(podnet.host_links()), set(podnet.allocations())
    conf = json.loads(open(podnet.conf_path).read())
    conf["plugins"].append({"type": "firewall-of-dreams"})
    missing = tmp_path / "missing.d"
    missing.mkdir()
    (missing / "10.conflist").write_text(json.dumps(conf))
    broken = tmp_path / "broken.d"
    broken.mkdir()
    (broken / "10.conflist").write_text(json.dumps(conf)[:-20])
    try:
        with pytest.raises(CNIPluginNotFound, match=f"CNI plugin 'firewall-of-dreams' \\(network "
                                                    f"'{podnet.network_name}' in {missing}/10.conflist\\) "
                                                    f"not found in {CNI_BIN}"):
            CNI(str(missing), bin_dirs=(CNI_BIN,), cache_dir=podnet.cache_dir).add(Attachment("never", netns))
        with pytest.raises(CNIConfigError, match=f"{broken}/10.conflist: not valid JSON"):
            CNI(str(broken), bin_dirs=(CNI_BIN,), cache_dir=podnet.cache_dir).add(Attachment("never", netns))
        assert set(podnet.host_links()) == links and set(podnet.allocations()) == allocations
        assert podnet.cni.attachments() == []
        assert not os.path.isdir(podnet.cache_dir) or os.listdir(podnet.cache_dir) == []
        assert in_netns(netns, "ip", "-o", "link").stdout.count("\n") == 1   # lo only
    finally:
        podnet.netns.remove("never")


STALL = """#!/bin/sh
# a plugin that, on ADD, records its pid and hangs: the moment to kill the runtime
cat >/dev/null
if [ "$CNI_COMMAND" = ADD ]; then echo $$ > {marker}; exec sleep 60; fi
"""


def test_a_runtime_killed_during_add_leaves_what_a_later_del_removes(podnet, tmp_path):
    """SIGKILL minictr while the second plugin of the list runs: bridge has
    made the veth, the address and the NAT chain. A new process's DEL, from
    the record written before the first plugin ran, removes all of it."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    marker = tmp_path / "stall.pid"
    (bindir / "stall").write_text(STALL.format(marker=marker))
    (bindir / "stall").chmod(0o755)
    conf = json.loads(open(podnet.conf_path).read())
    conf["plugins"].insert(1, {"type": "stall"})
    conf_dir = tmp_path / "stall.d"
    conf_dir.mkdir()
    (conf_dir / "10.conflist").write_text(json.dumps(conf))
    netns = podnet.netns.create("killed")
    links, allocations = set(podnet.host_links()), set(podnet.allocations())
    code = (f"from minictr.pods.cni.network import CNI, Attachment\n"
            f"CNI({str(conf_dir)!r}, bin_dirs=({str(bindir)!r}, {CNI_BIN!r}), cache_dir={podnet.cache_dir!r})"
            f".add(Attachment('killed', {netns!r}))\n")
    runtime = subprocess.Popen([sys.executable, "-c", code])
    stall_pid = None
    try:
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text().strip()):
            assert runtime.poll() is None and time.monotonic() < deadline, "the ADD never reached the stall"
            time.sleep(0.05)
        stall_pid = int(marker.read_text())
        runtime.kill()
        runtime.wait(timeout=10)
        # half a network: bridge's part is in place
        assert set(podnet.host_links()) - links and set(podnet.allocations()) - allocations
        assert rules_naming('id: \\"killed\\"')
        fresh = CNI(str(conf_dir), bin_dirs=(str(bindir), CNI_BIN), cache_dir=podnet.cache_dir)
        assert [(e.container_id, e.result) for e in fresh.attachments()] == [("killed", None)]
        fresh.delete(Attachment("killed", netns))
        assert set(podnet.host_links()) == links and set(podnet.allocations()) == allocations
        assert rules_naming('id: \\"killed\\"') == [] and fresh.attachments() == []
        assert "eth0" not in in_netns(netns, "ip", "-o", "link").stdout
    finally:
        if runtime.poll() is None:
            runtime.kill()
            runtime.wait(timeout=10)
        if stall_pid:
            try:
                os.kill(stall_pid, 9)
            except ProcessLookupError:
                pass
        podnet.netns.remove("killed")
