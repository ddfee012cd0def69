"""Container security as docker sets it up: docker's default seccomp
profile in every container (keyctl, add_key, reboot, mount, unshare of a
user namespace refused), what capabilities unlock, `--security-opt`
(seccomp=unconfined|PROFILE.json, no-new-privileges), `--privileged` with
no filter and every capability the engine itself holds."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.probe import parse  # noqa: E402

pytestmark = pytest.mark.root

PROBES = ["keyctl", "add_key", "unshare-user", "unshare-mount", "mount", "reboot", "clone-newns",
          "personality-bad", "getpid"]


def run_probe(mc, probe, *opts: str) -> dict[str, str]:
    res = mc("run", "--rm", "--network", "none", "-v", f"{probe}:/probe:ro", *opts, "busybox",
             "/probe", *PROBES, timeout=60)
    assert res.returncode == 0, res.stderr
    return parse(res.stdout)


def seccomp_mode(mc, *opts: str) -> str:
    res = mc("run", "--rm", "--network", "none", *opts, "busybox", "grep", "^Seccomp:", "/proc/self/status",
             check=True)
    return res.stdout.split()[1]


def test_every_container_runs_under_a_seccomp_filter(mc):
    assert seccomp_mode(mc) == "2"
    assert seccomp_mode(mc, "--security-opt", "seccomp=unconfined") == "0"
    assert seccomp_mode(mc, "--privileged") == "0"


def test_the_default_profile_refuses_what_docker_refuses(mc, probe):
    got = run_probe(mc, probe)
    for name in ("keyctl", "add_key", "unshare-user", "unshare-mount", "mount", "reboot", "clone-newns",
                 "personality-bad"):
        assert got[name] == "EPERM", (name, got)
    assert got["getpid"] == "OK"


def test_unconfined_lets_the_kernel_decide(mc, probe):
    got = run_probe(mc, probe, "--security-opt", "seccomp=unconfined")
    # the calls reach the kernel: it rejects the probe's bad arguments, not the filter
    assert got["keyctl"] != "EPERM" and got["add_key"] == "ENODEV", got
    assert got["unshare-user"] == "OK", got       # the hole the filter closes
    assert got["reboot"] == "EPERM", got          # CAP_SYS_BOOT is still missing
    assert got["personality-bad"] == "OK", got


def test_capabilities_unlock_their_system_calls(mc, probe):
    admin = run_probe(mc, probe, "--cap-add", "SYS_ADMIN")
    assert admin["mount"] == "OK" and admin["unshare-mount"] == "OK" and admin["clone-newns"] == "OK", admin
    assert admin["keyctl"] == "EPERM" and admin["add_key"] == "EPERM", admin  # never allowed
    boot = run_probe(mc, probe, "--cap-add", "SYS_BOOT")
    assert boot["reboot"] == "EINVAL", boot       # let through: the kernel rejects the bad magic
    assert boot["mount"] == "EPERM", boot


def test_inspect_shows_the_security_options(mc, tmp_path):
    mc("create", "--name", "secopt", "--security-opt", "seccomp=unconfined", "--security-opt",
       "no-new-privileges", "busybox", "true", check=True)
    mc.leftovers.append("secopt")
    host = mc.inspect_container("secopt")["HostConfig"]
    assert host["SecurityOpt"] == ["seccomp=unconfined", "no-new-privileges"]
    mc("create", "--name", "plain", "busybox", "true", check=True)
    mc.leftovers.append("plain")
    assert mc.inspect_container("plain")["HostConfig"]["SecurityOpt"] is None


def test_no_new_privileges_reaches_the_process(mc):
    res = mc("run", "--rm", "--network", "none", "--security-opt", "no-new-privileges", "busybox",
             "grep", "NoNewPrivs", "/proc/self/status", check=True)
    assert res.stdout.split()[1] == "1"
    res = mc("run", "--rm", "--network", "none", "busybox", "grep", "NoNewPrivs", "/proc/self/status", check=True)
    assert res.stdout.split()[1] == "0"


def test_a_profile_file_is_applied_and_kept_after_the_file_goes(mc, tmp_path):
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    mc("create", "--name", "custom", "--network", "none", "--security-opt", f"seccomp={profile}", "busybox",
       "sh", "-c", "mkdir /x && echo made || echo refused", check=True)
    mc.leftovers.append("custom")
    profile.unlink()
    res = mc("start", "-a", "custom", check=True)
    assert res.stdout.strip() == "refused"


@pytest.mark.parametrize("content,expected", [
    ("{not json", "line 1 column 2"),
    ('["a list"]', "must be a JSON object"),
    ('{"syscalls": []}', "defaultAction"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}', "syscalls[0].names"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOPE"}]}',
     "unknown seccomp action"),
])
def test_a_bad_profile_is_refused_naming_the_file_and_field(mc, tmp_path, content, expected):
    profile = tmp_path / "bad.json"
    profile.write_text(content)
    before = mc("ps", "-aq").stdout
    res = mc("run", "--rm", "--network", "none", "--security-opt", f"seccomp={profile}", "busybox", "true")
    assert res.returncode == 125, res
    assert expected in res.stderr, res.stderr
    assert "ConfigError" not in res.stderr and "Traceback" not in res.stderr
    assert mc("ps", "-aq").stdout == before


@pytest.mark.parametrize("opt,expected", [
    ("seccomp=/no/such/profile.json", "opening seccomp profile (/no/such/profile.json) failed"),
    ("nonsense", 'invalid --security-opt 1: "nonsense"'),
    ("foo=bar", 'invalid --security-opt 2: "foo=bar"'),
    ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"'),
])
def test_bad_security_options_are_refused(mc, opt, expected):
    res = mc("run", "--rm", "--network", "none", "--security-opt", opt, "busybox", "true")
    assert res.returncode == 125 and expected in res.stderr, res


def test_privileged_grants_every_capability_the_engine_holds(mc):
    with open("/proc/self/status") as f:
        ours = next(l for l in f if l.startswith("CapBnd:")).split()[1]
    res = mc("run", "--rm", "--network", "none", "--privileged", "busybox", "grep", "^CapEff:", "/proc/self/status")
    assert res.returncode == 0, res.stderr
    assert int(res.stdout.split()[1], 16) == int(ours, 16)
    res = mc("run", "--rm", "--network", "none", "--cap-add", "ALL", "busybox", "grep", "^CapEff:",
             "/proc/self/status")
    assert res.returncode == 0 and int(res.stdout.split()[1], 16) == int(ours, 16), res


def test_adding_a_capability_the_host_withholds_says_so(mc):
    with open("/proc/self/status") as f:
        bounding = int(next(l for l in f if l.startswith("CapBnd:")).split()[1], 16)
    if bounding >> 24 & 1:
        pytest.skip("this host lets us hold CAP_SYS_RESOURCE: nothing is withheld to test")
    res = mc("run", "--rm", "--network", "none", "--cap-add", "SYS_RESOURCE", "busybox", "true")
    assert res.returncode == 125
    assert "CAP_SYS_RESOURCE" in res.stderr and "bounding set" in res.stderr


def _docker_archive(dest: Path, tag: str, members) -> Path:
    """A `docker save` archive of one layer, as a hostile image would come."""
    import hashlib
    import io
    import tarfile
    from support.layers import tar_bytes
    layer = tar_bytes(members)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/probe", "getpid"]},
                         "rootfs": {"type": "layers",
                                    "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}]).encode()
    with tarfile.open(dest, "w") as tar:
        for name, data in (("layer.tar", layer), ("config.json", config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dest


@pytest.mark.parametrize("name", ["proc", "sys", "dev"])
def test_an_image_whose_system_directory_is_a_symlink_is_refused_by_name(mc, probe, tmp_path, name):
    from support.layers import directory, file, symlink
    members = [directory(d) for d in ("proc", "sys", "dev", "etc", "tmp") if d != name]
    members += [symlink(name, "/tmp"), file("probe", probe.read_bytes(), mode=0o755)]
    archive = _docker_archive(tmp_path / "img.tar", f"sym{name}:latest", members)
    mc("load", "-i", str(archive), check=True)
    try:
        res = mc("run", "--rm", "--network", "none", f"sym{name}")
        assert res.returncode == 125, res
        assert f"the image's /{name} is a symbolic link (to /tmp)" in res.stderr, res.stderr
        assert "cgroup" not in res.stderr
        assert mc("ps", "-aq").stdout == ""
    finally:
        mc("rmi", f"sym{name}")


@pytest.mark.parametrize("ref", ["UPPER/case", "a:b:c", "busybox:" + "t" * 300, "a//b", "x/-y"])
def test_invalid_references_are_refused_before_any_lookup(mc, ref):
    for args in (("pull", ref), ("run", "--rm", ref)):
        res = mc(*args, timeout=30)
        assert res.returncode == (1 if args[0] == "pull" else 125), res
        assert "invalid reference format" in res.stderr, res.stderr
        assert "Pulling from" not in res.stderr and "cannot reach" not in res.stderr, res.stderr


def test_the_filter_is_compiled_once_per_profile_and_covers_exec(mc):
    cache = Path(mc.root) / "run" / "runtime" / ".seccomp-cache"
    mc("run", "--rm", "--network", "none", "--cap-add", "SYS_PTRACE", "busybox", "true", check=True)
    before = sorted(p.name for p in cache.iterdir())
    mc("run", "--rm", "--network", "none", "--cap-add", "SYS_PTRACE", "busybox", "true", check=True)
    assert sorted(p.name for p in cache.iterdir()) == before   # the same profile: the cached filter
    mc.run_detached("--name", "execd", "--network", "none", "busybox", "sleep", "30")
    mc.leftovers.append("execd")
    res = mc("exec", "execd", "grep", "^Seccomp:", "/proc/self/status", check=True)
    assert res.stdout.split()[1] == "2"
