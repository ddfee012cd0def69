/*
 * spawn.c: stage 1 of starting a container process.
 *
 * The Python parent calls mc_spawn(). We fork stage 1, which joins the
 * namespaces given by path, creates the user namespace (so the parent can
 * write its id maps), waits for the parent to place it in its cgroups, then
 * unshares the other new namespaces and forks the container's process
 * (stage 2, stage_init.c). A fork is needed after a new or joined pid
 * namespace: only children enter it. Stage 1 reports the child's pid and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

static const char *ns_name(int type)
{
    switch (type) {
    case CLONE_NEWUSER: return "user";
    case CLONE_NEWNS: return "mount";
    case CLONE_NEWPID: return "pid";
    case CLONE_NEWNET: return "network";
    case CLONE_NEWUTS: return "uts";
    case CLONE_NEWIPC: return "ipc";
    case CLONE_NEWCGROUP: return "cgroup";
#ifdef CLONE_NEWTIME
    case CLONE_NEWTIME: return "time";
#endif
    }
    return "?";
}

static const char *ns_why(int type)
{
    switch (type) {
    case CLONE_NEWUSER: return "own uids/gids, mapped to the host's";
    case CLONE_NEWNS: return "own mount table";
    case CLONE_NEWPID: return "own process ids, the container's process becomes pid 1";
    case CLONE_NEWNET: return "own network stack (only lo until a veth is added)";
    case CLONE_NEWUTS: return "own hostname";
    case CLONE_NEWIPC: return "own SysV IPC and POSIX message queues";
    case CLONE_NEWCGROUP: return "/proc/self/cgroup shows the container's cgroup as /";
    }
    return "";
}

/* Namespaces are joined in this order (runc's): user first so that the
 * joined ones are owned by it, mount last among the usual ones. */
static const int join_order[] = {
    CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET,
    CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWCGROUP,
#ifdef CLONE_NEWTIME
    CLONE_NEWTIME,
#endif
};

