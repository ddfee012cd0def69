"""The cgroup-v2 device program (eBPF) on the real kernel, and device rules
end to end against runc.

The program test needs only a cgroup2 mount, which this hybrid host has at
/sys/fs/cgroup/unified (no controllers are needed for device programs): a
cgroup of our own gets the program, a shell moved into it tries devices.
The end-to-end test is marked cgroupv2, so it runs here on the v1 devices
controller and again in the VM on eBPF."""
import os
import shutil
import subprocess

import pytest

from minictr.runtime.cgroups import device_filter
from minictr.runtime.cgroups.resources import DeviceRule
from support.bundles import make_bundle, runc_default_spec
from support.runtimes import leftovers, run_bundle

pytestmark = pytest.mark.root

PROBE = ("for d in null zero full; do "
         "(echo x > /dev/$d) 2>/dev/null && echo $d=w || echo $d=no-w; "
         "(head -c1 /dev/$d >/dev/null) 2>/dev/null && echo $d=r || echo $d=no-r; done; "
         "mknod /tmp/disk b 7 0 2>/dev/null && echo mknod-b=yes || echo mknod-b=no; "
         "(head -c1 /tmp/disk >/dev/null) 2>/dev/null && echo disk=r || echo disk=no-r; "
         "mknod /tmp/null2 c 1 3 2>/dev/null && echo mknod-c=yes || echo mknod-c=no")


def _cgroup2_root() -> str | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    return None


@pytest.fixture
def probe_cgroup():
    root = _cgroup2_root()
    if root is None:
        pytest.skip("no cgroup2 mount on this host")
    path = os.path.join(root, f"minictr-devtest-{os.getpid()}")
    os.mkdir(path)
    yield path
    os.rmdir(path)


def _probe_in(cgroup: str, tmp_path) -> list[str]:
    def join():
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    res = subprocess.run(["sh", "-c", PROBE.replace("/tmp/", f"{tmp_path}/")], preexec_fn=join,
                         capture_output=True, text=True, env=env, timeout=30)
    return res.stdout.split()


def test_program_allows_and_denies_as_the_rules_say(probe_cgroup, tmp_path):
    rules = [DeviceRule(False, "a", -1, -1, "rwm"),          # deny everything ...
             DeviceRule(True, "c", 1, 3, "rwm"),             # ... but /dev/null,
             DeviceRule(True, "c", 1, 5, "r"),               # /dev/zero read-only,
             DeviceRule(True, "c", 1, -1, "m"),              # mknod of char 1:*
             DeviceRule(True, "c", 1, 7, "rw"),              # /dev/full ...
             DeviceRule(False, "c", 1, 7, "w")]              # ... then not for writing
    device_filter.attach(probe_cgroup, rules)
    seen = _probe_in(probe_cgroup, tmp_path)
    assert seen == ["null=w", "null=r", "zero=no-w", "zero=r", "full=no-w", "full=r",
                    "mknod-b=no", "disk=no-r", "mknod-c=yes"], seen


def test_allow_all_then_deny_one(probe_cgroup, tmp_path):
    device_filter.attach(probe_cgroup, [DeviceRule(True, "a", -1, -1, "rwm"), DeviceRule(False, "c", 1, 5, "rwm")])
    seen = _probe_in(probe_cgroup, tmp_path)
    assert "zero=no-r" in seen and "null=w" in seen and "full=r" in seen, seen


@pytest.mark.cgroupv2
@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (apt install runc)")
def test_device_rules_like_runc(tmp_path, busybox_rootfs):
    """CAP_MKNOD given, so only the device rules stand between the container
    and a block device: mknod is allowed (runc's defaults allow `m` on every
    device), opening it is not. A rule of the config's own (deny /dev/full)
    is overridden by the default allow list, in runc as here."""
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", PROBE]
    spec["root"]["readonly"] = False
    for key in ("bounding", "effective", "permitted"):
        spec["process"]["capabilities"][key].append("CAP_MKNOD")
    spec["linux"]["resources"]["devices"].append({"allow": False, "type": "c", "major": 1, "minor": 7,
                                                 "access": "rwm"})
    outputs = {}
    for which in ("runc", "minictr"):
        bundle = make_bundle(tmp_path / which, spec, rootfs_src=busybox_rootfs)
        res = run_bundle(which, tmp_path / f"{which}-state", bundle, f"devices-{which}")
        outputs[which] = res.stdout.split()
        print(which, res.returncode, outputs[which], res.stderr)
    assert outputs["minictr"] == outputs["runc"]
    assert "disk=no-r" in outputs["minictr"]
    assert "null=w" in outputs["minictr"] and "zero=r" in outputs["minictr"]
    assert not leftovers("devices-minictr")
