"""A docker course's classic session, step by step, as a user types it
(acceptance 1): run/ps -a/exec on a stopped container/rm, then a detached
interactive container: ps, exec, exec -it through a real pty, attach and
detach with ctrl-p ctrl-q, diff, stop/start, inspect, rm -f."""
import json
import time

import pexpect
import pytest

pytestmark = pytest.mark.root


def _spawn(mc, *args, timeout=20):
    return pexpect.spawn(str(mc.venv_minictr), list(args), env=mc.env, timeout=timeout, encoding="utf-8")


def test_classic_session(mc):
    res = mc("run", "--name", "hello-world", "busybox", "/bin/sh", timeout=60)
    assert res.returncode == 0, res.stderr
    line = [l for l in mc("ps", "-a").stdout.splitlines() if l.rstrip().endswith("hello-world")]
    assert line and "Exited (0)" in line[0], mc("ps", "-a").stdout

    res = mc("exec", "hello-world", "hostname")
    assert res.returncode != 0
    assert "is not running" in res.stderr and res.stderr.count("\n") == 1
    mc("rm", "hello-world", check=True)
    assert "hello-world" not in mc("ps", "-a").stdout

    cid = mc("run", "-dit", "--name", "myapp", "busybox", "/bin/sh", check=True, timeout=60).stdout.strip()
    assert len(cid) == 64
    up = [l for l in mc("ps").stdout.splitlines() if l.rstrip().endswith("myapp")]
    assert up and " Up " in up[0]
    assert mc("exec", "myapp", "hostname", check=True).stdout.strip() == cid[:12]

    shell = _spawn(mc, "exec", "-it", "myapp", "sh")
    shell.expect(r"[#$] ")
    shell.sendline("echo inside-$((6*7)); tty")
    shell.expect("inside-42")
    shell.expect("/dev/pts/")
    shell.sendline("exit 5")
    shell.expect(pexpect.EOF)
    shell.close()
    assert shell.exitstatus == 5

    attached = _spawn(mc, "attach", "myapp")
    time.sleep(0.3)
    attached.sendline("echo via-attach-$((40+2))")
    attached.expect("via-attach-42")
    attached.send("\x10\x11")          # ctrl-p ctrl-q
    attached.expect(pexpect.EOF)
    attached.close()
    assert mc.inspect_container("myapp")["State"]["Running"] is True

    mc("exec", "myapp", "sh", "-c", "echo hello > /tmp/hello.txt", check=True)
    assert mc("diff", "myapp", check=True).stdout.splitlines() == ["C /tmp", "A /tmp/hello.txt"]

    mc("stop", "-t", "1", "myapp", check=True, timeout=30)
    assert mc.inspect_container("myapp")["State"]["Status"] == "exited"
    mc("start", "myapp", check=True, timeout=30)
    state = mc.inspect_container("myapp")["State"]
    assert state["Status"] == "running" and state["Running"] and state["Pid"] > 0
    assert state["StartedAt"].startswith("20") and state["StartedAt"].endswith("Z")
    with open(f"/proc/{state['Pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"/bin/sh"
    mc("rm", "-f", "myapp", check=True, timeout=30)
    assert mc("ps", "-aq").stdout == ""
