#!/usr/bin/env python3
"""minictr's CRI server against containerd's (Debian's 1.6, its built-in CRI
plugin, runc), side by side in one run, both driven by the same client
(grpcio with minictr's generated stubs in minictr/cri/v1):

  1. pod start: RunPodSandbox + CreateContainer + StartContainer of busybox
     `sleep 3600`, median and p90 (nearest rank) of --runs runs;
  2. pod stop + remove: StopContainer (timeout 0: `sleep` is its PID
     namespace's init and ignores SIGTERM, so a grace period would only
     measure itself) + RemoveContainer + StopPodSandbox + RemovePodSandbox;
  3. --pods pods started at once from a thread pool of as many clients (one
     channel each, connected before the clock starts): the wall time until
     the last StartContainer has returned, and the same for removing them;
  4. with those pods running: the resident memory of the server process
     (with its child processes, if any), and of the server plus its shims.

    .venv/bin/python bench/cri.py [--runs 10] [--pods 20] [--json]

Run as root. The setup (bench/cri_servers.py): a docker-registry on
127.0.0.1 with busybox (../shared/images, glibc amd64) and a pause image
holding minictr's pause program, which containerd's sandbox_image names;
each server pulls busybox through PullImage before anything is timed, then
one untimed pod start and stop warms it up. The pods are what a kubelet
asks for: namespace options pid CONTAINER, ipc and network POD, a cgroup
parent per pod (under /cribench-<random>/<runtime>, cgroupfs), a log
directory; CreateContainer names the image by the image_ref PullImage
returned. The sequential runs alternate the servers, the order reversed
every other run.

Targets (issue 14): the latencies (the medians, and the concurrent start)
at most 1/2 of containerd's; the server's RSS at most containerd's. MISS
is printed, not an error: the exit status is non-zero only when a request
failed or something was left behind.

Cleanup, in a finally (Ctrl-C and SIGTERM included; signals are ignored
while it runs): every pod still there is stopped and removed through each
server's own CRI, the servers stopped by PID, then whatever a failure may
have left: shims by PID, containers of each server's root, CNI
attachments, netns, mounts under the temp dir, the two bridges, libcni
cache records naming our networks, the cgroup parents, the registry, the
temp dir. The CNI networks have no gateway, NAT or default route, and all
sockets are unix sockets or 127.0.0.1: nothing goes through eth0. Every
wait is bounded in count and time."""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cri_servers import (BUSYBOX, SANDBOX_IMAGE, BenchError, ContainerdServer, MinictrServer,  # noqa: E402
                         local_registry, memory_sum_kb, missing_tools, remove_cgroups, tree_of)

RPC_TIMEOUT = 60          # seconds, for every request
PULL_TIMEOUT = 120
PHASE_TIMEOUT = 600       # the concurrent start or stop of all pods, at most
NAMESPACE = "cribench"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class RpcFailed(Exception):
    def __init__(self, rpc: str, code: str, details: str):
        super().__init__(f"{rpc}: {code}: {details}")
        self.rpc, self.code, self.details = rpc, code, details


class Client:
    """One gRPC channel to a server, both services on it."""

    def __init__(self, socket: Path):
        import grpc
        from minictr.cri.v1 import api_pb2_grpc
        self.channel = grpc.insecure_channel(f"unix://{socket}")
        grpc.channel_ready_future(self.channel).result(timeout=10)
        self.runtime = api_pb2_grpc.RuntimeServiceStub(self.channel)
        self.images = api_pb2_grpc.ImageServiceStub(self.channel)

    def __call__(self, rpc: str, request, timeout: float = RPC_TIMEOUT):
        import grpc
        stub = self.images if rpc in ("PullImage", "ImageStatus", "ListImages") else self.runtime
        try:
            return getattr(stub, rpc)(request, timeout=timeout)
        except grpc.RpcError as e:
            raise RpcFailed(rpc, e.code().name, e.details()) from None

    def close(self) -> None:
        self.channel.close()