static int join_namespaces(const struct mc_plan *plan)
{
    /* Every path is opened before the first setns: once the mount
     * namespace is joined, /proc/<pid>/ns/... would be looked up in the
     * container's own /proc, where that pid does not exist. */
    int fds[plan->ns_count > 0 ? plan->ns_count : 1];
    int rc = 0;
    for (int i = 0; i < plan->ns_count; i++) {
        const struct mc_namespace *ns = &plan->namespaces[i];
        fds[i] = -1;
        if (!ns->path || rc)
            continue;
        fds[i] = open(ns->path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0)
            rc = mc_fail("open %s namespace %s", ns_name(ns->type), ns->path);
    }
    for (size_t o = 0; o < sizeof(join_order) / sizeof(join_order[0]) && !rc; o++) {
        for (int i = 0; i < plan->ns_count && !rc; i++) {
            const struct mc_namespace *ns = &plan->namespaces[i];
            if (ns->type != join_order[o] || fds[i] < 0)
                continue;
            mc_explain("setns", "join %s namespace %s", ns_name(ns->type), ns->path);
            if (setns(fds[i], ns->type) < 0)
                rc = mc_fail("setns %s namespace %s", ns_name(ns->type), ns->path);
        }
    }
    for (int i = 0; i < plan->ns_count; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

int mc_wants_new_namespace(const struct mc_plan *plan, int type)
{
    for (int i = 0; i < plan->ns_count; i++)
        if (plan->namespaces[i].type == type && !plan->namespaces[i].path)
            return 1;
    return 0;
}

static void explain_unshare(int flags)
{
    static const int order[] = { CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET,
                                 CLONE_NEWCGROUP, CLONE_NEWPID };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (flags & order[i]) {
            char step[64];
            snprintf(step, sizeof(step), "unshare(CLONE_NEW%s)",
                     order[i] == CLONE_NEWNS ? "NS" : order[i] == CLONE_NEWUTS ? "UTS"
                     : order[i] == CLONE_NEWIPC ? "IPC" : order[i] == CLONE_NEWNET ? "NET"
                     : order[i] == CLONE_NEWCGROUP ? "CGROUP" : "PID");
            mc_explain(step, "%s", ns_why(order[i]));
        }
}

static void stage1(const struct mc_plan *plan) __attribute__((noreturn));
static void stage1(const struct mc_plan *plan)
{
    int flags = 0;
    pid_t child;

    if (join_namespaces(plan) < 0)
        mc_die();

    if (mc_wants_new_namespace(plan, CLONE_NEWUSER)) {
        mc_explain("unshare(CLONE_NEWUSER)", "%s", ns_why(CLONE_NEWUSER));
        if (unshare(CLONE_NEWUSER) < 0) {
            mc_fail("unshare user namespace");
            mc_die();
        }
    }
    /* The parent writes uid/gid maps now (a no-op round trip without a
     * user namespace). */
    if (mc_sync_send(MC_SYNC_STAGE1_READY, getpid(), 0, NULL) < 0 || mc_sync_wait(MC_SYNC_STAGE1_GO) < 0)
        mc_die();
    if (mc_wants_new_namespace(plan, CLONE_NEWUSER) || plan->wait_for_userns_maps) {
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
            mc_fail("become root in the user namespace");
            mc_die();
        }
    }

    /* Not CLONE_NEWCGROUP: the init unshares it once the parent has put it
     * into the container's cgroups, so that the namespace is rooted there. */
    static const int unshare_types[] = { CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET,
                                         CLONE_NEWPID };
    for (size_t i = 0; i < sizeof(unshare_types) / sizeof(unshare_types[0]); i++)
        if (mc_wants_new_namespace(plan, unshare_types[i]))
            flags |= unshare_types[i];
    if (flags) {
        explain_unshare(flags);
        if (unshare(flags) < 0) {
            mc_fail("unshare namespaces (flags 0x%x)", flags);
            mc_die();
        }
    }

    /* fork, not clone with a new stack: simpler, and the child gets a copy of
     * our (already namespaced) state. In a new pid namespace it is pid 1. */
    child = fork();
    if (child < 0) {
        mc_fail("fork the container process");
        mc_die();
    }
    if (child == 0)
        mc_stage_init(plan);
    mc_sync_send(MC_SYNC_INIT_PID, child, 0, NULL);
    _exit(0);
}

/* Close every fd from `first` up except those in keep[] (-1 entries are
 * ignored). Stage 1 and the init run long before their exec (the init may
 * wait on the exec fifo for ever): a copy of a pipe end or of the parent's
 * sync socket held there would hide the parent's death from whoever waits
 * for EOF on it (the sync socket, the shim's pid pipe). */
void mc_close_fds_except(int first, const int *keep, int n)
{
    int sorted[16], count = 0;
    for (int i = 0; i < n && count < 16; i++)
        if (keep[i] >= first)
            sorted[count++] = keep[i];
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    unsigned int from = (unsigned int)first;
    for (int i = 0; i < count; i++) {
        if ((unsigned int)sorted[i] > from)
            syscall(SYS_close_range, from, (unsigned int)sorted[i] - 1, 0);
        from = (unsigned int)sorted[i] + 1;
    }
    syscall(SYS_close_range, from, ~0U, 0);
}

pid_t mc_spawn(const struct mc_plan *plan, int sync_fd)
{
    pid_t pid;
    fflush(NULL);
    pid = fork();
    if (pid != 0)
        return pid;
    /* stage 1: only C from here on; never return into Python. */
    mc_sync_fd = sync_fd;
    mc_explain_fd = plan->explain_fd;
    /* Reset signal dispositions Python installed (SIGINT handler, SIGPIPE ignored). */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    int keep[] = { sync_fd, plan->exec_fifo_fd, plan->console_fd, plan->explain_fd };
    mc_close_fds_except(3 + (plan->preserve_fds > 0 ? plan->preserve_fds : 0), keep, 4);
    stage1(plan);
}

int mc_set_child_subreaper(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int mc_close_range_cloexec(unsigned int first)
{
    return syscall(SYS_close_range, first, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
}
