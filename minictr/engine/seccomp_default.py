"""docker's default seccomp profile, as data, in docker's own profile format
(`names`, `action`, `args`, `includes`/`excludes` on capabilities, arches
and kernel versions), written from docker's documented behaviour: an allow
list on a default of EPERM, system calls that capabilities unlock, clone's
namespace flags refused without CAP_SYS_ADMIN, personality's safe values.
minictr.engine.seccomp_profile resolves it for one container."""
from __future__ import annotations

# Plain system calls every container may make (docker's allow list). Names
# the kernel or libseccomp does not know are skipped when the filter is built.
ALLOWED = """
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync
fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr
llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier
memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect
mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2
pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat
readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat
renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send
sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd
signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink
symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create
timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64
ugetrlimit umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4
waitid waitpid write writev
""".split()

ALLOW, ERRNO = "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"
ENOSYS = 38
AF_VSOCK = 40
# CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
CLONE_NAMESPACE_FLAGS = 0x7E020000
X86 = ["amd64", "x32", "386"]
ARM = ["arm", "arm64"]


def _rule(names: str, action: str = ALLOW, caps: list | None = None, arches: list | None = None,
          not_caps: list | None = None, not_arches: list | None = None, args: list | None = None,
          min_kernel: str = "", errno_ret: int | None = None) -> dict:
    rule: dict = {"names": names.split(), "action": action, "args": args or []}
    includes = {k: v for k, v in (("caps", caps), ("arches", arches), ("minKernel", min_kernel)) if v}
    excludes = {k: v for k, v in (("caps", not_caps), ("arches", not_arches)) if v}
    if includes:
        rule["includes"] = includes
    if excludes:
        rule["excludes"] = excludes
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    return rule


def _arg(index: int, value: int, op: str = "SCMP_CMP_EQ", two: int = 0) -> dict:
    return {"index": index, "value": value, "valueTwo": two, "op": op}


SYSCALLS = [
    {"names": ALLOWED, "action": ALLOW, "args": []},
    # AF_VSOCK reaches the host's hypervisor sockets: refused
    _rule("socket", args=[_arg(0, AF_VSOCK, "SCMP_CMP_NE")]),
    # personality: only the safe execution domains (and the query)
    *[_rule("personality", args=[_arg(0, value)]) for value in (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)],
    # the kernel's own ptrace checks are enough since 4.8
    _rule("process_vm_readv process_vm_writev ptrace", min_kernel="4.8"),
    # architecture-specific calls
    _rule("arch_prctl modify_ldt", arches=X86),
    _rule("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls", arches=ARM),
    _rule("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr", arches=["s390", "s390x"]),
    _rule("riscv_flush_icache", arches=["riscv64"]),
    _rule("sync_file_range2 swapcontext", arches=["ppc64le"]),
    # what capabilities unlock
    _rule("bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr "
          "move_mount name_to_handle_at open_tree perf_event_open quotactl quotactl_fd setdomainname "
          "sethostname setns syslog umount umount2 unshare", caps=["CAP_SYS_ADMIN"]),
    # without CAP_SYS_ADMIN, clone may not make namespaces; clone3's flags
    # sit behind a pointer, so it says ENOSYS and libc falls back to clone
    _rule("clone", not_caps=["CAP_SYS_ADMIN"], not_arches=["s390", "s390x"],
          args=[_arg(0, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ")]),
    _rule("clone", not_caps=["CAP_SYS_ADMIN"], arches=["s390", "s390x"],
          args=[_arg(1, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ")]),
    _rule("clone3", ERRNO, not_caps=["CAP_SYS_ADMIN"], errno_ret=ENOSYS),
    _rule("reboot", caps=["CAP_SYS_BOOT"]),
    _rule("chroot", caps=["CAP_SYS_CHROOT"]),
    _rule("delete_module init_module finit_module", caps=["CAP_SYS_MODULE"]),
    _rule("acct", caps=["CAP_SYS_PACCT"]),
    _rule("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace", caps=["CAP_SYS_PTRACE"]),
    _rule("iopl ioperm", caps=["CAP_SYS_RAWIO"]),
    _rule("settimeofday stime clock_settime clock_settime64", caps=["CAP_SYS_TIME"]),
    _rule("vhangup", caps=["CAP_SYS_TTY_CONFIG"]),
    _rule("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", caps=["CAP_SYS_NICE"]),
    _rule("syslog", caps=["CAP_SYSLOG"]),
    _rule("bpf", caps=["CAP_BPF"]),
    _rule("perf_event_open", caps=["CAP_PERFMON"]),
]

ARCH_MAP = [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    {"architecture": "SCMP_ARCH_MIPS64", "subArchitectures": ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"]},
    {"architecture": "SCMP_ARCH_PPC64LE", "subArchitectures": []},
    {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]},
    {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": []},
]

PROFILE = {"defaultAction": ERRNO, "defaultErrnoRet": 1, "archMap": ARCH_MAP, "syscalls": SYSCALLS}
