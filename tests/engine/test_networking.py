"""Networking as docker users check it (acceptance 2 and 3): a published
port served to 127.0.0.1 and to a second host, logs -f streaming, rm taking
away rules, veth and mounts; containers on a user network reaching each
other by name; --network none having only lo.

The "second host" is a network namespace this test makes, joined to the
host by its own veth pair with a /30 of its own: traffic goes only between
namespaces this test created."""
import secrets
import subprocess
import time
import uuid

import pytest

pytestmark = pytest.mark.root


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, check=check, **kw)


@pytest.fixture
def second_host():
    name = f"mch{secrets.token_hex(3)}"
    host_end, peer_end = f"{name}a", f"{name}b"
    octet = secrets.randbelow(200) + 20
    host_ip, peer_ip = f"10.233.{octet}.1", f"10.233.{octet}.2"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", peer_end)
        sh("ip", "link", "set", peer_end, "netns", name)
        sh("ip", "addr", "add", f"{host_ip}/30", "dev", host_end)
        sh("ip", "link", "set", host_end, "up")
        sh("ip", "-n", name, "addr", "add", f"{peer_ip}/30", "dev", peer_end)
        sh("ip", "-n", name, "link", "set", peer_end, "up")
        sh("ip", "-n", name, "link", "set", "lo", "up")
        yield name, host_ip
    finally:
        sh("ip", "link", "del", host_end, check=False)
        sh("ip", "netns", "del", name, check=False)


def _curl(url: str, netns: str | None = None, attempts: int = 30) -> str:
    cmd = (["ip", "netns", "exec", netns] if netns else []) + ["curl", "-s", "-m", "2", url]
    for _ in range(attempts):
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode == 0 and res.stdout:
            return res.stdout
        time.sleep(0.1)
    return ""


