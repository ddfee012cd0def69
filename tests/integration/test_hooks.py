"""OCI hooks (config.md "POSIX-platform Hooks"), all six kinds: when each
runs, in which namespace, and the state each gets on stdin. runc runs the
same bundle and must agree on everything observed but two statuses, where
we follow the runtime-tools suite (validation/hooks_stdin: prestart sees
"created", poststart "running") and runc 1.1 does not. Failures follow the
spec."""
import json
import os
import shutil
import time

import pytest

from support.bundles import make_bundle, runc_default_spec
from support.runtimes import cli, leftovers

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (apt install runc)")]

ANNOTATIONS = {"org.opencontainers.runtime-tools": "hook stdin test"}
RUNTIME_KINDS = ("prestart", "createRuntime", "createContainer", "poststart", "poststop")

# A host-side hook: one line per call with its kind, its mount namespace and
# the state it read on stdin.
HOOK = """#!/bin/sh
state=$(cat)
echo "$1|$(readlink /proc/self/ns/mnt)|$state" >> {log}
"""


def _bundle(tmp_path, busybox_rootfs, hooks: dict, args):
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["hooks"] = hooks
    spec["root"]["readonly"] = False  # the startContainer hook writes in /tmp
    spec["annotations"] = ANNOTATIONS
    return make_bundle(tmp_path / "bundle", spec, rootfs_src=busybox_rootfs)


