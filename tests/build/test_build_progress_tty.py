"""`minictr build` on a terminal: BuildKit's tty display (a `[+] Building`
header redrawn in place, one ` => ` line per step with its time, CACHED,
a running step's last output under it, ERROR and the failed step's log,
FINISHED), driven under a real pty; plain output when stderr is not one;
--progress and BUILDKIT_PROGRESS as docker takes them."""
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.engine_cli import VENV_BIN  # noqa: E402

pytestmark = pytest.mark.root

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
UP = re.compile(r"\x1b\[(\d+)A")


def on_a_terminal(mc, *args, env=None, timeout=300):
    """(exit code, what the terminal got on stderr, stdout) of `minictr ARGS`
    with stderr on a 120x40 pty."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([str(VENV_BIN / "minictr"), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=slave, env={**mc.env, **(env or {})})
    os.close(slave)
    got = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:   # EIO: the last writer of the pty is gone
                    break
                if not chunk:
                    break
                got += chunk
            elif proc.poll() is not None:
                break
        out = proc.communicate(timeout=max(1, deadline - time.monotonic()))[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, got.decode(errors="replace").replace("\r\n", "\n"), out


def frames(screen: str) -> list[str]:
    """The frames the display drew, ANSI moves taken out: each starts at a header."""
    parts = re.split(r"(?=\[\+\] Building )", ANSI.sub("", screen))
    return [p for p in parts if p.startswith("[+] Building")]


def build(mc, ctx, *flags, env=None):
    return on_a_terminal(mc, "build", "--pull", "never", "--network", "none", *flags, str(ctx), env=env)


def test_a_build_on_a_terminal_draws_buildkits_display(mc, context):
    ctx = context('FROM busybox\nCOPY msg /msg\nRUN for i in 1 2 3 4 5; do echo "line $i"; sleep 0.2; done\n'
                  'CMD ["cat", "/msg"]\n', {"msg": "hi\n"})
    code, screen, _ = build(mc, ctx, "-t", "tty:1")
    assert code == 0, screen
    drawn = frames(screen)
    assert len(drawn) >= 3, "redrawn while the RUN step runs"
    assert UP.search(screen), "the cursor goes back up over the last frame"
    last = drawn[-1]
    assert re.match(r"\[\+\] Building \d+\.\ds \(5/5\) FINISHED", last)
    steps = [line for line in last.splitlines() if line.startswith(" => ")]
    assert [re.sub(r"\s+\d+\.\ds$", "", s).rstrip() for s in steps] == [
        " => [1/4] FROM busybox",
        " => [2/4] COPY msg /msg",
        ' => [3/4] RUN for i in 1 2 3 4 5; do echo "line $i"; sleep 0.2; done',
        ' => [4/4] CMD ["cat", "/msg"]',
        " => exporting to image",
        " => => writing image " + re.search(r"writing image (sha256:[0-9a-f]{64})", last).group(1),
        " => => naming to docker.io/library/tty:1",
    ]
    assert all(re.search(r" \d+\.\ds$", s) for s in steps), "each line ends in its time"
    running = [f for f in drawn if "FINISHED" not in f and " => => # line " in f]
    assert running, "a running RUN step shows its last output lines under it"
    assert all(f.count(" => => # ") <= 6 for f in running)
    assert "\n#" not in screen, "no plain lines"

    code, screen, _ = build(mc, ctx, "-t", "tty:1")
    assert code == 0, screen
    last = frames(screen)[-1]
    for step in ("COPY msg /msg", "RUN for i in", 'CMD ["cat", "/msg"]'):
        assert re.search(rf"^ => CACHED \[\d/4\] {re.escape(step)}", last, re.M), last


def test_a_failing_step_on_a_terminal_shows_error_and_its_log(mc, context):
    ctx = context("FROM busybox\nRUN echo about to fail && echo to stderr >&2 && exit 3\n")
    code, screen, _ = build(mc, ctx)
    assert code != 0
    plain = ANSI.sub("", screen)
    assert re.search(r"^ => ERROR \[2/2\] RUN echo about to fail .* \d+\.\ds$", frames(screen)[-1], re.M)
    log = plain.split("------\n")
    assert " > [2/2] RUN echo about to fail && echo to stderr >&2 && exit 3:\n" in log[1]
    assert re.search(r"^\d\.\d{3} about to fail$", log[1], re.M) and re.search(r"^\d\.\d{3} to stderr$", log[1], re.M)
    assert "exit code: 3" in log[-1], "the error itself comes last"


def test_progress_is_plain_off_a_terminal_and_as_asked(mc, context):
    ctx = context("FROM busybox\nRUN echo plain\n")
    res = mc("build", "--pull", "never", "--network", "none", "--no-cache", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    assert "#2 [2/2] RUN echo plain\n" in res.stderr and "\x1b[" not in res.stderr and "[+]" not in res.stderr

    code, screen, _ = build(mc, ctx, "--progress", "plain")
    assert code == 0 and "#2 [2/2] RUN echo plain\n" in screen and "[+] Building" not in screen
    code, screen, _ = build(mc, ctx, env={"BUILDKIT_PROGRESS": "plain"})
    assert code == 0 and "#2 [2/2] RUN echo plain\n" in screen and "[+] Building" not in screen
    code, screen, _ = build(mc, ctx, "--progress", "tty", env={"BUILDKIT_PROGRESS": "plain"})
    assert code == 0 and "[+] Building" in screen, "the flag wins over the environment"
    code, screen, out = build(mc, ctx, env={"BUILDKIT_PROGRESS": "quiet"})
    assert code == 0 and screen == "" and out.startswith("sha256:")

    res = mc("build", "--pull", "never", "--progress", "tty", str(ctx), timeout=300)
    assert res.returncode != 0 and "failed to get console" in res.stderr
    res = subprocess.run([str(VENV_BIN / "minictr"), "build", "--pull", "never", str(ctx)], capture_output=True,
                         text=True, env={**mc.env, "BUILDKIT_PROGRESS": "fancy"}, timeout=300)
    assert res.returncode != 0 and "invalid progress mode" in res.stderr
