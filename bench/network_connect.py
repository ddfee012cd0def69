#!/usr/bin/env python3
"""What networking costs a container start on the default bridge.

    .venv/bin/python bench/network_connect.py [--runs 20]

Run as root. Prints, as medians over fresh interpreters:
  - import costs: minictr.network, the hot-path modules, and for
    comparison pyroute2 (full and its lightest entry point) and iptc (as is
    and through minictr's loader);
  - ensure_default() when the network is ready (the usual case), connect()
    and disconnect() with no published ports, connect() with one port.
Uses its own bridge (mcbench0), subnet (10.195.0.0/24) and a temp root,
fake containers are `ip netns` namespaces; everything is removed at the end.
No traffic is sent."""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ENV = {"MINICTR_BRIDGE_NAME": "mcbench0", "MINICTR_BRIDGE_SUBNET": "10.195.0.0/24",
       "MINICTR_NETWORK_CONF": "/dev/null", "MINICTR_NETWORK_POOL": "10.194.0.0/16:24"}

IMPORTS = {
    "minictr.network": "import minictr.network",
    "hot path (manager, rtnl, netns, links, probe; incl. sqlite3)":
        "import minictr.network.manager, minictr.network.links, minictr.network.netns, "
        "minictr.network.xtables_probe",
    "pyroute2": "import pyroute2",
    "pyroute2.iproute.linux": "import pyroute2.iproute.linux",
    "pyroute2 rtnl messages, package __init__ skipped": (
        "import sys, types, importlib.util\n"
        "spec = importlib.util.find_spec('pyroute2')\n"
        "m = types.ModuleType('pyroute2'); m.__path__ = list(spec.submodule_search_locations)\n"
        "sys.modules['pyroute2'] = m\n"
        "import pyroute2.netlink.rtnl.ifinfmsg, pyroute2.netlink.rtnl.ifaddrmsg, pyroute2.netlink.rtnl.rtmsg"),
    "iptc (plain import)": "import iptc",
    "iptc via minictr.network.iptables.load_iptc": "from minictr.network.iptables import load_iptc; load_iptc()",
}

TIMED = """
import os, sys, time, json
t0 = time.perf_counter()
from minictr.state import db
from minictr.network import Networks, NetworkConfig, PortMapping
t_import = time.perf_counter() - t0
root, ns, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
nets = Networks(root, db.connect(os.path.join(root, "minictr.db")), NetworkConfig.load(environ=json.loads(sys.argv[4])))
t = time.perf_counter(); net = nets.ensure_default(); t_ensure = time.perf_counter() - t
publish = [PortMapping(host_ip="127.0.0.1", host_port=port, container_port=80)] if port else []
t = time.perf_counter(); nets.connect(net, "b" * 64, "bench", "/var/run/netns/" + ns, "bench", publish=publish)
t_connect = time.perf_counter() - t
t = time.perf_counter(); nets.disconnect_all("b" * 64); t_disconnect = time.perf_counter() - t
print(json.dumps({"import": t_import, "ensure_default": t_ensure, "connect": t_connect,
                  "disconnect": t_disconnect, "iptc": "iptc" in sys.modules}))
"""


def import_cost(statement: str, runs: int) -> float:
    """Median wall time of the statement in a fresh interpreter, minus an empty one."""
    def once(code):
        out = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter()\n" + code +
                              "\nprint(time.perf_counter() - t)"], capture_output=True, text=True, check=True)
        return float(out.stdout.split()[-1])
    return statistics.median(once(statement) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("network_connect: run as root")
    print("import costs (median ms, fresh interpreter):")
    for label, statement in IMPORTS.items():
        print(f"  {label:55s} {import_cost(statement, max(3, args.runs // 4)) * 1000:7.1f}")
    root = tempfile.mkdtemp(prefix="mcbench-")
    ns = "mcbench-ns"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    import json
    try:
        for label, port in (("no published port", 0), ("one published port", 18080)):
            samples = []
            for _ in range(args.runs):
                out = subprocess.run([sys.executable, "-c", TIMED, root, ns, str(port), json.dumps(ENV)],
                                     capture_output=True, text=True, check=True)
                samples.append(json.loads(out.stdout))
            print(f"{label} (median ms over {args.runs} fresh processes; the first set up the bridge):")
            for key in ("import", "ensure_default", "connect", "disconnect"):
                print(f"  {key:15s} {statistics.median(s[key] for s in samples[1:]) * 1000:7.2f}")
            print(f"  iptc imported: {samples[-1]['iptc']}")
    finally:
        code = ("import os, json, sys\nfrom minictr.state import db\nfrom minictr.network import Networks, NetworkConfig\n"
                "n = Networks(sys.argv[1], db.connect(os.path.join(sys.argv[1], 'minictr.db')),"
                " NetworkConfig.load(environ=json.loads(sys.argv[2])))\n"
                "n.disconnect_all('b' * 64); n.teardown_host_rules()")
        subprocess.run([sys.executable, "-c", code, root, json.dumps(ENV)], check=False)
        subprocess.run(["ip", "link", "del", ENV["MINICTR_BRIDGE_NAME"]], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
