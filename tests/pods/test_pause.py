"""The pause program as a pod sandbox's PID 1: in a new pid namespace it
is PID 1, reaps an orphan of that namespace once it exits, and ends with
status 0 on SIGTERM or SIGINT. Static, so an empty rootfs can run it."""
import os
import signal
import struct
import subprocess
import sys
import time

import pytest

from minictr.pods.pause import pause_path
from support.waiting import wait_for

pytestmark = pytest.mark.root


def status(pid: int) -> dict:
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except FileNotFoundError:
        return {}


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


@pytest.fixture
def pause_in_pidns():
    """pause as PID 1 of a new pid namespace (unshare forks it there); its host pid."""
    outer = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", pause_path()],
                             stderr=subprocess.PIPE)
    try:
        pid = wait_for(lambda: (children(outer.pid) or [None])[0], what="pause to start")
        wait_for(lambda: status(pid).get("Name") == "minictr-pause", what="pause to exec")
        yield outer, pid
    finally:
        if outer.poll() is None:
            outer.kill()      # --kill-child: pause goes with it
        outer.wait(timeout=10)
        outer.stderr.close()


def program_interpreter(path: str) -> bytes | None:
    """The ELF's PT_INTERP (the dynamic loader it needs), None for a static binary."""
    with open(path, "rb") as f:
        elf = f.read()
    assert elf[:5] == b"\x7fELF\x02"      # 64-bit
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        kind, _flags, offset, _vaddr, _paddr, size = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if kind == 3:
            return elf[offset:offset + size].rstrip(b"\0")
    return None


def test_pause_is_a_static_binary_that_reports_its_version():
    assert program_interpreter(pause_path()) is None
    assert program_interpreter(sys.executable) is not None    # the check can tell
    assert subprocess.run([pause_path(), "-v"], capture_output=True, text=True, timeout=5).stdout == "minictr-pause 1\n"


def test_pause_is_pid_1_and_reaps_an_orphaned_zombie(pause_in_pidns):
    outer, pid = pause_in_pidns
    assert status(pid)["NSpid"].split()[-1] == "1"
    # a shell in the namespace starts `sleep` in the background and exits:
    # the orphan's new parent is the namespace's init, pause
    subprocess.run(["nsenter", f"--target={pid}", "--pid", "--", "sh", "-c", "sleep 0.5 & exit 0"],
                   check=True, timeout=10)
    orphan = wait_for(lambda: (children(pid) or [None])[0], what="the orphan to be reparented to pause")
    assert status(orphan)["Name"] == "sleep" and int(status(orphan)["PPid"]) == pid
    # once it exits pause reaps it: no zombie stays behind
    wait_for(lambda: not os.path.exists(f"/proc/{orphan}"), what="the orphan to be reaped")
    assert children(pid) == [] and status(pid)["State"].startswith("S")


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_pause_exits_0_on_sigterm_and_sigint(pause_in_pidns, signo):
    outer, pid = pause_in_pidns
    os.kill(pid, signal.SIGCHLD)       # not a stop signal: it stays
    time.sleep(0.1)
    assert status(pid).get("Name") == "minictr-pause"
    os.kill(pid, signo)
    assert outer.wait(timeout=10) == 0     # unshare exits with its child's status
    assert b"shutting down" in outer.stderr.read()
