"""Container lifecycle as docker users know it: exit codes, ps states,
stop timing, logs, restart policies, --rm, wait, bad input."""
import json
import subprocess
import time

import pytest

pytestmark = pytest.mark.root


def request_cleanup_of(mc, name: str) -> None:
    """Remove the container even when the test fails midway, so the next
    tests of the module start from an empty `ps -a`."""
    mc.leftovers.append(name)


def test_run_prints_output_and_returns_the_exit_code(mc):
    res = mc("run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert res.returncode == 3
    assert res.stdout == "out\n"
    assert res.stderr == "err\n"
    assert mc("ps", "-aq").stdout == ""


def test_exited_container_shows_in_ps_and_inspect(mc):
    res = mc("run", "--name", "exits", "--network", "none", "busybox", "sh", "-c", "exit 7")
    assert res.returncode == 7
    line = [l for l in mc("ps", "-a").stdout.splitlines() if l.endswith(" exits")][0]
    assert "Exited (7)" in line
    state = mc.inspect_container("exits")["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 7 and not state["Running"]
    assert state["FinishedAt"] > state["StartedAt"]
    mc("rm", "exits", check=True)
    assert mc("ps", "-aq").stdout == ""


def test_stop_returns_quickly_for_a_process_that_exits_on_sigterm(mc):
    mc.run_detached("--name", "polite", "--network", "none", "busybox", "sh", "-c",
                    "trap 'exit 0' TERM; while true; do sleep 0.1; done")
    start = time.monotonic()
    mc("stop", "polite", check=True)
    assert time.monotonic() - start < 1.5
    assert mc.inspect_container("polite")["State"]["ExitCode"] == 0
    mc("rm", "polite", check=True)


def test_stop_kills_after_the_timeout_a_process_that_ignores_sigterm(mc):
    mc.run_detached("--name", "stubborn", "--network", "none", "busybox", "sh", "-c",
                    "trap '' TERM; while true; do sleep 0.1; done")
    start = time.monotonic()
    mc("stop", "-t", "2", "stubborn", check=True)
    took = time.monotonic() - start
    assert 1.8 < took < 6, took
    state = mc.inspect_container("stubborn")["State"]
    assert state["ExitCode"] == 137 and state["Status"] == "exited"
    mc("rm", "stubborn", check=True)


def test_logs_keep_both_streams_and_tail(mc):
    mc("run", "--name", "talker", "--network", "none", "busybox", "sh", "-c",
       "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2", check=True)
    res = mc("logs", "talker", check=True)
    assert res.stdout == "line1\nline2\nline3\nline4\nline5\n"
    assert res.stderr == "oops\n"
    assert mc("logs", "--tail", "2", "talker").stdout == "line5\n"  # the last 2 lines: line5 and oops (stderr)
    stamped = mc("logs", "-t", "talker").stdout.splitlines()[0]
    assert stamped.endswith(" line1") and stamped[:4].isdigit() and "T" in stamped.split()[0]
    mc("rm", "talker", check=True)


def test_logs_follow_streams_until_the_container_exits(mc):
    mc.run_detached("--name", "ticker", "--network", "none", "busybox", "sh", "-c",
                    "for i in 1 2 3; do echo tick$i; sleep 0.3; done")
    res = mc("logs", "-f", "ticker", timeout=20)
    assert res.stdout == "tick1\ntick2\ntick3\n"
    mc("rm", "ticker", check=True)


def test_wait_prints_the_exit_code(mc):
    mc.run_detached("--name", "waited", "--network", "none", "busybox", "sh", "-c", "sleep 0.5; exit 4")
    res = mc("wait", "waited", check=True, timeout=20)
    assert res.stdout.strip() == "4"
    mc("rm", "waited", check=True)


def test_on_failure_restarts_n_times_then_stops(mc):
    mc.run_detached("--name", "flaky", "--network", "none", "--restart", "on-failure:3", "busybox",
                    "sh", "-c", "echo run; exit 1")
    request_cleanup_of(mc, "flaky")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = mc.inspect_container("flaky")
        if state["State"]["Status"] == "exited" and state["RestartCount"] == 3:
            break
        time.sleep(0.01)   # looking often: a look must never keep a restart from happening
    time.sleep(1.0)   # no fourth restart comes
    info = mc.inspect_container("flaky")
    assert info["RestartCount"] == 3 and info["State"]["Status"] == "exited", info["State"]
    assert info["State"]["ExitCode"] == 1
    assert mc("logs", "flaky").stdout == "run\n" * 4
    mc("rm", "flaky", check=True)


def test_restart_always_keeps_going_with_only_the_shim_left(mc):
    mc.run_detached("--name", "phoenix", "--network", "none", "--restart", "always", "busybox",
                    "sh", "-c", "sleep 0.3; exit 0")
    request_cleanup_of(mc, "phoenix")
    first = mc.inspect_container("phoenix")["RestartCount"]
    time.sleep(3)
    later = mc.inspect_container("phoenix")["RestartCount"]
    assert later >= first + 2, (first, later)
    mc("stop", "phoenix", check=True, timeout=30)
    stopped = mc.inspect_container("phoenix")["RestartCount"]
    time.sleep(1)
    assert mc.inspect_container("phoenix")["RestartCount"] == stopped
    assert mc.inspect_container("phoenix")["State"]["Status"] == "exited"
    mc("rm", "phoenix", check=True)


def test_rm_refuses_a_running_container_unless_forced(mc):
    mc.run_detached("--name", "busy", "--network", "none", "busybox", "sleep", "60")
    res = mc("rm", "busy")
    assert res.returncode != 0 and "stop the container before removing or force remove" in res.stderr
    mc("rm", "-f", "busy", check=True)
    assert mc("ps", "-aq").stdout == ""


@pytest.mark.parametrize("args,message", [
    (["run", "--network", "none", "no-such-image:1"], "No such image"),
    (["run", "--memory", "banana", "busybox", "true"], 'invalid argument "banana" for "-m, --memory" flag'),
    (["run", "--restart", "sometimes", "busybox", "true"], "invalid restart policy"),
    (["run", "-p", "99999:80", "busybox", "true"], "invalid hostPort"),
    (["run", "--rm", "--network", "none", "busybox", "/no/such/program"], "no such file or directory"),
    (["run", "--rm", "--network", "none", "busybox", "nosuchcmd"], "executable file not found in $PATH"),
    (["run", "--rm", "--network", "none", "busybox", "/etc/passwd"], "Permission denied"),
    (["run", "--rm", "--network", "none", "busybox", "/bin"], "Is a directory"),
])
def test_bad_input_one_clear_message_and_nothing_left(mc, args, message):
    before = mc("ps", "-aq").stdout
    res = mc(*args[:1], "--pull", "never", *args[1:]) if args[0] == "run" else mc(*args)
    assert res.returncode != 0
    assert message in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert mc("ps", "-aq").stdout == before    # --rm: a container that could not start goes too


@pytest.mark.parametrize("program,code", [("/no/such/program", 127), ("nosuchcmd", 127), ("/etc/passwd", 126),
                                          ("/bin", 126)])
def test_a_program_that_cannot_run_exits_as_docker_says(mc, program, code):
    """docker's run: 127 when the program is not there, 126 when it cannot
    be executed; the container keeps that code and the reason."""
    request_cleanup_of(mc, "cannot")
    res = mc("run", "--name", "cannot", "--network", "none", "busybox", program)
    assert res.returncode == code, res.stderr
    state = mc.inspect_container("cannot")["State"]
    assert state["ExitCode"] == code and program in state["Error"]
    mc("rm", "cannot", check=True)


def test_name_conflict(mc):
    mc("create", "--name", "twin", "--network", "none", "busybox", "true", check=True)
    res = mc("create", "--name", "twin", "--network", "none", "busybox", "true")
    assert res.returncode != 0 and 'The container name "/twin" is already in use' in res.stderr
    assert len(mc("ps", "-aq").stdout.split()) == 1
    mc("rm", "twin", check=True)


def test_exec_into_stopped_container_is_refused(mc):
    mc("run", "--name", "gone", "--network", "none", "busybox", "true", check=True)
    res = mc("exec", "gone", "hostname")
    assert res.returncode != 0 and "is not running" in res.stderr
    mc("rm", "gone", check=True)


def test_init_runs_tini_as_pid_one(mc):
    res = mc("run", "--rm", "--init", "--network", "none", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '",
             check=True)
    assert res.stdout.startswith("/sbin/docker-init -- sh -c")
    mc.run_detached("--name", "reaped", "--init", "--network", "none", "busybox", "sleep", "60")
    start = time.monotonic()
    mc("stop", "reaped", check=True)   # tini passes SIGTERM on: sleep dies at once
    assert time.monotonic() - start < 2
    assert mc.inspect_container("reaped")["State"]["ExitCode"] == 143
    mc("rm", "reaped", check=True)


def test_runtime_flag_runs_the_same_bundle_under_runc(mc):
    import shutil
    runc = shutil.which("runc")
    if not runc:
        pytest.skip("runc not installed (apt install runc)")
    res = mc("run", "--rm", "--runtime", runc, "--network", "none", "busybox", "sh", "-c", "echo via-runc; exit 6")
    assert res.returncode == 6 and res.stdout == "via-runc\n", res.stderr
    mc.run_detached("--name", "underrunc", "--runtime", runc, "busybox", "sh", "-c",
                    "trap 'exit 0' TERM; while true; do sleep 0.1; done")
    info = mc.inspect_container("underrunc")
    assert info["State"]["Running"] and info["HostConfig"]["Runtime"] == runc
    assert info["NetworkSettings"]["IPAddress"]
    state = subprocess.run([runc, "--root", str(mc.root / "run" / "runtime-runc"), "state", info["Id"]],
                           capture_output=True, text=True)
    assert json.loads(state.stdout)["status"] == "running"
    assert mc("exec", "underrunc", "hostname", check=True).stdout.strip() == info["Id"][:12]
    mc("stop", "underrunc", check=True)
    assert mc.inspect_container("underrunc")["State"]["ExitCode"] == 0
    mc("rm", "underrunc", check=True)


def test_no_cgroup_parent_is_left_when_the_last_container_goes(mc):
    import glob
    import os

    def ours():
        return [d for d in glob.glob("/sys/fs/cgroup/*/minictr") + glob.glob("/sys/fs/cgroup/minictr")
                if os.path.isdir(d)]
    if any(os.path.isdir(os.path.join(d, e)) for d in ours() for e in os.listdir(d)):
        pytest.skip("other minictr containers run on this host: their cgroups keep /minictr")
    mc.run_detached("--name", "first", "--network", "none", "busybox", "sleep", "60")
    mc("run", "--rm", "--network", "none", "busybox", "true", check=True)   # goes while first still runs
    assert ours()
    mc("rm", "-f", "first", check=True)
    assert ours() == []


def _read_lines_then_close(mc, n: int, *args: str) -> tuple[list[bytes], int]:
    """`minictr ARGS | head -n N`: the reader goes away while minictr writes."""
    proc = mc.popen(*args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = [proc.stdout.readline() for _ in range(n)]
    proc.stdout.close()
    return lines, proc.wait(timeout=60)


def _nothing_left(mc) -> None:
    deadline = time.monotonic() + 20   # the shim's cleanup runs after the CLI has gone
    while mc("ps", "-aq").stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mc("ps", "-aq").stdout == ""
    with open("/proc/self/mountinfo") as f:
        assert str(mc.root) not in f.read()


def test_a_reader_that_goes_away_ends_run_quietly_and_leaves_nothing(mc):
    script = "i=0; while [ $i -lt 50000 ]; do echo line $i; i=$((i+1)); done"
    lines, code = _read_lines_then_close(mc, 2, "run", "--rm", "--network", "none", "busybox", "sh", "-c", script)
    assert lines == [b"line 0\n", b"line 1\n"]
    assert code == 141   # as a shell reports a death by SIGPIPE; no traceback, no "Error:" line
    _nothing_left(mc)


@pytest.mark.parametrize("lines", [1, 4, 9])
def test_explain_into_a_closed_pipe_still_cleans_up(mc, lines):
    """`minictr --explain run ... | head`: the trace stops, the run (and its
    cleanup) does not."""
    _read_lines_then_close(mc, lines, "--explain", "run", "--rm", "--network", "none", "busybox", "true")
    _nothing_left(mc)


@pytest.mark.parametrize("runtime", ["", "runc"])
def test_an_oom_kill_shows_in_inspect(mc, runtime):
    """A process over its --memory (no swap beyond it) is killed by the
    kernel: exit 137 and State.OOMKilled, as docker reports it; a container
    that stays under its limit is not marked."""
    import shutil
    flags = []
    if runtime:
        if not shutil.which(runtime):
            pytest.skip(f"{runtime} not installed (apt install {runtime})")
        flags = ["--runtime", shutil.which(runtime)]
    request_cleanup_of(mc, "hungry")
    request_cleanup_of(mc, "modest")
    limit = ["--network", "none", "--memory", "16m", "--memory-swap", "16m"]
    res = mc("run", "--name", "hungry", *flags, *limit, "busybox", "sh", "-c",
             'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived', timeout=120)
    assert res.returncode == 137 and "survived" not in res.stdout
    state = mc.inspect_container("hungry")["State"]
    assert state["OOMKilled"] is True and state["ExitCode"] == 137
    mc("run", "--name", "modest", *flags, *limit, "busybox", "sh", "-c", "x=$(head -c 1000 /dev/zero)", check=True)
    assert mc.inspect_container("modest")["State"]["OOMKilled"] is False
    mc("rm", "hungry", "modest", check=True)


def test_every_foreground_run_gets_all_its_output(mc):
    """Foreground runs side by side, each coming and going: every one prints
    its line and exits 0. Two races it caught: the shim handing out a first
    output before taking in the attach that came in the same wakeup, and a
    container's cpuset copied from a /minictr parent another start had just
    re-made and not yet filled (ENOSPC when the process joined it)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> tuple[int, str, str]:
        res = mc("run", "--rm", "--network", "none", "busybox", "echo", f"line-{i}", timeout=60)
        return res.returncode, res.stdout, res.stderr
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(one, range(90)))
    lost = [i for i, (code, out, _err) in enumerate(results) if (code, out) != (0, f"line-{i}\n")]
    assert not lost, f"{len(lost)} of 90 runs lost their output: {[results[i] for i in lost[:5]]}"
    assert mc("ps", "-aq").stdout == ""
