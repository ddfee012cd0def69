"""Watching containers as docker users do: top (ps cut to the container's
processes) and stats --no-stream (cgroup CPU, memory, pids; table and JSON)."""
import json

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def running(mc):
    made = []

    def make(name: str, *command: str) -> str:
        mc.run_detached("--name", name, "--network", "none", "busybox", *command)
        made.append(name)
        return name
    yield make
    if made:
        mc("rm", "-f", *made, timeout=60)


def test_top_lists_the_containers_processes(mc, running):
    c = running("topbox", "sh", "-c", "sleep 600 & sleep 601; true")
    lines = mc("top", c, check=True).stdout.splitlines()
    assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    commands = [line.split(None, 7)[7] for line in lines[1:]]
    assert "sleep 600" in commands and "sleep 601" in commands
    assert len(lines) == 4   # sh and its two sleeps, nothing of the host's
    pid = mc.inspect_container(c)["State"]["Pid"]
    assert str(pid) in [line.split()[1] for line in lines[1:]]
    custom = mc("container", "top", c, "-o", "pid,comm", check=True).stdout.splitlines()
    assert custom[0].split() == ["PID", "COMMAND"] and len(custom) == 4


def test_top_refuses_a_stopped_container(mc):
    mc("create", "--name", "topstopped", "--network", "none", "busybox", "true", check=True)
    res = mc("top", "topstopped")
    assert res.returncode != 0 and "is not running" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    mc("rm", "topstopped", check=True)


def _mem_bytes(text: str) -> float:
    units = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3, "TiB": 1024 ** 4}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * units[unit]
    raise AssertionError(text)


def test_stats_no_stream_shows_pids_and_memory(mc, running):
    c = running("statbox", "sh", "-c", "sleep 600 & sleep 601; true")
    idle = running("statidle", "sleep", "600")
    table = mc("stats", "--no-stream", check=True, timeout=60).stdout.splitlines()
    assert table[0].split("   ")[:2] == ["CONTAINER ID", "NAME"]
    for title in ("CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"):
        assert title in table[0]
    names = {line.split()[1] for line in table[1:]}
    assert {c, idle} <= names
    rows = [json.loads(line) for line in
            mc("stats", "--no-stream", "--format", "json", c, check=True, timeout=60).stdout.splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["Name"] == c and row["ID"] == mc.inspect_container(c)["Id"][:12]
    assert row["PIDs"] == "3"
    usage, limit = row["MemUsage"].split(" / ")
    assert 0 < _mem_bytes(usage) < _mem_bytes(limit)
    assert row["CPUPerc"].endswith("%") and row["NetIO"] == "0B / 0B"
    custom = mc("stats", "--no-stream", "--format", "{{.Name}}: {{.PIDs}}", c, check=True, timeout=60)
    assert custom.stdout == f"{c}: 3\n"


def test_stats_sees_a_busy_container_use_cpu(mc, running):
    c = running("statbusy", "sh", "-c", "while :; do :; done")
    row = json.loads(mc("stats", "--no-stream", "--format", "json", c, check=True, timeout=60).stdout)
    assert float(row["CPUPerc"].rstrip("%")) > 5.0, row


def test_stats_of_a_stopped_container_and_of_none(mc):
    mc("create", "--name", "statstopped", "--network", "none", "busybox", "true", check=True)
    row = json.loads(mc("stats", "--no-stream", "--format", "json", "statstopped", check=True).stdout)
    assert row["PIDs"] == "0" and row["CPUPerc"] == "0.00%"
    res = mc("stats", "--no-stream", "no-such-box")
    assert res.returncode != 0 and "No such container: no-such-box" in res.stderr
    mc("rm", "statstopped", check=True)


def test_stats_engine_function_without_the_cli(mc, running):
    from minictr.engine.containers import Engine
    from minictr.engine.stats import sample
    c = running("statapi", "sleep", "600")
    engine = Engine(str(mc.root))
    try:
        (usage,) = sample(engine, [engine.lookup(c)], interval=0.2)
    finally:
        engine.close()
    assert usage.running and usage.pids == 1 and usage.mem_usage > 0 and usage.mem_limit > usage.mem_usage


def test_stats_streams_a_redrawn_table_with_cpu_from_samples(mc):
    """Without --no-stream: the table is redrawn (docker's clear-screen
    sequence) until interrupted; CPU % comes from the change between two
    samples, so a spinning shell shows most of a CPU, a sleeping one none."""
    import signal
    import subprocess
    import time
    mc.run_detached("--name", "spinner", "--network", "none", "--memory", "64m", "busybox", "sh", "-c",
                    "while :; do :; done")
    mc.run_detached("--name", "sleeper", "--network", "none", "busybox", "sleep", "600")
    try:
        proc = mc.popen("stats", "spinner", "sleeper", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(3.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        frames = [f for f in out.decode().split("\x1b[2J\x1b[H") if f.strip()]
        assert len(frames) >= 3, out
        last = {line.split()[1]: line.split() for line in frames[-1].splitlines()[1:]}
        assert set(last) == {"spinner", "sleeper"}
        assert float(last["spinner"][2].rstrip("%")) > 40
        assert float(last["sleeper"][2].rstrip("%")) < 5
        assert last["spinner"][5] == "64MiB"          # MEM USAGE / LIMIT: the --memory limit
    finally:
        mc("rm", "-f", "spinner", "sleeper", timeout=60)
