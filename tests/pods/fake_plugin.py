#!/usr/bin/env python3
"""A CNI plugin for protocol tests: appends what it was called with (its
name, CNI_* environment and stdin) to the file its config's "log" names,
then does what the config says: "fail" (a CNI error result), "crash"
(stderr only) or "garbage" for the listed commands; otherwise an ADD
returns prevResult with one interface of its own added."""
import json
import os
import sys

conf = json.load(sys.stdin)
command = os.environ.get("CNI_COMMAND", "")
name = os.path.basename(sys.argv[0])
with open(conf["log"], "a") as log:
    log.write(json.dumps({"plugin": name, "env": {k: v for k, v in os.environ.items() if k.startswith("CNI_")},
                          "conf": conf}) + "\n")
if command in conf.get("fail", []):
    print(json.dumps({"cniVersion": conf["cniVersion"], "code": 7, "msg": f"{name} refuses",
                      "details": "bad field \"x\""}))
    sys.exit(1)
if command in conf.get("crash", []):
    print(f"panic: {name} fell over", file=sys.stderr)
    sys.exit(2)
if command in conf.get("garbage", []):
    print("this is not json")
    sys.exit(0)
if command == "ADD":
    result = conf.get("prevResult") or {"cniVersion": conf["cniVersion"], "interfaces": [], "ips": [],
                                        "routes": [], "dns": {}}
    result["interfaces"].append({"name": f"{name}-if", "sandbox": os.environ["CNI_NETNS"]})
    if name == "fake-a":
        result["ips"].append({"address": "10.99.0.5/24", "gateway": "10.99.0.1",
                              "interface": len(result["interfaces"]) - 1})
        result["routes"].append({"dst": "0.0.0.0/0", "gw": "10.99.0.1"})
        result["dns"] = {"nameservers": ["10.99.0.1"], "search": ["pod.local"]}
    print(json.dumps(result))