class Side:
    """One server under test: its client, its pods' requests, its pods."""

    def __init__(self, server, tmp: Path, cgroup_root: str):
        self.server, self.name = server, server.name
        self.log_root = tmp / "logs" / self.name
        self.cgroup_parent = f"{cgroup_root}/{self.name}"
        self.seq = itertools.count(1)
        self.client: Client | None = None
        self.image_ref = ""

    def connect(self) -> None:
        self.client = Client(self.server.socket)

    def pull(self) -> None:
        from minictr.cri.v1 import api_pb2 as pb
        res = self.client("PullImage", pb.PullImageRequest(image=pb.ImageSpec(image=BUSYBOX)), timeout=PULL_TIMEOUT)
        self.image_ref = res.image_ref
        if self.name == "containerd":   # its sandbox image; minictr makes its own from the pause binary
            self.client("PullImage", pb.PullImageRequest(image=pb.ImageSpec(image=SANDBOX_IMAGE)), timeout=PULL_TIMEOUT)

    def configs(self):
        from minictr.cri.v1 import api_pb2 as pb
        n = next(self.seq)
        name, uid = f"bench-{n}", str(uuid.uuid4())
        ns = pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD)
        log_dir = self.log_root / f"{NAMESPACE}_{name}_{uid}"
        log_dir.mkdir(parents=True, exist_ok=True)    # the kubelet makes it before RunPodSandbox
        pod = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace=NAMESPACE, uid=uid, attempt=0),
            hostname=name, log_directory=str(log_dir), labels={"app": "cribench"},
            linux=pb.LinuxPodSandboxConfig(cgroup_parent=f"{self.cgroup_parent}/pod{uid}",
                                           security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
        ctr = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name="sleep", attempt=0), image=pb.ImageSpec(image=self.image_ref),
            command=["sleep", "3600"], log_path="sleep/0.log", labels={"app": "cribench"},
            linux=pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(namespace_options=ns)))
        return pod, ctr

    def start_pod(self, client: Client) -> tuple[str, str, float, float]:
        """(pod id, container id, seconds taken, perf_counter at the end)."""
        from minictr.cri.v1 import api_pb2 as pb
        pod, ctr = self.configs()
        t0 = time.perf_counter()
        pod_id = client("RunPodSandbox", pb.RunPodSandboxRequest(config=pod)).pod_sandbox_id
        ctr_id = client("CreateContainer", pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=ctr,
                                                                     sandbox_config=pod)).container_id
        client("StartContainer", pb.StartContainerRequest(container_id=ctr_id))
        end = time.perf_counter()
        return pod_id, ctr_id, end - t0, end

    @staticmethod
    def stop_pod(client: Client, pod_id: str, ctr_id: str) -> tuple[float, float]:
        from minictr.cri.v1 import api_pb2 as pb
        t0 = time.perf_counter()
        client("StopContainer", pb.StopContainerRequest(container_id=ctr_id, timeout=0))
        client("RemoveContainer", pb.RemoveContainerRequest(container_id=ctr_id))
        client("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pod_id))
        client("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id))
        end = time.perf_counter()
        return end - t0, end

    def running_containers(self) -> int:
        from minictr.cri.v1 import api_pb2 as pb
        res = self.client("ListContainers", pb.ListContainersRequest(filter=pb.ContainerFilter(
            state=pb.ContainerStateValue(state=pb.CONTAINER_RUNNING))))
        return len(res.containers)

    def remove_everything(self) -> list[str]:
        """Every container and pod the server still has, stopped and removed
        through its CRI (a second pass for what the first could not)."""
        from minictr.cri.v1 import api_pb2 as pb
        removed, failed = {"containers": 0, "pods": 0}, []
        for _ in range(2):
            try:
                ctrs = self.client("ListContainers", pb.ListContainersRequest()).containers
                pods = self.client("ListPodSandbox", pb.ListPodSandboxRequest()).items
            except RpcFailed as e:
                failed.append(f"{self.name}: listing what is left: {e}")
                break
            if not ctrs and not pods:
                break
            steps = [("containers", c.id, [("StopContainer", pb.StopContainerRequest(container_id=c.id, timeout=0)),
                                           ("RemoveContainer", pb.RemoveContainerRequest(container_id=c.id))])
                     for c in ctrs]
            steps += [("pods", p.id, [("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=p.id)),
                                      ("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=p.id))])
                      for p in pods]
            for kind, ident, calls in steps:
                try:
                    for rpc, request in calls:
                        self.client(rpc, request)
                    removed[kind] += 1
                except RpcFailed as e:
                    failed.append(f"{self.name}: {kind[:-1]} {ident[:12]}: {e}")
        done = [f"{self.name}: {removed['containers']} container(s) and {removed['pods']} pod(s) the run left, "
                "stopped and removed through its CRI"] if any(removed.values()) else []
        return done + failed


# ---------------------------------------------------------------- the measurements

def sequential(sides: list[Side], runs: int, results: dict, failures: dict) -> None:
    """Warm-up, then runs of start + stop, the order reversed every other run;
    a side stops at its first failed request (named in failures)."""
    for i in range(-1, runs):
        order = sides if i % 2 == 0 else sides[::-1]
        for side in order:
            if failures[side.name]:
                continue
            what = "warm-up" if i < 0 else f"run {i + 1}"
            try:
                pod_id, ctr_id, start, _ = side.start_pod(side.client)
                stop, _ = side.stop_pod(side.client, pod_id, ctr_id)
            except RpcFailed as e:
                failures[side.name].append(f"sequential {what}: {e}")
                continue
            if i >= 0:
                results[side.name]["start"].append(start)
                results[side.name]["stop"].append(stop)
        if i >= 0:
            log(f"  run {i + 1}/{runs}: " + ", ".join(
                f"{s.name} {results[s.name]['start'][-1] * 1000:.0f}+{results[s.name]['stop'][-1] * 1000:.0f} ms"
                for s in sides if results[s.name]["start"] and not failures[s.name]))


def concurrent(side: Side, pods: int, results: dict, failures: dict) -> None:
    """--pods pods at once; memory with them running; then all removed at once."""
    clients = [Client(side.server.socket) for _ in range(pods)]
    r = results[side.name]
    try:
        with ThreadPoolExecutor(max_workers=pods) as pool:
            t0 = time.perf_counter()
            futures = [pool.submit(side.start_pod, c) for c in clients]
            finished, late = wait(futures, timeout=PHASE_TIMEOUT)
            started, errors = [], []
            for f in futures:
                if f in late:
                    errors.append(f"no answer within {PHASE_TIMEOUT} s")
                elif f.exception() is not None:
                    errors.append(str(f.exception()))
                else:
                    started.append(f.result())
            if errors:
                failures[side.name].append(f"concurrent start, {len(errors)} of {pods} pods failed; the first: {errors[0]}")
            else:
                r["concurrent_start"] = max(end for *_, end in started) - t0
            try:
                running = side.running_containers()
                if running != len(started):
                    failures[side.name].append(f"concurrent start: {running} containers running, {len(started)} started")
            except RpcFailed as e:
                failures[side.name].append(f"concurrent start: {e}")
            time.sleep(1.0)     # let the shims finish their start-up work
            if side.server.running and started:
                server = tree_of(side.server.pid)
                shims = side.server.shims()
                r["memory"] = {"server_pids": len(server), "shims": len(shims),
                               "server": memory_sum_kb(server), "with_shims": memory_sum_kb(server + shims)}
            else:
                failures[side.name].append("memory: " + ("the server is not running" if not side.server.running
                                                           else "no pod started"))
            t1 = time.perf_counter()
            stops = [pool.submit(side.stop_pod, c, pod_id, ctr_id)
                     for c, (pod_id, ctr_id, *_rest) in zip(clients, started)]
            finished, late = wait(stops, timeout=PHASE_TIMEOUT)
            errors = [("no answer in time" if f in late else str(f.exception())) for f in stops
                      if f in late or f.exception() is not None]
            if errors:
                failures[side.name].append(f"concurrent stop+remove, {len(errors)} pods failed; the first: {errors[0]}")
            elif stops:
                r["concurrent_stop"] = max(f.result()[1] for f in stops) - t1
    finally:
        for c in clients:
            c.close()


# ---------------------------------------------------------------- the report

def p90(values: list[float]) -> float:
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def metrics(results: dict, runs: int, pods: int) -> list[dict]:
    """The table's rows: label, unit, both values, ratio, target, verdict."""
    def row(label, unit, get, target=None):
        values = {}
        for name in ("minictr", "containerd"):
            try:
                values[name] = get(results[name])
            except (KeyError, ValueError, statistics.StatisticsError):
                values[name] = None
        mc, cd = values["minictr"], values["containerd"]
        ratio = mc / cd if mc is not None and cd else None
        verdict = None if target is None or ratio is None else ("PASS" if ratio <= target else "MISS")
        return {"metric": label, "unit": unit, "minictr": mc, "containerd": cd, "ratio": ratio,
                "target": target, "verdict": verdict}

    n = f"{runs} run{'s' if runs != 1 else ''}"
    mem = lambda key, i: lambda r: r["memory"][key][i] / 1024   # noqa: E731 - kB → MiB
    return [
        row(f"pod start, median ({n})", "ms", lambda r: statistics.median(r["start"]) * 1000, 0.5),
        row(f"pod start, p90 ({n})", "ms", lambda r: p90(r["start"]) * 1000),
        row(f"pod stop+remove, median ({n})", "ms", lambda r: statistics.median(r["stop"]) * 1000, 0.5),
        row(f"pod stop+remove, p90 ({n})", "ms", lambda r: p90(r["stop"]) * 1000),
        row(f"{pods} pods started concurrently, wall", "ms", lambda r: r["concurrent_start"] * 1000, 0.5),
        row(f"{pods} pods stopped+removed concurrently, wall", "ms", lambda r: r["concurrent_stop"] * 1000),
        row(f"server RSS, {pods} pods running", "MiB", mem("server", 0), 1.0),
        row(f"server + shims RSS, {pods} pods running", "MiB", mem("with_shims", 0)),
        row(f"server + shims PSS, {pods} pods running", "MiB", mem("with_shims", 1)),
    ]


def print_table(rows: list[dict], results: dict, header: str) -> None:
    print(header)
    width = max(len(r["metric"]) for r in rows) + 2
    print(f"  {'metric':<{width}}{'minictr':>12}{'containerd':>13}{'ratio':>8}   target")
    for r in rows:
        cell = lambda v: f"{v:8.1f} {r['unit']:<3}" if v is not None else f"{'failed':>12}"   # noqa: E731
        ratio = f"{r['ratio']:8.2f}" if r["ratio"] is not None else f"{'-':>8}"
        target = f"   <= {r['target']:.2f}  [{r['verdict']}]" if r["target"] and r["verdict"] else ""
        print(f"  {r['metric']:<{width}}{cell(r['minictr'])} {cell(r['containerd'])}{ratio}{target}")
    procs = [f"{name}: {m['server_pids']} server process(es), {m['shims']} shims"
             for name, m in ((n, results[n].get("memory")) for n in ("minictr", "containerd")) if m]
    if procs:
        print(f"  ({'; '.join(procs)})")
    print("  ratio = minictr / containerd; targets: latencies at most 1/2 of containerd's, server RSS at most "
          "containerd's")


# ---------------------------------------------------------------- main

def _interrupted(signum, frame):
    """SIGTERM unwinds like ^C, through the cleanup."""
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="sequential pod start/stop runs per server")
    ap.add_argument("--pods", type=int, default=20, help="pods started concurrently (and clients)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root")
    if not 1 <= a.runs <= 1000 or not 1 <= a.pods <= 200:
        raise SystemExit("bench: --runs must be 1..1000 and --pods 1..200")
    missing = missing_tools()
    if missing:
        raise SystemExit(f"bench: not installed: {', '.join(missing)}")
    signal.signal(signal.SIGTERM, _interrupted)
    load_start = " ".join(open("/proc/loadavg").read().split()[:3])

    tmp = Path(tempfile.mkdtemp(prefix="mcb-", dir="/tmp"))   # unix socket paths stay short
    cgroup_root = f"/cribench-{tmp.name[4:]}"
    registry = None
    sides: list[Side] = []
    results = {name: {"start": [], "stop": []} for name in ("minictr", "containerd")}
    failures: dict[str, list[str]] = {"minictr": [], "containerd": []}
    errors: list[str] = []
    versions: dict[str, str] = {}
    try:
        log("setup: local registry, both CRI servers, busybox pulled by each")
        registry = local_registry(tmp)
        mc = MinictrServer(tmp / "minictr", registry)
        sides.append(Side(mc, tmp, cgroup_root))
        cd = ContainerdServer(tmp / "containerd", registry, (mc.network.subnet,))
        sides.append(Side(cd, tmp, cgroup_root))
        for side in sides:
            versions[side.name] = side.server.version()
            side.server.start()
            side.connect()
            try:
                side.pull()
            except RpcFailed as e:
                failures[side.name].append(f"setup: {e}")
        log(f"sequential: {a.runs} runs of pod start + stop/remove on each (after one warm-up)")
        sequential(sides, a.runs, results, failures)
        for side in sides:
            if failures[side.name] and not results[side.name]["start"]:
                continue    # not even one pod started: the concurrent part would fail the same way
            log(f"concurrent: {a.pods} pods on {side.name}")
            concurrent(side, a.pods, results, failures)
    except (BenchError, RpcFailed, OSError) as e:
        errors.append(f"{type(e).__name__}: {e}")
    except KeyboardInterrupt:
        errors.append("interrupted: the measurements stop here")
    except Exception as e:    # noqa: BLE001 - e.g. a grpc channel that never got ready; still clean up
        errors.append(f"{type(e).__name__}: {e}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cleanup, left = teardown(sides, registry, tmp, cgroup_root)
        errors += left
    for name, failed in failures.items():
        errors = [f"{name}: {f}" for f in failed] + errors

    rows = metrics(results, a.runs, a.pods)
    header = (f"CRI pod lifecycle, busybox `sleep 3600`: {a.runs} sequential runs per server (alternating, after one "
              f"warm-up), {a.pods} concurrent pods\n  {', '.join(versions.values())}, kernel {platform.release()}, "
              f"{os.cpu_count()} CPUs, load {load_start} at the start, "
              f"{' '.join(open('/proc/loadavg').read().split()[:3])} at the end")
    if a.json:
        json.dump({"runs": a.runs, "pods": a.pods, "versions": versions, "metrics": rows,
                   "samples": {n: {"start": r["start"], "stop": r["stop"]} for n, r in results.items()},
                   "memory_kb": {n: r.get("memory") for n, r in results.items()},
                   "cleanup": cleanup, "errors": errors}, sys.stdout, indent=2)
        print()
    else:
        print_table(rows, results, header)
        print("cleanup:")
        for line in cleanup:
            print(f"  {line}")
        if errors:
            print("errors:")
            for e in errors:
                print(f"  {e}")
        else:
            print("  nothing left behind: no pods, shims, netns, mounts, bridges, cgroups or temp dirs")
    return 1 if errors else 0


def teardown(sides: list[Side], registry, tmp: Path, cgroup_root: str) -> tuple[list[str], list[str]]:
    """(what was done, what is still left: errors)."""
    done, left = [], []
    for side in sides:
        if side.client is not None:
            done += side.remove_everything()
            side.client.close()
    for side in sides:
        try:
            done += side.server.teardown()
        except Exception as e:   # noqa: BLE001 - the other side is still cleaned up
            left.append(f"{side.name}: teardown: {type(e).__name__}: {e}")
    for side in sides:
        if side.server.shims():
            left.append(f"{side.name}: shims still running: {side.server.shims()}")
        if os.path.exists(f"/sys/class/net/{side.server.network.bridge}"):
            left.append(f"{side.name}: bridge {side.server.network.bridge} still there")
    if registry is not None:
        registry.stop()
        done.append(f"docker-registry (pid {registry.pid}) stopped")
    left += [f"cgroup left: {p}" for p in remove_cgroups(cgroup_root)]
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if line.split()[4].startswith(str(tmp))]
    left += [f"still mounted: {m}" for m in mounts]
    if not mounts:
        shutil.rmtree(tmp, ignore_errors=True)
        done.append(f"removed {tmp} and the cgroups under {cgroup_root}")
    return done, left


if __name__ == "__main__":
    sys.exit(main())
