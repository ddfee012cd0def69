"""Acceptance 3: podman (through conmon) and docker (dockerd -> containerd ->
containerd-shim-runc-v2) run containers with minictr-runtime as their OCI
runtime. Both engines are the real ones from apt; only networking is off."""
import glob
import json
import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import runtimes  # noqa: E402
from support.engines import IMAGE  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.engines]

# podman needs --network none here (its default network would add a bridge
# and iptables rules); docker's daemon already runs with --bridge=none.
RUN = {"podman": ["run", "--network", "none"],
       "docker": ["run", "--runtime", "minictr", "--network", "none"]}

TERM_EXITS = "trap 'exit 0' TERM; while :; do sleep 0.1; done"


@pytest.fixture(params=["podman", "docker"])
def engine(request):
    return request.param, request.getfixturevalue(request.param)


def runtime_state_dir(eng, cid: str) -> str | None:
    """minictr-runtime's state dir for this container, under the --root the
    engine passes (podman: our default; docker: its shim's own)."""
    found = glob.glob(os.path.join(eng.runtime_roots, cid, "state.json"))
    return os.path.dirname(found[0]) if found else None


def status(eng, cid: str) -> str:
    return eng("inspect", "-f", "{{.State.Status}}", cid).stdout.strip()


def test_run_rm_echo(engine):
    name, eng = engine
    res = eng(*RUN[name], "--rm", IMAGE, "echo", "hi")
    assert res.stdout == "hi\n"


def test_exit_status_passes_through(engine):
    name, eng = engine
    res = eng(*RUN[name], "--rm", IMAGE, "sh", "-c", "exit 3", check=False)
    assert res.returncode == 3, res.stderr


def test_tty(engine):
    name, eng = engine
    res = eng(*RUN[name], "--rm", "-t", IMAGE, "tty")
    assert res.stdout.strip() == "/dev/pts/0"


def test_detached_exec_pause_stop_rm(engine):
    name, eng = engine
    cid = eng(*RUN[name], "-d", IMAGE, "sh", "-c", TERM_EXITS).stdout.strip()
    assert len(cid) == 64, cid
    try:
        state_dir = runtime_state_dir(eng, cid)
        assert state_dir, f"{name} did not run {cid} with minictr-runtime"
        ours = json.loads(runtimes.cli("minictr", Path(state_dir).parent, "state", cid, check=True).stdout)
        assert ours["status"] == "running"
        assert ours["pid"] == int(eng("inspect", "-f", "{{.State.Pid}}", cid).stdout)
        assert status(eng, cid) == "running"

        assert eng("exec", cid, "hostname").stdout.strip() == cid[:12]
        ps = eng("exec", cid, "ps", "-o", "pid,comm").stdout.split("\n")
        assert ps[1].split() == ["1", "sh"], ps
        assert eng("exec", "-t", cid, "tty").stdout.strip().startswith("/dev/pts/")
        assert eng("exec", cid, "sh", "-c", "exit 4", check=False).returncode == 4

        eng("pause", cid)
        assert status(eng, cid) == "paused"
        eng("unpause", cid)
        assert status(eng, cid) == "running"

        started = time.monotonic()
        eng("stop", "-t", "10", cid)
        assert time.monotonic() - started < 8, "init exits on SIGTERM; stop must not wait for SIGKILL"
        assert status(eng, cid) == "exited"
        assert eng("inspect", "-f", "{{.State.ExitCode}}", cid).stdout.strip() == "0"
    finally:
        eng("rm", "-f", cid, check=False)
    assert runtime_state_dir(eng, cid) is None
    assert runtimes.leftovers(cid) == []


def test_stop_escalates_to_sigkill(engine):
    """`sleep` as pid 1 ignores SIGTERM: the engine sends SIGKILL after -t."""
    name, eng = engine
    cid = eng(*RUN[name], "-d", IMAGE, "sleep", "1000").stdout.strip()
    try:
        started = time.monotonic()
        eng("stop", "-t", "2", cid)
        took = time.monotonic() - started
        assert 1.5 < took < 15, took
        assert eng("inspect", "-f", "{{.State.ExitCode}}", cid).stdout.strip() == "137"
    finally:
        eng("rm", "-f", cid, check=False)
    assert runtimes.leftovers(cid) == []
