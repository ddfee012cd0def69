"""linux.seccomp: the filter compiled with libseccomp blocks what the
profile says, the way runc's does. Each case runs the same bundle under
both runtimes and compares what the process saw and how it ended."""
import shutil

import pytest

from support.bundles import make_bundle, runc_default_spec
from support.runtimes import leftovers, run_bundle

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (apt install runc)")]

ARCHES = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


def _rule(names, action="SCMP_ACT_ERRNO", args=None, errno_ret=None):
    rule = {"names": names, "action": action}
    if args:
        rule["args"] = args
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    return rule


CASES = {
    # mkdir refused with EPERM; everything else allowed
    "errno": ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES,
               "syscalls": [_rule(["mkdir", "mkdirat"], errno_ret=1)]},
              "mkdir /tmp/d; echo mkdir=$?; touch /tmp/f; echo touch=$?; grep Seccomp: /proc/self/status"),
    # a rule on an argument: chmod to 0777 refused, 0755 allowed
    "argument": ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES,
                  "syscalls": [_rule(["chmod"], args=[{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]),
                               _rule(["fchmodat"], args=[{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}])]},
                 "touch /tmp/f; chmod 755 /tmp/f; echo c755=$?; chmod 777 /tmp/f; echo c777=$?; "
                 "stat -c %a /tmp/f"),
    # default deny with ERRNO, an allow list big enough for the shell
    "allowlist": ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ARCHES,
                   "syscalls": [_rule(["read", "write", "openat", "close", "fstat", "newfstatat", "stat", "lstat",
                                       "mmap", "mprotect", "munmap", "brk", "rt_sigaction", "rt_sigprocmask",
                                       "rt_sigreturn", "ioctl", "access", "execve", "exit", "exit_group",
                                       "arch_prctl", "set_tid_address", "set_robust_list", "prlimit64",
                                       "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "uname",
                                       "fcntl", "wait4", "clone", "fork", "vfork", "dup2", "dup3", "pipe",
                                       "pipe2", "getcwd", "chdir", "rseq", "futex", "readlink", "getrandom",
                                       "poll", "ppoll", "pread64", "lseek", "sched_getaffinity", "statx",
                                       "faccessat", "faccessat2", "getdents64", "clock_gettime",
                                       # what runc's Go init still calls after loading the filter
                                       "statfs", "fstatfs", "sigaltstack", "gettid", "tgkill", "madvise",
                                       "nanosleep", "epoll_ctl", "epoll_pwait", "epoll_create1", "sched_yield",
                                       "capget", "capset", "prctl", "setgroups", "setresuid", "setresgid",
                                       "close_range", "getpgrp", "setsid", "sched_getparam"],
                                      action="SCMP_ACT_ALLOW")]},
                  "echo start; hostname; echo hostname=$?; sethostname=no; "
                  "hostname x 2>&1; echo sethost=$?"),
    # SCMP_ACT_KILL: the process dies of SIGSYS (exit 159 = 128 + 31)
    "kill": ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES,
              "syscalls": [_rule(["mkdir", "mkdirat"], action="SCMP_ACT_KILL")]},
             "echo before; exec mkdir /tmp/d"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_seccomp_like_runc(case, tmp_path, busybox_rootfs):
    profile, script = CASES[case]
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", script]
    spec["root"]["readonly"] = False
    spec["linux"]["seccomp"] = profile
    results = {}
    for which in ("runc", "minictr"):
        bundle = make_bundle(tmp_path / which, spec, rootfs_src=busybox_rootfs)
        res = run_bundle(which, tmp_path / f"{which}-state", bundle, f"seccomp-{case}")
        results[which] = (res.returncode, res.stdout)
        print(f"--- {which}: exit {res.returncode}\n{res.stdout}{res.stderr}")
    assert results["minictr"] == results["runc"]
    assert not leftovers(f"seccomp-{case}")
    code, out = results["minictr"]
    if case == "errno":
        assert "mkdir=1" in out and "touch=0" in out and "Seccomp:\t2" in out
    elif case == "argument":
        assert "c755=0" in out and "c777=1" in out and out.split()[-1] == "755"
    elif case == "kill":
        assert code == 159 and out == "before\n"


def test_bad_profile_names_the_field(tmp_path, busybox_rootfs):
    from support.runtimes import cli
    spec = runc_default_spec()
    spec["process"]["args"] = ["true"]
    spec["process"]["terminal"] = False
    spec["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_EXPLODE"}]}
    bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
    res = cli("minictr", tmp_path / "state", "create", "--bundle", str(bundle), "badseccomp")
    assert res.returncode != 0
    assert "linux.seccomp.syscalls[0].action" in res.stderr, res.stderr
    assert not (tmp_path / "state" / "badseccomp").exists()
    assert not leftovers("badseccomp")
