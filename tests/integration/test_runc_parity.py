"""Acceptance: the same bundle under runc and minictr-runtime looks the same
from inside, byte for byte, and exits the same way."""
import json
import shutil
import subprocess
import threading
import time

import pytest

from support.bundles import make_bundle, runc_default_spec
from support.runtimes import cli, leftovers, run_bundle

pytestmark = [pytest.mark.root, pytest.mark.cgroupv2,
              pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (apt install runc)")]

# Everything a user would check to see what kind of box they are in. The
# masked/read-only checks use test -r/-w and never write to /proc.
PROBE = r"""#!/bin/sh
echo "pid=$$"
echo "hostname=$(hostname)"
id
grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status
echo "--- mounts (point, options, type, source, super options)"
while read -r _id _parent _dev _root point opts rest; do
  set -- $rest
  while [ "$1" != "-" ]; do shift; done
  echo "$point $opts $2 $3 $4"
done < /proc/self/mountinfo | sort
echo "--- /dev"
ls -lan /dev | awk 'NR>1 {print $1, $3, $4, $5, $6, $NF}' | sort
for p in $(cat /masked.list); do
  if [ -e "$p" ]; then
    if [ -d "$p" ]; then echo "masked $p dir entries=$(ls -A "$p" | wc -l)"; else echo "masked $p bytes=$(head -c 64 "$p" 2>/dev/null | wc -c)"; fi
  else echo "masked $p absent"; fi
done
for p in $(cat /readonly.list); do
  if [ -w "$p" ]; then echo "readonly $p WRITABLE"; else echo "readonly $p not-writable"; fi
done
echo "--- rlimits"
ulimit -n
"""


@pytest.fixture
def probe_bundle(tmp_path, busybox_rootfs):
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/probe.sh"]
    root = tmp_path / "rootfs-src"
    subprocess.run(["cp", "-a", str(busybox_rootfs), str(root)], check=True)
    (root / "probe.sh").write_text(PROBE)
    (root / "probe.sh").chmod(0o755)
    (root / "masked.list").write_text("\n".join(spec["linux"]["maskedPaths"]) + "\n")
    (root / "readonly.list").write_text("\n".join(spec["linux"]["readonlyPaths"]) + "\n")
    return make_bundle(tmp_path / "bundle", spec, rootfs_src=root)


def _show(label, a, b):
    return f"\n===== runc {label} =====\n{a}\n===== minictr {label} =====\n{b}"


def test_probe_output_identical(probe_bundle, tmp_path):
    runc = run_bundle("runc", tmp_path / "runc-state", probe_bundle, "parity")
    ours = run_bundle("minictr", tmp_path / "minictr-state", probe_bundle, "parity")
    assert runc.returncode == 0, runc.stderr
    assert "--- mounts" in runc.stdout
    assert ours.stdout == runc.stdout, _show("stdout", runc.stdout, ours.stdout) + _show("stderr", runc.stderr, ours.stderr)
    assert ours.returncode == runc.returncode
    assert not leftovers("parity")


@pytest.mark.parametrize("script,expected", [("exit 0", 0), ("exit 3", 3)])
def test_exit_codes_match(tmp_path, busybox_rootfs, script, expected):
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", script]
    bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
    for which in ("runc", "minictr"):
        res = run_bundle(which, tmp_path / f"{which}-state", bundle, f"exit-{expected}")
        assert res.returncode == expected, f"{which}: {res.returncode} {res.stderr}"


def test_sigkilled_init_gives_137(tmp_path, busybox_rootfs):
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sleep", "60"]
    bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
    for which in ("runc", "minictr"):
        root = tmp_path / f"{which}-state"
        result = {}
        t = threading.Thread(target=lambda: result.update(r=run_bundle(which, root, bundle, "killed")))
        t.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            st = cli(which, root, "state", "killed")
            if st.returncode == 0 and json.loads(st.stdout)["status"] == "running":
                break
            time.sleep(0.05)
        cli(which, root, "kill", "killed", "KILL", check=True)
        t.join(30)
        assert result["r"].returncode == 137, f"{which}: {result['r'].returncode} {result['r'].stderr}"
    assert not leftovers("killed")
