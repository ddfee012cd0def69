"""Fixtures for the network tests (no tests here): a private engine root
with its own bridge device and subnets (never minictr0 or 10.66/16), fake
containers as named network namespaces, and cleanup of everything made,
even on failure. Test traffic only goes to 127.0.0.1 and to namespaces
made here, through our own bridge or veth."""
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from minictr.network.config import NetworkConfig
from minictr.state import db

# Test address space: default bridges in 10.199.x.0/24, user networks from
# 10.198.0.0/16, "other hosts" in 10.197.x.0/30, overlap tests in 10.196/16.
TEST_POOL = "10.198.0.0/16:24"
BUSYBOX = shutil.which("busybox") or "/usr/bin/busybox"


def sh(*argv, check=True, timeout=30, **kw):
    return subprocess.run([str(a) for a in argv], check=check, timeout=timeout, capture_output=True, text=True, **kw)


def legacy_rules() -> str:
    return sh("iptables-legacy-save").stdout


def links() -> str:
    return sh("ip", "-o", "link").stdout


class NetEnv:
    """One test's engine root, bridge and namespaces."""

    def __init__(self, tmp_path):
        self.tag = uuid.uuid4().hex[:6]
        self.root = str(tmp_path / "root")
        self.bridge = f"mct{self.tag}"
        self.subnet = f"10.199.{int(self.tag[:2], 16)}.0/24"
        self.environ = {"MINICTR_BRIDGE_NAME": self.bridge, "MINICTR_BRIDGE_SUBNET": self.subnet,
                        "MINICTR_NETWORK_CONF": "/dev/null", "MINICTR_NETWORK_POOL": TEST_POOL}
        self.config = NetworkConfig.load(environ=self.environ)
        self.db_path = os.path.join(self.root, "minictr.db")
        self.conn = db.connect(self.db_path)
        self.namespaces: list[str] = []
        self.extra_links: list[str] = []
        self.processes: list[subprocess.Popen] = []
        self.made_etc_netns = not os.path.isdir("/etc/netns")
        from minictr.network import Networks
        self.nets = Networks(self.root, self.conn, self.config)

    def netns(self, label: str = "c") -> str:
        """A fresh named namespace (a fake container); its path. Files in
        /etc/netns/NAME/ are what `ip netns exec NAME` shows as /etc/."""
        name = f"mct{self.tag}{label}{len(self.namespaces)}"
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        os.makedirs(f"/etc/netns/{name}", exist_ok=True)
        return name

    @staticmethod
    def path(name: str) -> str:
        return f"/var/run/netns/{name}"

    @staticmethod
    def hosts(name: str) -> str:
        return f"/etc/netns/{name}/hosts"

    def spawn(self, *argv) -> subprocess.Popen:
        proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.processes.append(proc)
        return proc

    def http_server(self, ns: str, body: str, port: int = 8000) -> subprocess.Popen:
        """python's http.server in namespace `ns`, serving `body` at /."""
        docroot = os.path.join(self.root, f"www-{ns}")
        os.makedirs(docroot, exist_ok=True)
        with open(os.path.join(docroot, "index.html"), "w") as f:
            f.write(body)
        proc = self.spawn("ip", "netns", "exec", ns, sys.executable, "-u", "-m", "http.server", port,
                          "--bind", "0.0.0.0", "--directory", docroot)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # bounded: the server binds at once
            if f":{port:X}" in sh("ip", "netns", "exec", ns, "cat", "/proc/net/tcp").stdout.upper():
                return proc
            if proc.poll() is not None:
                raise RuntimeError(f"http.server in {ns} exited: {proc.stdout.read()}")
            time.sleep(0.05)
        raise RuntimeError(f"http.server in {ns} did not start")

    def cleanup(self) -> list[str]:
        problems = []
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                problems.append(f"process {proc.pid} did not exit")
        nets = self.nets
        try:
            for row in self.conn.execute("SELECT DISTINCT container_id FROM endpoints").fetchall():
                nets.disconnect_all(row[0])
            for net in nets.list():
                if not net.is_default:
                    nets.remove(net)
            nets.teardown_host_rules()
        except Exception as e:  # keep cleaning
            problems.append(f"engine cleanup: {e}")
        for net in nets.list():
            sh("ip", "link", "del", net.bridge, check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        for name in self.extra_links:
            sh("ip", "link", "del", name, check=False)
        for name in self.namespaces:
            sh("ip", "netns", "del", name, check=False)
            shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)
        if self.made_etc_netns:
            try:
                os.rmdir("/etc/netns")
            except OSError:
                pass  # another test's namespaces still use it
        nets.close()
        self.conn.close()
        return problems


@pytest.fixture
def netenv(tmp_path):
    if not shutil.which("iptables-legacy"):
        pytest.skip("iptables-legacy not installed (apt install iptables)")
    env = NetEnv(tmp_path)
    try:
        yield env
    finally:
        problems = env.cleanup()
    assert not problems, problems
    left = [line for line in links().splitlines() if env.tag in line]
    assert not left, f"links left behind: {left}"
