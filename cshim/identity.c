/*
 * identity.c: who the process is and what it may do: hostname, sysctls,
 * rlimits, seccomp, user/groups, capabilities, working directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

int mc_set_hostname(const struct mc_plan *plan)
{
    if (plan->hostname) {
        mc_explain("sethostname", "\"%s\" (visible only in this uts namespace)", plan->hostname);
        if (sethostname(plan->hostname, strlen(plan->hostname)) < 0)
            return mc_fail("sethostname %s", plan->hostname);
    }
    if (plan->domainname) {
        mc_explain("setdomainname", "\"%s\"", plan->domainname);
        if (setdomainname(plan->domainname, strlen(plan->domainname)) < 0)
            return mc_fail("setdomainname %s", plan->domainname);
    }
    return 0;
}

int mc_write_sysctls(const struct mc_plan *plan)
{
    for (int i = 0; i < plan->sysctl_count; i++) {
        char path[512];
        const struct mc_sysctl *s = &plan->sysctls[i];
        int n = snprintf(path, sizeof(path), "/proc/sys/%s", s->key);
        for (char *p = path + 10; p < path + n; p++)
            if (*p == '.')
                *p = '/';
        mc_explain("write", "%s = %s (linux.sysctl)", path, s->value);
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
            return mc_fail("linux.sysctl: open %s", path);
        ssize_t len = strlen(s->value);
        ssize_t w = write(fd, s->value, len);
        int saved = errno;
        close(fd);
        if (w != len) {
            errno = w < 0 ? saved : EIO;
            return mc_fail("linux.sysctl: write %s", path);
        }
    }
    return 0;
}

int mc_set_rlimits(const struct mc_plan *plan)
{
    for (int i = 0; i < plan->rlimit_count; i++) {
        const struct mc_rlimit *r = &plan->rlimits[i];
        struct rlimit lim = { .rlim_cur = r->soft, .rlim_max = r->hard };
        mc_explain("setrlimit", "resource %d soft %llu hard %llu", r->resource,
                   (unsigned long long)r->soft, (unsigned long long)r->hard);
        if (setrlimit(r->resource, &lim) < 0)
            return mc_fail("process.rlimits: setrlimit(%d)", r->resource);
    }
    return 0;
}

int mc_load_seccomp(const struct mc_plan *plan)
{
    if (!plan->seccomp_bpf || plan->seccomp_len <= 0)
        return 0;
    struct sock_fprog prog = {
        .len = (unsigned short)plan->seccomp_len,
        .filter = (struct sock_filter *)plan->seccomp_bpf,
    };
    mc_explain("seccomp(SECCOMP_SET_MODE_FILTER)", "%d BPF instructions decide which syscalls are allowed",
               plan->seccomp_len);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan->seccomp_flags, &prog) < 0)
        return mc_fail("load the seccomp filter (linux.seccomp)");
    return 0;
}

int mc_set_exec_label(const struct mc_plan *plan)
{
    if (!plan->exec_label_path || !plan->exec_label)
        return 0;
    mc_explain("write /proc/self/attr", "%s <- %s: the LSM confines the program from its execve on",
               plan->exec_label_path, plan->exec_label);
    int fd = open(plan->exec_label_path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return mc_fail("open %s (process.apparmorProfile / process.selinuxLabel)", plan->exec_label_path);
    size_t len = strlen(plan->exec_label);
    ssize_t n = write(fd, plan->exec_label, len);
    int saved = errno;
    close(fd);
    if (n != (ssize_t)len) {
        errno = n < 0 ? saved : EIO;
        return mc_fail("set the security label %s (process.apparmorProfile / process.selinuxLabel: "
                       "is the profile loaded?)", plan->exec_label);
    }
    return 0;
}

static int capset_all(uint64_t eff, uint64_t perm, uint64_t inh)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    data[0].effective = (uint32_t)eff;
    data[1].effective = (uint32_t)(eff >> 32);
    data[0].permitted = (uint32_t)perm;
    data[1].permitted = (uint32_t)(perm >> 32);
    data[0].inheritable = (uint32_t)inh;
    data[1].inheritable = (uint32_t)(inh >> 32);
    return syscall(SYS_capset, &hdr, data);
}

int mc_finalize_identity(const struct mc_plan *plan)
{
    if (plan->set_caps) {
        mc_explain("prctl(PR_CAPBSET_DROP)", "bounding set 0x%016llx: caps outside it can never be regained",
                   (unsigned long long)plan->cap_bounding);
        for (int cap = 0; cap <= plan->cap_last; cap++) {
            if (plan->cap_bounding & (1ULL << cap))
                continue;
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                return mc_fail("drop capability %d from the bounding set", cap);
        }
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            return mc_fail("prctl(PR_SET_KEEPCAPS)");
    }
    if (plan->ngroups >= 0) {
        mc_explain("setgroups", "%d supplementary groups", plan->ngroups);
        if (setgroups(plan->ngroups, plan->groups) < 0 && !(errno == EPERM && plan->ngroups == 0))
            return mc_fail("setgroups (process.user.additionalGids)");
    }
    mc_explain("setresgid/setresuid", "run as uid %u gid %u", (unsigned)plan->uid, (unsigned)plan->gid);
    if (setresgid(plan->gid, plan->gid, plan->gid) < 0)
        return mc_fail("setresgid %u (process.user.gid)", (unsigned)plan->gid);
    if (setresuid(plan->uid, plan->uid, plan->uid) < 0)
        return mc_fail("setresuid %u (process.user.uid)", (unsigned)plan->uid);
    if (plan->cwd && *plan->cwd) {
        if (chdir(plan->cwd) < 0)
            return mc_fail("chdir to cwd (\"%s\") set in config.json", plan->cwd);
    }
    if (plan->umask >= 0)
        umask(plan->umask);
    if (plan->set_caps) {
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
            return mc_fail("prctl(PR_SET_KEEPCAPS, 0)");
        mc_explain("capset", "effective 0x%016llx permitted 0x%016llx inheritable 0x%016llx",
                   (unsigned long long)plan->cap_effective, (unsigned long long)plan->cap_permitted,
                   (unsigned long long)plan->cap_inheritable);
        if (capset_all(plan->cap_effective, plan->cap_permitted, plan->cap_inheritable) < 0)
            return mc_fail("capset (process.capabilities)");
        /* Like runc, an ambient cap that is not also permitted and
         * inheritable is silently not raised. */
        for (int cap = 0; cap <= plan->cap_last; cap++)
            if (plan->cap_ambient & (1ULL << cap))
                prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    }
    return 0;
}