def _read_until(proc, marker: bytes, timeout: float) -> bytes:
    """What the process printed until `marker` appeared or `timeout` passed."""
    import os
    import select
    got, deadline = b"", time.monotonic() + timeout
    while marker not in got and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        got += chunk
    return got


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_published_port_logs_stop_and_rm(mc, second_host):
    netns, host_addr = second_host
    body = f"BODY-{uuid.uuid4().hex}"
    port = _free_port()
    cid = mc.run_detached("--name", "web", "-p", f"{port}:80", "busybox", "sh", "-c",
                          f"mkdir -p /www; echo {body} > /www/index.html; echo serving; "
                          "trap 'exit 0' TERM; httpd -f -v -p 80 -h /www & wait")
    veths_before = sh("ip", "-o", "link").stdout
    assert _curl(f"http://127.0.0.1:{port}/") == body + "\n"
    assert _curl(f"http://{host_addr}:{port}/", netns=netns) == body + "\n"
    assert mc("port", "web", "80", check=True).stdout.strip() == f"0.0.0.0:{port}"

    follower = mc.popen("logs", "-f", "web", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert _read_until(follower, b"serving\n", 5).startswith(b"serving\n")
        _curl(f"http://127.0.0.1:{port}/index.html")
        # httpd -v logs each request on stderr: it arrives while the container runs
        assert b"response:200" in _read_until(follower, b"response:200", 5)
    finally:
        start = time.monotonic()
        mc("stop", "web", check=True)    # httpd exits on SIGTERM
        assert time.monotonic() - start < 1.5
        follower.wait(timeout=10)        # logs -f ends with the container
    assert follower.returncode == 0

    ep_veth = [l.split(":")[1].strip() for l in veths_before.splitlines() if f"master {mc.bridge}" in l]
    assert ep_veth
    mc("rm", "web", check=True)
    rules = sh("iptables-legacy-save").stdout
    assert f"--dport {port}" not in rules and "(web)" not in rules
    assert not [l for l in sh("ip", "-o", "link").stdout.splitlines()
                if f"master {mc.bridge}" in l or any(v in l for v in ep_veth)]
    assert str(mc.root) + "/containers/" + cid not in open("/proc/self/mountinfo").read()
    assert _curl(f"http://127.0.0.1:{port}/", attempts=1) == ""


def test_user_network_resolves_names(mc):
    net = f"appnet{secrets.token_hex(2)}"
    mc("network", "create", net, check=True)
    try:
        mc.run_detached("--name", "db", "--network", net, "busybox", "sh", "-c",
                        "echo pong-from-db > /tmp/i; exec httpd -f -p 80 -h /tmp")
        res = mc("run", "--rm", "--network", net, "busybox", "wget", "-q", "-O", "-", "http://db/i", timeout=60)
        assert res.stdout == "pong-from-db\n", res.stderr
        hosts = mc("run", "--rm", "--network", net, "--name", "client", "busybox", "cat", "/etc/hosts",
                   check=True).stdout
        assert " db" in hosts or "\tdb" in hosts
        inspect = mc("network", "inspect", net, check=True).stdout
        assert '"Name": "db"' in inspect
        res = mc("network", "rm", net)
        assert res.returncode != 0 and "has active endpoints" in res.stderr
    finally:
        mc("rm", "-f", "db")
        mc("network", "rm", net)
    assert net not in mc("network", "ls").stdout


def test_network_none_has_only_loopback(mc):
    res = mc("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net; ip -o addr show lo",
             check=True)
    lines = res.stdout.splitlines()
    assert lines[0] == "lo" and len([l for l in lines if not l.startswith(("1:", "lo"))]) == 0
    assert "127.0.0.1/8" in res.stdout


def test_network_container_shares_the_namespace(mc):
    mc.run_detached("--name", "base", "busybox", "sleep", "60")
    base_ip = mc.inspect_container("base")["NetworkSettings"]["IPAddress"]
    assert base_ip
    res = mc("run", "--rm", "--network", "container:base", "busybox", "ip", "-o", "-4", "addr", "show", "eth0",
             check=True)
    assert f"inet {base_ip}/" in res.stdout
    mc("rm", "-f", "base", check=True)


def test_port_already_allocated(mc):
    port = _free_port()
    mc.run_detached("--name", "first", "-p", f"{port}:80", "busybox", "sleep", "60")
    before = mc("ps", "-aq").stdout.split()
    res = mc("run", "-d", "--name", "second", "-p", f"{port}:80", "busybox", "sleep", "60")
    assert res.returncode != 0 and "port is already allocated" in res.stderr
    assert res.stderr.strip().count("\n") == 0
    after = mc("ps", "-aq").stdout.split()
    assert len(after) <= len(before) + 1    # docker keeps the failed container as Created
    mc("rm", "-f", "first", "second")
    assert mc("ps", "-aq").stdout == ""


def test_explain_shows_the_engine_steps(mc):
    port = _free_port()
    res = mc("--explain", "run", "--rm", "-p", f"{port}:80", "busybox", "true", check=True)
    steps = res.stderr
    for expected in ("mount overlay", "ip link add vmc", "route add default via", "iptables -t nat -A MINICTR-DNAT",
                     f"--dport {port}", "open(exec.fifo", "iptables -t nat -D MINICTR-DNAT", "umount2"):
        assert expected in steps, expected


def test_add_host_and_dns_reach_the_containers_files(mc):
    """--add-host (name:ip, name=ipv6, host-gateway: the bridge's own
    address) and --dns, in the container's /etc/hosts and resolv.conf."""
    gateway = mc.subnet.rsplit(".", 1)[0] + ".1"
    res = mc("run", "--rm", "--add-host", "db:10.1.2.3", "--add-host", "v6=fd00::7", "--add-host",
             "host.docker.internal:host-gateway", "--dns", "10.9.9.9", "busybox", "sh", "-c",
             "cat /etc/hosts; echo ---; cat /etc/resolv.conf", check=True)
    hosts, resolv = res.stdout.split("---\n")
    lines = [line.split() for line in hosts.splitlines()]
    assert ["10.1.2.3", "db"] in lines and ["fd00::7", "v6"] in lines
    assert [gateway, "host.docker.internal"] in lines
    assert "nameserver 10.9.9.9" in resolv.splitlines()


def test_add_host_bad_value_is_refused_before_anything_is_made(mc):
    res = mc("run", "--rm", "--add-host", "db:999.1.1.1", "busybox", "true")
    assert res.returncode == 125
    assert res.stderr.strip() == ('Error: invalid argument "db:999.1.1.1" for "--add-host" flag: '
                                  'invalid IP address in add-host: "999.1.1.1"')
    assert mc("ps", "-aq").stdout == ""