def _observe(which: str, tmp_path, busybox_rootfs) -> dict:
    """create, start, stop and delete one container with every hook kind;
    return what the hooks and the process saw."""
    work = tmp_path / which
    work.mkdir()
    log = work / "hooks.log"
    script = work / "hook.sh"
    script.write_text(HOOK.format(log=log))
    script.chmod(0o755)
    hooks = {kind: [{"path": str(script), "args": ["hook.sh", kind]}] for kind in RUNTIME_KINDS}
    # startContainer's path resolves inside the container
    hooks["startContainer"] = [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/start-hook.json"]}]
    bundle = _bundle(work, busybox_rootfs, hooks,
                     ["sh", "-c", "cp /tmp/start-hook.json /tmp/seen-by-process.json; exec sleep 30"])
    state, cid = work / "state", f"hooks-{which}"
    try:
        cli(which, state, "create", "--bundle", str(bundle), cid, check=True)
        init_pid = json.loads(cli(which, state, "state", cid, check=True).stdout)["pid"]
        init_mnt = os.readlink(f"/proc/{init_pid}/ns/mnt")
        after_create = [line.split("|", 1)[0] for line in log.read_text().splitlines()]
        cli(which, state, "start", cid, check=True)
        seen = bundle / "rootfs" / "tmp" / "seen-by-process.json"
        deadline = time.monotonic() + 20
        while not seen.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        start_state = json.loads(seen.read_text())
        cli(which, state, "kill", cid, "KILL", check=True)
    finally:
        cli(which, state, "delete", "--force", cid)
    calls = []
    for line in log.read_text().splitlines():
        kind, mnt, payload = line.split("|", 2)
        calls.append((kind, mnt, json.loads(payload)))
    return {"calls": calls, "after_create": after_create, "init_pid": init_pid, "init_mnt": init_mnt,
            "host_mnt": os.readlink("/proc/self/ns/mnt"), "start_state": start_state, "bundle": str(bundle),
            "cid": cid}


def _summary(o: dict) -> list:
    """What must agree between runtimes, with pids and ids made relative."""
    rows = []
    for kind, mnt, st in o["calls"]:
        where = "host" if mnt == o["host_mnt"] else "container" if mnt == o["init_mnt"] else "other"
        rows.append((kind, where, st.get("status"), st.get("id") == o["cid"], st.get("bundle") == o["bundle"],
                     "ociVersion" in st and st.get("annotations") == ANNOTATIONS))
    s = o["start_state"]
    rows.append(("startContainer", "container", s.get("status"), s.get("id") == o["cid"],
                 s.get("bundle") == o["bundle"], "ociVersion" in s and s.get("annotations") == ANNOTATIONS))
    return rows


def test_every_hook_kind_like_runc(tmp_path, busybox_rootfs):
    ours = _observe("minictr", tmp_path, busybox_rootfs)
    theirs = _observe("runc", tmp_path, busybox_rootfs)
    print("minictr:", *_summary(ours), sep="\n  ")
    print("runc:", *_summary(theirs), sep="\n  ")
    # order: the three creation hooks during create, then poststart, poststop
    assert [c[0] for c in ours["calls"]] == list(RUNTIME_KINDS)
    assert ours["after_create"] == ["prestart", "createRuntime", "createContainer"]
    rows = {r[0]: r for r in _summary(ours)}
    assert rows["prestart"][1] == rows["createRuntime"][1] == rows["poststart"][1] == "host"
    assert rows["createContainer"][1] == "container"
    assert all(r[3] and r[4] and r[5] for r in rows.values()), rows
    # the runtime-namespace hooks see the init's host pid
    for kind, _mnt, st in ours["calls"][:4]:
        assert st["pid"] == ours["init_pid"], (kind, st)
    statuses = {r[0]: r[2] for r in _summary(ours)}
    assert statuses == {"prestart": "created", "createRuntime": "creating", "createContainer": "creating",
                        "startContainer": "created", "poststart": "running", "poststop": "stopped"}
    without_status = [r[:2] + r[3:] for r in _summary(ours)]
    assert without_status == [r[:2] + r[3:] for r in _summary(theirs)]
    agreed = {k: v for k, v in statuses.items() if k not in ("prestart", "poststart")}
    assert agreed == {r[0]: r[2] for r in _summary(theirs) if r[0] in agreed}


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_failing_creation_hook_fails_create_and_leaves_nothing(kind, tmp_path, busybox_rootfs):
    hooks = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", "echo refusing >&2; exit 3"]}]}
    bundle = _bundle(tmp_path, busybox_rootfs, hooks, ["true"])
    state, cid = tmp_path / "state", f"failhook-{kind.lower()}"
    res = cli("minictr", state, "create", "--bundle", str(bundle), cid)
    assert res.returncode != 0
    assert f"hooks.{kind}[0]" in res.stderr and "status 3" in res.stderr, res.stderr
    assert cli("minictr", state, "state", cid).returncode != 0
    assert not (state / cid).exists()
    assert not leftovers(cid)


def test_failing_poststart_and_poststop_only_warn(tmp_path, busybox_rootfs):
    """The spec: a failing poststart or poststop hook is a warning; the
    lifecycle goes on as if it had succeeded."""
    fail = [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}]
    bundle = _bundle(tmp_path, busybox_rootfs, {"poststart": fail, "poststop": fail}, ["sleep", "30"])
    state, cid = tmp_path / "state", "warnhooks"
    cli("minictr", state, "create", "--bundle", str(bundle), cid, check=True)
    res = cli("minictr", state, "start", cid)
    assert res.returncode == 0 and "hooks.poststart[0]" in res.stderr, res.stderr
    assert json.loads(cli("minictr", state, "state", cid).stdout)["status"] == "running"
    res = cli("minictr", state, "delete", "--force", cid)
    assert res.returncode == 0 and "hooks.poststop[0]" in res.stderr, res.stderr
    assert not (state / cid).exists()
    assert not leftovers(cid)


def test_hook_timeout(tmp_path, busybox_rootfs):
    hooks = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}
    bundle = _bundle(tmp_path, busybox_rootfs, hooks, ["true"])
    started = time.monotonic()
    res = cli("minictr", tmp_path / "state", "create", "--bundle", str(bundle), "slowhook")
    assert res.returncode != 0 and "timed out" in res.stderr, res.stderr
    assert time.monotonic() - started < 15
    assert not leftovers("slowhook")
