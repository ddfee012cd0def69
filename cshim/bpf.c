/*
 * bpf.c: load a cgroup-v2 device program and attach it to a cgroup.
 *
 * On cgroup v2 there is no devices controller; access to device nodes is
 * decided by a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup
 * (as runc and crun do). The instructions are generated in Python
 * (minictr/runtime/cgroups/device_filter.py); this file only makes the two
 * bpf(2) calls, which the stdlib cannot.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Returns the program fd, or -1 with errno set; the verifier's complaint, if
 * any, is left in `log`. */
int mc_bpf_load_device_prog(const void *insns, unsigned int insn_count, char *log, unsigned int log_size)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (unsigned long)insns;
    attr.insn_cnt = insn_count;
    attr.license = (unsigned long)"Apache";
    if (log && log_size) {
        log[0] = '\0';
        attr.log_buf = (unsigned long)log;
        attr.log_size = log_size;
        attr.log_level = 1;
    }
    int fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
    if (fd < 0 && errno == ENOSPC && log) {
        /* the log was too small; load again without it */
        attr.log_buf = 0;
        attr.log_size = 0;
        attr.log_level = 0;
        fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
    }
    return fd;
}

/* BPF_F_ALLOW_MULTI, as runc: programs of parent cgroups still apply. */
int mc_bpf_attach_device_prog(int cgroup_fd, int prog_fd)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = cgroup_fd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    return syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr));
}

int mc_bpf_detach_device_prog(int cgroup_fd, int prog_fd)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = cgroup_fd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    return syscall(SYS_bpf, BPF_PROG_DETACH, &attr, sizeof(attr));
}
