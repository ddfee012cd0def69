"""Fifty `run`s at once: separate processes connecting to the same network
through the same database get fifty distinct addresses (IPAM runs under
BEGIN IMMEDIATE), and each namespace holds the address its row says."""
import subprocess
import sys
import time

import pytest

from test_network_helpers import netenv, sh  # noqa: F401

pytestmark = pytest.mark.root
COUNT = 50

SCRIPT = """
import sys
from minictr.state import db
from minictr.network import Networks, NetworkConfig
environ, root, db_path, cid, ns_path = eval(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
nets = Networks(root, db.connect(db_path), NetworkConfig.load(environ=environ))
sys.stdin.read()  # start together
ep = nets.connect("bridge", cid, "c" + cid[:6], ns_path, "c" + cid[:6])
print(ep.ip)
"""


def test_fifty_concurrent_connects_get_fifty_distinct_addresses(netenv):
    netenv.nets.ensure_default()
    namespaces = [netenv.netns() for _ in range(COUNT)]
    cids = [f"{i:064x}" for i in range(1, COUNT + 1)]
    procs = []
    for cid, ns in zip(cids, namespaces):
        procs.append(subprocess.Popen(
            [sys.executable, "-c", SCRIPT, repr(netenv.environ), netenv.root, netenv.db_path, cid, netenv.path(ns)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    netenv.processes.extend(procs)
    time.sleep(1.0)  # let them import and open the database
    for proc in procs:
        proc.stdin.close()
        proc.stdin = None  # closed: communicate() must not flush it
    ips = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        ips.append(out.strip())
    assert len(set(ips)) == COUNT
    rows = dict(netenv.conn.execute("SELECT container_id, ip FROM endpoints").fetchall())
    assert sorted(rows.values()) == sorted(ips)
    for cid, ns in zip(cids, namespaces):
        assert f"inet {rows[cid]}/24" in sh("ip", "netns", "exec", ns, "ip", "-o", "-4", "addr", "show", "eth0").stdout
