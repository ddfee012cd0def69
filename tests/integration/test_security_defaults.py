"""Acceptance: with runc's default spec, the usual escapes are refused from
inside: mount, loading a kernel module, writing /proc/sysrq-trigger, seeing
host processes. Each attempt is one that a real attacker would try first."""
import os

import pytest

from support.bundles import make_bundle, runc_default_spec
from support.runtimes import run_bundle

pytestmark = pytest.mark.root

# `h` is sysrq's harmless "help" command, so even a broken runtime that let
# the write through would only print help text to the kernel log.
ATTEMPTS = r"""#!/bin/sh
mkdir -p /tmp/m 2>/dev/null
mount -t tmpfs none /tmp/m 2>/dev/null && echo "mount: ALLOWED" || echo "mount: refused"
insmod /probe.ko 2>/dev/null && echo "insmod: ALLOWED" || echo "insmod: refused"
(echo h > /proc/sysrq-trigger) 2>/dev/null && echo "sysrq: ALLOWED" || echo "sysrq: refused"
(echo 1 > /proc/sys/kernel/sysrq) 2>/dev/null && echo "proc-sys: ALLOWED" || echo "proc-sys: refused"
(head -c 1 /proc/kcore | wc -c | grep -q 1) 2>/dev/null && echo "kcore: READABLE" || echo "kcore: masked"
echo "processes: $(ls /proc | grep -cE '^[0-9]+$')"
[ -d /proc/HOSTPID ] && echo "hostpid: VISIBLE" || echo "hostpid: hidden"
mknod /tmp/sda b 8 0 2>/dev/null && echo "mknod: ALLOWED" || echo "mknod: refused"
grep NoNewPrivs /proc/self/status
"""


@pytest.fixture
def attempt_bundle(tmp_path, busybox_rootfs):
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/attempts.sh"]
    spec["root"]["readonly"] = False
    root = tmp_path / "rootfs-src"
    import subprocess
    subprocess.run(["cp", "-a", str(busybox_rootfs), str(root)], check=True)
    (root / "attempts.sh").write_text(ATTEMPTS.replace("HOSTPID", str(os.getpid())))
    (root / "attempts.sh").chmod(0o755)
    (root / "probe.ko").write_bytes(b"\x7fELF" + b"\0" * 60)
    return make_bundle(tmp_path / "b", spec, rootfs_src=root)


def test_escapes_refused(attempt_bundle, tmp_path):
    res = run_bundle("minictr", tmp_path / "state", attempt_bundle, "escape")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for line in ("mount: refused", "insmod: refused", "sysrq: refused", "proc-sys: refused",
                 "hostpid: hidden", "mknod: refused", "NoNewPrivs:\t1"):
        assert line in out, out
    assert "kcore: READABLE" not in out
    # the shell, ls and grep: a handful, never the host's hundreds
    count = int(out.split("processes: ")[1].split()[0])
    assert count <= 5, out
