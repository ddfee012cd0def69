#!/usr/bin/env python3
"""`minictr run --rm busybox true` against docker, podman and runc, side by
side: start time on the default bridge, start time with --network none, and
the resident memory of each engine's per-container shim.

    .venv/bin/python bench/engine_run.py [--runs 20] [--warmup 2] [--shims 5]
                                         [--skip-docker] [--skip-podman]

Run as root. Every engine gets private state and the same busybox image
(../shared/images/busybox, glibc, amd64):
  - minictr: a private root with busybox loaded and its own default bridge
    and /24 (as tests/support/engine_env.py sets up);
  - docker: a private dockerd from apt's docker.io (own data/exec roots and
    socket) WITH its default bridge network (docker0) and iptables, as a stock
    dockerd runs; the image goes in with `docker load` of a docker-archive
    that skopeo makes from the OCI layout;
  - podman: CONTAINERS_CONF from tests/engines, a private --root/--runroot
    under a short /tmp path, the same archive `podman load`ed, its default
    network (CNI's `podman` bridge) and runc (crun refuses hybrid cgroup hosts);
  - runc: a bundle with runc's default spec and the busybox rootfs; each run
    creates, runs and deletes the container (`runc run`).

The timed runs alternate: each round runs every contender once, the order
reversed every other round, after the warm-ups. Memory: N detached
`sleep 300` containers per engine (--network none), then RSS and PSS
(/proc/PID/smaps_rollup) of each shim process found as a child of init:
minictr-shim (cmdline names our root), conmon (names our podman root),
containerd-shim-runc-v2 (names our dockerd's exec root).

Cleanup: the engines' own rm / network prune / system reset, the private
dockerd stopped by PID. dockerd leaves docker0 and its iptables chains, and
podman's CNI plugins leave cni-podman0, their CNI-* chains and /var/lib/cni;
those are removed only when the snapshot taken before the bench proves the
bench made them (the link or chain did not exist before; a rule is new and
jumps to or sits in such a chain, or names such a link). Nothing else on the
host is touched. No packet leaves the machine: the containers run
`true` and `sleep` only.

Missed targets are printed as MISS; the exit status is non-zero only on
errors (a command failed, or something was left behind)."""
from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from support import engines  # noqa: E402
from support.bundles import BUSYBOX_LAYOUT, make_bundle, runc_default_spec  # noqa: E402
from support.engine_env import EngineEnv  # noqa: E402

VENV_BIN = Path(sys.executable).parent
DOCKER_CLIENT = "/usr/bin/docker"
DOCKER_BRIDGE = "docker0"
PODMAN_BRIDGE = "cni-podman0"           # /etc/cni/net.d/87-podman-bridge.conflist, podman's default
ENGINE_CHAIN = re.compile(r"^(DOCKER|CNI-)")   # the chain names dockerd and the CNI plugins use
CNI_STATE = Path("/var/lib/cni")
CGROUP_PARENTS = ("docker", "libpod_parent")
SYSCTLS = ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding",
           "/proc/sys/net/bridge/bridge-nf-call-iptables", "/proc/sys/net/bridge/bridge-nf-call-ip6tables")
LOAD_AT_START = ""
# (save, command, nft family number for a table delete, or None for legacy)
IPTABLES = (("iptables-nft-save", "iptables-nft", 2), ("ip6tables-nft-save", "ip6tables-nft", 10),
            ("iptables-legacy-save", "iptables-legacy", None), ("ip6tables-legacy-save", "ip6tables-legacy", None))


class BenchError(Exception):
    pass


