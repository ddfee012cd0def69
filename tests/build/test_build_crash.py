"""A build killed with SIGKILL at seeded moments (in a RUN step's
container, while a COPY layer is written, between steps): the next build
of the same Dockerfile succeeds, and afterwards nothing of the killed one
is left: no container, no mount under the root, no scratch dir, no
intermediate image, no build lease."""
import random
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.root

DOCKERFILE = """\
FROM busybox
RUN sleep 0.2; echo one > /one
COPY files /files
RUN sleep 0.2; echo two > /two
RUN sleep 0.2; echo three > /three
CMD ["cat", "/one", "/two", "/three"]
"""


def _state(mc) -> dict:
    root = str(mc.root)
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if line.split()[4].startswith(root)]
    tmp = mc.root / "tmp"
    return {
        "containers": mc("ps", "-aq").stdout.split(),
        "mounts": mounts,
        "scratch": sorted(p.name for p in tmp.iterdir()) if tmp.exists() else [],
        "untagged": [line for line in mc("images").stdout.splitlines()[1:] if "<none>" in line],
    }


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_killed_build_leaves_nothing_the_next_build_does_not_clear(mc, context, seed):
    files = {f"files/f{i:03d}": f"{i}\n" * 200 for i in range(200)}
    ctx = context(DOCKERFILE, files)
    delay = random.Random(seed).uniform(0.05, 1.2)
    proc = subprocess.Popen([str(mc.venv_minictr), "build", "--no-cache", "--network", "none", "-t",
                             f"crash:{seed}", str(ctx)], env=mc.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    res = mc("build", "--network", "none", "-t", f"crash:{seed}", str(ctx), timeout=300)
    assert res.returncode == 0, f"the rebuild after a kill at {delay:.2f} s failed:\n{res.stderr}"
    out = mc("run", "--rm", "--network", "none", f"crash:{seed}", check=True, timeout=60).stdout
    assert out == "one\ntwo\nthree\n"
    left = _state(mc)
    assert left == {"containers": [], "mounts": [], "scratch": [], "untagged": []}, \
        f"killed at {delay:.2f} s: {left}"
