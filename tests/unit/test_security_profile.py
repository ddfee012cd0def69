"""The default seccomp profile resolved for a container (pure logic), and
the option checks that refuse bad values before anything is made."""
import os

import pytest

from minictr.engine import options, seccomp_profile
from minictr.engine.bundle import DEFAULT_CAPS
from minictr.engine.errors import EngineError, InvalidOption
from minictr.engine.security import parse_security_opts


def _allowed(resolved: dict) -> set[str]:
    return {n for r in resolved["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args")
            for n in r["names"]}


def test_default_profile_refuses_by_default_and_capabilities_unlock():
    base = seccomp_profile.resolve(seccomp_profile.default_profile(), DEFAULT_CAPS, arch="amd64", kernel="6.1.0")
    assert base["defaultAction"] == "SCMP_ACT_ERRNO" and base["defaultErrnoRet"] == 1
    assert base["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = _allowed(base)
    for name in ("keyctl", "add_key", "request_key", "mount", "unshare", "setns", "reboot", "bpf", "kexec_load"):
        assert name not in allowed, name
    assert {"read", "write", "execve", "chroot", "arch_prctl", "ptrace"} <= allowed
    clone = [r for r in base["syscalls"] if r["names"] == ["clone"]]
    assert clone and clone[0]["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"
    assert any(r["names"] == ["clone3"] and r.get("errnoRet") == 38 for r in base["syscalls"])
    admin = _allowed(seccomp_profile.resolve(seccomp_profile.default_profile(), DEFAULT_CAPS + ["CAP_SYS_ADMIN"],
                                             arch="amd64", kernel="6.1.0"))
    assert {"mount", "unshare", "setns", "clone", "clone3"} <= admin and "keyctl" not in admin


def test_kernel_and_architecture_conditions():
    old = _allowed(seccomp_profile.resolve(seccomp_profile.default_profile(), DEFAULT_CAPS, arch="amd64",
                                           kernel="4.4.0"))
    assert "ptrace" not in old
    arm = seccomp_profile.resolve(seccomp_profile.default_profile(), DEFAULT_CAPS, arch="arm64", kernel="6.1")
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "arch_prctl" not in _allowed(arm)


@pytest.mark.parametrize("text,message", [
    ("", "line 1 column 1"),
    ("[]", "must be a JSON object"),
    ('{"defaultAction": 5}', "defaultAction"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}', "syscalls: must be an array"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}', "names"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", '
     '"args": [{"index": 9, "op": "SCMP_CMP_EQ"}]}]}', "index"),
    ('{"defaultAction": "SCMP_ACT_MAYBE"}', "unknown seccomp action"),
])
def test_bad_profiles_are_refused_with_the_field(text, message):
    with pytest.raises(EngineError) as e:
        seccomp_profile.parse_profile(text, "p.json")
    assert "p.json" in str(e.value) and message in str(e.value), str(e.value)


def test_security_opts():
    assert parse_security_opts(["seccomp=unconfined"]).seccomp == "unconfined"
    assert parse_security_opts(["seccomp:unconfined", "no-new-privileges:true"]).no_new_privileges
    assert not parse_security_opts(["no-new-privileges=false"]).no_new_privileges
    for bad in ("x", "seccomp=", "foo=bar", "systempaths=x"):
        with pytest.raises(InvalidOption):
            parse_security_opts([bad])


def test_cpus_above_the_host_and_bad_dns_are_refused():
    host = len(os.sched_getaffinity(0))
    assert options.parse_cpus(str(host)) == host * 1_000_000_000
    for bad in (str(host + 1), "0.001", "inf", "1e300"):
        with pytest.raises(InvalidOption) as e:
            options.parse_cpus(bad)
        assert f"as there are only {host} CPUs available" in str(e.value)
    assert options.parse_dns("10.0.0.1") == "10.0.0.1"
    with pytest.raises(InvalidOption):
        options.parse_dns("999.1.1.1")