def sh(cmd: list[str], env: dict | None = None, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """stdio through files, not pipes: a detached container may inherit them."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout)
        out.seek(0)
        err.seek(0)
        res = subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())
    if check and res.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr.strip()[-2000:]}")
    return res


def timed(cmd: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, timeout=120)
    elapsed = time.perf_counter() - start
    if res.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


# ---------------------------------------------------------------- host state

def links() -> set[str]:
    out = sh(["ip", "-o", "link", "show"]).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def parse_save(text: str) -> dict[str, dict]:
    """iptables-save output as {table: {"chains": {name: policy}, "rules": [rule lines]}}."""
    tables: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("*"):
            current = tables.setdefault(line[1:].strip(), {"chains": {}, "rules": []})
        elif line.startswith(":") and current is not None:
            name, policy = line[1:].split()[:2]
            current["chains"][name] = policy
        elif line.startswith("-A ") and current is not None:
            current["rules"].append(line)
    return tables


def iptables_state() -> dict[str, dict]:
    state = {}
    for save, _, _ in IPTABLES:
        if shutil.which(save):
            res = subprocess.run([save], capture_output=True, text=True)
            state[save] = parse_save(res.stdout) if res.returncode == 0 else {}
    return state


def read_sysctls() -> dict[str, str]:
    values = {}
    for path in SYSCTLS:
        try:
            values[path] = Path(path).read_text().strip()
        except OSError:
            pass
    return values


def cgroup_parents() -> set[str]:
    """The parent cgroups dockerd and podman (cgroupfs) put containers and
    conmon in, per hierarchy. One that appears during the bench is podman's
    or docker's own: removed when empty, as tests/support/engines.py does."""
    base = "/sys/fs/cgroup"
    return {os.path.join(base, h, p) for h in os.listdir(base) for p in CGROUP_PARENTS
            if os.path.isdir(os.path.join(base, h, p))}


class HostSnapshot:
    """What the host looked like before the bench, and the removal of what
    the bench provably added (see the module docstring)."""

    def __init__(self):
        self.links = links()
        self.iptables = iptables_state()
        self.sysctls = read_sysctls()
        self.cgroups = cgroup_parents()
        self.cni_state_existed = CNI_STATE.exists()

    def restore(self, bridges_ran: set[str]) -> list[str]:
        """bridges_ran: the engine bridges whose engine the bench ran (docker0,
        cni-podman0). Returns what was done, for the report."""
        done = []
        new_links = {b for b in bridges_ran if b not in self.links and b in links()}
        after = iptables_state()
        for save, cmd, family in IPTABLES:
            if save not in after:
                continue
            before = self.iptables.get(save, {})
            for table, t_after in after[save].items():
                t_before = before.get(table, {"chains": {}, "rules": []})
                done += self._restore_table(cmd, table, t_before, t_after, new_links)
            if family is not None:
                done += self._drop_new_empty_nft_tables(save, family, before)
        for bridge in sorted(new_links):
            sh(["ip", "link", "del", bridge], check=False)
            done.append(f"ip link del {bridge}")
        if not self.cni_state_existed and CNI_STATE.exists() and PODMAN_BRIDGE in bridges_ran:
            shutil.rmtree(CNI_STATE, ignore_errors=True)
            done.append(f"rm -r {CNI_STATE} (made by podman's CNI plugins)")
        for path in sorted(cgroup_parents() - self.cgroups):
            engines._remove_cgroup_tree(path)       # rmdir leaf first: only empty cgroups go
            done.append(f"rmdir {path}" + (" (not empty: left)" if os.path.exists(path) else ""))
        for path, value in self.sysctls.items():
            now = read_sysctls().get(path)
            if now is not None and now != value:
                Path(path).write_text(value)
                done.append(f"{path}: {now} -> {value}")
        return done

    @staticmethod
    def _restore_table(cmd: str, table: str, before: dict, after: dict, new_links: set[str]) -> list[str]:
        done = []
        new_chains = {c for c in after["chains"] if c not in before["chains"] and ENGINE_CHAIN.match(c)}
        old_rules = Counter(before["rules"])
        ours = []
        for rule in after["rules"]:
            if old_rules[rule] > 0:
                old_rules[rule] -= 1
                continue
            words = shlex.split(rule)
            chain = words[1]
            target = next((words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-j", "-g")), None)
            names_link = any(words[i + 1] in new_links for i, w in enumerate(words[:-1])
                             if w in ("-i", "-o", "--in-interface", "--out-interface"))
            if chain in new_chains:
                continue              # goes with the chain's flush
            if target in new_chains or names_link:
                ours.append(words)
        for words in ours:
            res = sh([cmd, "-w", "-t", table, "-D", *words[1:]], check=False)
            if res.returncode == 0:
                done.append(f"{cmd} -t {table} -D {shlex.join(words[1:])}")
        for chain in sorted(new_chains):
            sh([cmd, "-w", "-t", table, "-F", chain], check=False)
        for chain in sorted(new_chains):
            if sh([cmd, "-w", "-t", table, "-X", chain], check=False).returncode == 0:
                done.append(f"{cmd} -t {table} -X {chain}")
        # dockerd sets FORWARD to DROP when it turned ip_forward on itself
        for chain in ("FORWARD",):
            was, now = before["chains"].get(chain), after["chains"].get(chain)
            if was and now and was != now and was != "-" and (new_chains or ours):
                sh([cmd, "-w", "-t", table, "-P", chain, was], check=False)
                done.append(f"{cmd} -t {table} -P {chain} {was} (was {now})")
        return done

    @staticmethod
    def _drop_new_empty_nft_tables(save: str, family: int, before: dict) -> list[str]:
        """iptables-nft makes a table the first time a rule goes in; a table
        that was not there before and is empty again (no rule, only built-in
        chains with policy ACCEPT) is removed whole, as iptables-nft cannot."""
        done = []
        now = parse_save(subprocess.run([save], capture_output=True, text=True).stdout)
        empty = [t for t, v in now.items() if t not in before and not v["rules"]
                 and all(p == "ACCEPT" for p in v["chains"].values())]
        if not empty:
            return done
        from pyroute2.nftables.main import NFTables
        nft = NFTables(nfgen_family=family)
        try:
            for table in empty:
                nft.table("del", name=table)
                done.append(f"nft delete table {'ip' if family == 2 else 'ip6'} {table} (empty, made by iptables-nft)")
        finally:
            nft.close()
        return done


# ---------------------------------------------------------------- processes

def proc_children_of_init() -> list[tuple[int, bytes]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
            if ppid != 1:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, ValueError):
            continue
        if cmdline:
            found.append((int(entry), cmdline))
    return found


def find_shims(binary: str, marker: str) -> list[int]:
    """Children of init whose argv[0] ends with binary and whose cmdline names marker."""
    pids = []
    for pid, cmdline in proc_children_of_init():
        argv = cmdline.split(b"\0")
        if os.path.basename(argv[0]).decode(errors="replace") == binary and marker.encode() in cmdline:
            pids.append(pid)
    return pids


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB."""
    rss = pss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


# ---------------------------------------------------------------- engines

class Contender:
    """One engine: how to time a run, start a detached sleeper, list and
    remove its containers, find its shims."""
    name = ""
    shim = ""

    def run_argv(self, network_none: bool) -> tuple[list[str], dict | None]:
        raise NotImplementedError

    def time_run(self, network_none: bool, extra: tuple = ()) -> float:
        """extra: run flags put before the image (minictr's seccomp line)."""
        argv, env = self.run_argv(network_none)
        if extra:
            at = argv.index("busybox")
            argv = argv[:at] + list(extra) + argv[at:]
        return timed(argv, env)


class Minictr(Contender):
    name, shim = "minictr", "minictr-shim"

    def __init__(self, tmp: Path):
        self.env = EngineEnv(tmp / "minictr")
        self.root = str(self.env.root)
        self.bin = str(VENV_BIN / "minictr")

    def setup(self) -> None:
        self.env.load_busybox()

    def run_argv(self, network_none: bool):
        return [self.bin, "run", "--rm", *(["--network", "none"] if network_none else []),
                "busybox", "true"], self.env.env

    def start_sleeper(self) -> None:
        self.env("run", "-d", "--network", "none", "busybox", "sleep", "300", check=True, timeout=60)

    def containers(self) -> list[str]:
        return self.env("ps", "-aq", "--no-trunc", check=True).stdout.split()

    def remove_all(self) -> None:
        ids = self.containers()
        if ids:
            self.env("rm", "-f", *ids, check=True, timeout=120)

    def shims(self) -> list[int]:
        return find_shims("minictr-shim", self.root)

    def close(self) -> list[str]:
        """Returns what was left mounted under the root."""
        return self.env.teardown()


class Docker(Contender):
    name, shim = "docker", "containerd-shim-runc-v2"

    def __init__(self):
        if not os.path.exists(DOCKER_CLIENT):   # Dockerd takes /usr/bin/docker when it is there
            raise BenchError(f"{DOCKER_CLIENT} not found (apt install docker.io)")
        self.tmp = Path(tempfile.mkdtemp(prefix="mbr-docker-"))
        self.dockerd = engines.Dockerd(self.tmp, shutil.which("runc") or "runc", default_bridge=True)
        self.engine = None

    def setup(self, archive: Path) -> None:
        try:
            self.engine = self.dockerd.start()
        except (RuntimeError, TimeoutError) as e:
            raise BenchError(f"dockerd: {e}") from None
        self.engine("load", "-i", str(archive), timeout=120)

    def run_argv(self, network_none: bool):
        return [*self.engine.argv, "run", "--rm", *(["--network", "none"] if network_none else []),
                "busybox", "true"], None

    def start_sleeper(self) -> None:
        self.engine("run", "-d", "--network", "none", "busybox", "sleep", "300", timeout=60)

    def containers(self) -> list[str]:
        return self.engine("ps", "-aq").stdout.split() if self.engine else []

    def remove_all(self) -> None:
        ids = self.containers()
        if ids:
            self.engine("rm", "-f", *ids, timeout=120)

    def shims(self) -> list[int]:
        return find_shims("containerd-shim-runc-v2", str(self.tmp / "exec"))

    def close(self) -> list[str]:
        self.dockerd.stop()
        left = mounts_under(self.tmp)
        engines.unmount_under(self.tmp)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return left


class Podman(Contender):
    name, shim = "podman", "conmon"

    def __init__(self):
        if not shutil.which("podman"):
            raise BenchError("podman is not installed (apt install podman)")
        # podman refuses a runroot of 50 characters or more
        self.tmp = Path(tempfile.mkdtemp(prefix="mbr-p-", dir="/tmp"))
        self.root = str(self.tmp / "root")
        env = dict(os.environ, CONTAINERS_CONF=str(engines.CONTAINERS_CONF))
        env.pop("CONTAINERS_STORAGE_CONF", None)
        self.engine = engines.Engine(
            ["podman", "--root", self.root, "--runroot", str(self.tmp / "run"), "--tmpdir", str(self.tmp / "tmp"),
             "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
             "--runtime", shutil.which("runc") or "runc"], env)

    def setup(self, archive: Path) -> None:
        self.engine("load", "-q", "-i", str(archive), timeout=120)

    def run_argv(self, network_none: bool):
        return [*self.engine.argv, "run", "--rm", *(["--network", "none"] if network_none else []),
                "busybox", "true"], self.engine.env

    def start_sleeper(self) -> None:
        self.engine("run", "-d", "--network", "none", "busybox", "sleep", "300", timeout=60)

    def containers(self) -> list[str]:
        return self.engine("ps", "-aq").stdout.split()

    def remove_all(self) -> None:
        self.engine("rm", "-a", "-f", "-t", "0", timeout=120)

    def shims(self) -> list[int]:
        return find_shims("conmon", self.root)

    def close(self) -> list[str]:
        self.engine("rm", "-a", "-f", "-t", "0", check=False, timeout=120)
        self.engine("system", "reset", "-f", check=False, timeout=120)
        left = mounts_under(self.tmp)
        engines.unmount_under(self.tmp)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return left


class Runc(Contender):
    name = "runc"

    def __init__(self, tmp: Path):
        self.bin = shutil.which("runc")
        if not self.bin:
            raise BenchError("runc is not installed (apt install runc)")
        spec = runc_default_spec()
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["true"]
        self.bundle = make_bundle(tmp / "bundle", spec)
        self.root = tmp / "runc-root"
        self.n = 0

    def run_argv(self, network_none: bool):
        self.n += 1
        return [self.bin, "--root", str(self.root), "run", "--bundle", str(self.bundle), f"bench{self.n}"], None

    def containers(self) -> list[str]:
        if not self.root.exists():
            return []
        return sh([self.bin, "--root", str(self.root), "list", "-q"]).stdout.split()


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if (line.split()[4] + "/").startswith(prefix)]


def make_archive(tmp: Path) -> Path:
    """The busybox OCI layout as a docker-archive tagged busybox:latest."""
    archive = tmp / "busybox-docker.tar"
    sh(["skopeo", "copy", "-q", f"oci:{BUSYBOX_LAYOUT}", f"docker-archive:{archive}:busybox:latest"])
    return archive


# ---------------------------------------------------------------- report

def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}ms"


def table(title: str, times: dict[str, list[float]], base: str | None, failures: dict) -> dict[str, float]:
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(title)
    label = f"vs {base}" if base else ""
    failed = any(failures.get(name) for name in times)
    print(f"  {'engine':<28}{'median':>10}{'min':>10}{'max':>10}{label:>12}{'runs':>6}" + ("  failed" if failed else ""))
    for name, t in times.items():
        ratio = f"{medians[name] / medians[base]:>11.2f}x" if base else f"{'':>12}"
        extra = f"{len(failures.get(name, [])):>8}" if failed else ""
        print(f"  {name:<28}{ms(medians[name])}{ms(min(t))}{ms(max(t))}{ratio}{len(t):>6}{extra}")
    return medians


def target(label: str, ok: bool | None, detail: str) -> None:
    verdict = "SKIP" if ok is None else ("PASS" if ok else "MISS")
    print(f"  [{verdict}] {label}: {detail}")


def version_line(contenders: dict) -> str:
    parts = [f"kernel {platform.release()}"]
    for name, cmd in (("runc", ["runc", "--version"]), ("podman", ["podman", "--version"]),
                      ("docker", ["/usr/sbin/dockerd", "--version"]), ("conmon", ["conmon", "--version"])):
        if name in ("podman", "conmon") and "podman" not in contenders:
            continue
        if name == "docker" and "docker" not in contenders:
            continue
        res = subprocess.run(cmd, capture_output=True, text=True)
        words = res.stdout.split()
        version = next((w.strip(",") for w in words if w[:1].isdigit()), "?")
        parts.append(f"{name} {version}")
    return ", ".join(parts)


# ---------------------------------------------------------------- main

def measure_shims(contenders: dict[str, Contender], n: int) -> dict[str, tuple[int, float, float]]:
    """{engine: (shims found, mean RSS kB, mean PSS kB)} with N sleepers each."""
    result = {}
    for name, c in contenders.items():
        if not c.shim:
            continue
        for _ in range(n):
            c.start_sleeper()
    time.sleep(1.0)    # let every shim finish its start-up work
    for name, c in contenders.items():
        if not c.shim:
            continue
        pids = c.shims()
        samples = []
        for pid in pids:
            try:
                samples.append(memory_kb(pid))
            except OSError:
                pass
        if len(samples) != n:
            print(f"  warning: {name}: found {len(samples)} {c.shim} processes for {n} containers")
        if samples:
            result[name] = (len(samples), statistics.mean(s[0] for s in samples),
                            statistics.mean(s[1] for s in samples))
    for c in contenders.values():
        if c.shim:
            c.remove_all()
    return result


def wait_no_shims(contenders: dict[str, Contender], timeout: float = 20) -> dict[str, list[int]]:
    deadline = time.monotonic() + timeout
    while True:
        left = {c.name: c.shims() for c in contenders.values() if c.shim}
        left = {k: v for k, v in left.items() if v}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def _interrupted(signum, frame):
    """SIGTERM unwinds like ^C, through the cleanup."""
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--shims", type=int, default=5, help="detached containers per engine for the memory part")
    ap.add_argument("--skip-docker", action="store_true")
    ap.add_argument("--skip-podman", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root")
    if a.runs < 1:
        raise SystemExit("bench: --runs must be at least 1")
    missing = [t for t in ["runc", "skopeo", "ip"] + ([] if a.skip_podman else ["podman", "conmon"])
               if not shutil.which(t)]
    if missing:
        raise SystemExit(f"bench: not installed: {', '.join(missing)}")
    signal.signal(signal.SIGTERM, _interrupted)

    global LOAD_AT_START
    LOAD_AT_START = " ".join(open("/proc/loadavg").read().split()[:3])
    snapshot = HostSnapshot()
    tmp = Path(tempfile.mkdtemp(prefix="minictr-bench-run-"))
    contenders: dict[str, Contender] = {}
    errors: list[str] = []
    bridges_ran: set[str] = set()
    times: dict[str, list[float]] = {}
    failures: dict[str, list[str]] = {}
    memory: dict = {}
    try:
        # each one is registered before its setup, so a failed setup is cleaned up too
        contenders["minictr"] = Minictr(tmp)
        contenders["minictr"].setup()
        contenders["runc"] = Runc(tmp)
        if not (a.skip_docker and a.skip_podman):
            archive = make_archive(tmp)
            if not a.skip_docker:
                bridges_ran.add(DOCKER_BRIDGE)
                contenders["docker"] = Docker()
                contenders["docker"].setup(archive)
            if not a.skip_podman:
                bridges_ran.add(PODMAN_BRIDGE)
                contenders["podman"] = Podman()
                contenders["podman"].setup(archive)
        # (label, contender, --network none?)
        # the seccomp line: the same run without the default filter, so its cost shows side by side
        unconfined = ("--security-opt", "seccomp=unconfined")
        cases = [("minictr", "minictr", False), ("docker", "docker", False), ("podman", "podman", False),
                 ("minictr --network none", "minictr", True),
                 ("minictr, seccomp unconfined", "minictr", True, unconfined), ("runc", "runc", True),
                 ("docker --network none", "docker", True), ("podman --network none", "podman", True)]
        cases = [c if len(c) == 4 else (*c, ()) for c in cases]
        cases = [c for c in cases if c[1] in contenders]
        times = {label: [] for label, *_ in cases}
        failures = {label: [] for label, *_ in cases}

        def attempt(label: str, name: str, none: bool, extra: tuple) -> float | None:
            """A failed run is recorded (an error at the end) and not timed;
            the bench goes on unless runs keep failing."""
            try:
                return contenders[name].time_run(none, extra)
            except BenchError as e:
                failures[label].append(str(e))
                if sum(map(len, failures.values())) > max(3, a.runs // 5):
                    raise BenchError("too many failed runs, giving up") from None
                return None

        for _ in range(a.warmup):
            for label, name, none, extra in cases:
                attempt(label, name, none, extra)
        for i in range(a.runs):
            order = cases if i % 2 == 0 else list(reversed(cases))
            for label, name, none, extra in order:
                elapsed = attempt(label, name, none, extra)
                if elapsed is not None:
                    times[label].append(elapsed)
        memory = measure_shims(contenders, a.shims) if a.shims > 0 else {}
    except (BenchError, AssertionError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        errors.append(f"{type(e).__name__}: {e}" if not isinstance(e, BenchError) else str(e))
    except KeyboardInterrupt:
        errors.append("interrupted: the measurements stop here")
    finally:
        # the cleanup runs to its end, whatever signal comes now
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for label, failed in failures.items():
            if failed:
                errors.insert(0, f"{label}: {len(failed)} run(s) failed (warm-ups included); the first: {failed[0]}")
        cleanup_report = cleanup(contenders, snapshot, bridges_ran, tmp)
    errors += cleanup_report["errors"]

    if any(times.values()):
        report(a, contenders, times, failures, memory)
    print("cleanup:")
    for line in cleanup_report["done"]:
        print(f"  {line}")
    if errors:
        print("errors:")
        for e in errors:
            print(f"  {e}")
        return 1
    print("  nothing left behind: no containers, shims, mounts under the bench's dirs, bridges or chains")
    return 0


def cleanup(contenders: dict[str, Contender], snapshot: HostSnapshot, bridges_ran: set[str], tmp: Path) -> dict:
    done, errors = [], []
    containers_left = {}
    for name, c in contenders.items():
        try:
            ids = c.containers()
            if ids and name != "runc":
                c.remove_all()
                ids = c.containers()
            if ids:
                containers_left[name] = ids
        except Exception as e:   # keep cleaning up the others
            errors.append(f"{name}: listing/removing containers: {e}")
    for name, ids in containers_left.items():
        errors.append(f"{name}: containers left: {' '.join(i[:12] for i in ids)}")
    shims_left = wait_no_shims(contenders)
    for name, pids in shims_left.items():
        errors.append(f"{name}: shim processes left: {pids}")
    minictr_bridge = None
    dirs = [tmp] + [c.tmp for c in contenders.values() if isinstance(c, (Docker, Podman))]
    for name in ("podman", "docker", "minictr"):
        c = contenders.get(name)
        if c is None:
            continue
        try:
            left = c.close()
            if left:
                errors.append(f"{name}: was still mounted (unmounted now): {' '.join(left)}")
        except Exception as e:
            errors.append(f"{name}: cleanup: {e}")
        if name == "minictr":
            minictr_bridge = c.env.bridge
    done.append("engines: containers removed with their own rm; podman system reset; dockerd stopped by PID; "
                "minictr network prune")
    try:
        done += snapshot.restore(bridges_ran)
    except Exception as e:
        errors.append(f"restoring the host network state: {e}")
    left_mounts = [m for d in dirs for m in mounts_under(d)]
    if left_mounts:
        errors.append(f"mounts left: {left_mounts}")
    shutil.rmtree(tmp, ignore_errors=True)
    now = links()
    for bridge in sorted(bridges_ran | ({minictr_bridge} if minictr_bridge else set())):
        if bridge in now and bridge not in snapshot.links:
            errors.append(f"bridge left: {bridge}")
    after = iptables_state()
    for save, tables in after.items():
        for tname, t in tables.items():
            before = snapshot.iptables.get(save, {}).get(tname, {"chains": {}})
            new = [c for c in t["chains"] if c not in before["chains"] and ENGINE_CHAIN.match(c)]
            if new:
                errors.append(f"{save} -t {tname}: chains left: {new}")
            if minictr_bridge and any(minictr_bridge in r for r in t["rules"]):
                errors.append(f"{save} -t {tname}: rules naming {minictr_bridge} left")
    return {"done": done, "errors": errors}


def report(a, contenders, times, failures, memory) -> None:
    times = {k: v for k, v in times.items() if v}       # an interrupted bench reports what it has
    print(f"engine run of busybox `true` (../shared/images/busybox, glibc amd64): {a.runs} alternating rounds "
          f"after {a.warmup} warm-up round(s); each round runs every line below once, the order reversed "
          "every other round")
    print(f"  {version_line(contenders)}; {os.cpu_count()} CPUs, load average {LOAD_AT_START} at the start, "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])} at the end")
    print()
    bridge = {k: v for k, v in times.items() if k in ("minictr", "docker", "podman")}
    m1 = m2 = {}
    if bridge:
        m1 = table("1. run --rm busybox true, default bridge network (minictr: its own bridge and /24; "
                   "docker: docker0 + iptables; podman: CNI podman network)", bridge,
                   "docker" if "docker" in bridge else None, failures)
        print()
    none = {k: v for k, v in times.items() if k not in bridge}
    if none:
        m2 = table("2. run --rm --network none busybox true; runc: `runc run` of a prepared bundle "
                   "(runc's default spec, busybox rootfs; create + run + delete)", none,
                   "runc" if "runc" in none else None, failures)
        print()
    if memory:
        print(f"3. per-container shim memory: {a.shims} detached `sleep 300` containers per engine "
              "(--network none), averages per shim process")
        print(f"  {'engine':<9}{'shim':<26}{'count':>6}{'RSS':>11}{'PSS':>11}{'RSS vs conmon':>15}{'PSS vs conmon':>15}")
        base_mem = memory.get("podman")
        for name, (count, rss, pss) in memory.items():
            rr = f"{rss / base_mem[1]:>14.2f}x" if base_mem else f"{'-':>15}"
            pr = f"{pss / base_mem[2]:>14.2f}x" if base_mem else f"{'-':>15}"
            print(f"  {name:<9}{contenders[name].shim:<26}{count:>6}{rss:>8.0f} kB{pss:>8.0f} kB{rr}{pr}")
        print()
    print("targets:")
    label = "minictr run --rm on the default bridge <= 1/3 of docker's median"
    if "docker" in m1 and "minictr" in m1:
        limit = m1["docker"] / 3
        target(label, m1["minictr"] <= limit,
               f"{m1['minictr'] * 1000:.1f}ms vs {limit * 1000:.1f}ms (docker {m1['docker'] * 1000:.1f}ms / 3); "
               f"ratio {m1['minictr'] / m1['docker']:.3f}")
    else:
        target(label, None, "docker skipped" if a.skip_docker else "no measurement")
    label = "minictr run --rm --network none <= 2x runc run"
    if "runc" in m2 and "minictr --network none" in m2:
        ours, runc = m2["minictr --network none"], m2["runc"]
        target(label, ours <= 2 * runc, f"{ours * 1000:.1f}ms vs {2 * runc * 1000:.1f}ms "
               f"(runc {runc * 1000:.1f}ms x 2); ratio {ours / runc:.2f}x")
    else:
        target(label, None, "no measurement")
    label = "seccomp costs minictr run --rm at most 3 ms (default filter vs seccomp=unconfined)"
    unconfined = "minictr, seccomp unconfined"
    if unconfined in m2 and "minictr --network none" in m2:
        cost = m2["minictr --network none"] - m2[unconfined]
        target(label, cost <= 0.003, f"{cost * 1000:+.1f}ms ({m2['minictr --network none'] * 1000:.1f}ms with "
               f"the filter, {m2[unconfined] * 1000:.1f}ms without)")
    else:
        target(label, None, "no measurement")
    label = "minictr-shim RSS per container <= conmon's"
    if "minictr" in memory and "podman" in memory:
        ours, conmon = memory["minictr"], memory["podman"]
        target(label, ours[1] <= conmon[1],
               f"{ours[1]:.0f} kB vs {conmon[1]:.0f} kB, ratio {ours[1] / conmon[1]:.2f} "
               f"(PSS {ours[2]:.0f} kB vs {conmon[2]:.0f} kB, ratio {ours[2] / conmon[2]:.2f})")
    else:
        target(label, None, "podman skipped" if a.skip_podman else ("--shims 0" if a.shims <= 0 else "no measurement"))
    print()

if __name__ == "__main__":
    sys.exit(main())
