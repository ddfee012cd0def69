/*
 * stage_init.c: stage 2, the container's own process, from fork to execve.
 *
 * The order follows runc's standard init so that the result is the same:
 * mounts (while the parent puts us into the cgroups) -> (parent runs createRuntime hooks) -> pivot_root -> console ->
 * read-only root -> hostname -> sysctls -> read-only/masked paths ->
 * no_new_privs -> seccomp (if privileged) -> user and capabilities ->
 * tell the parent "ready" -> wait on the exec fifo -> startContainer hooks ->
 * seccomp (if no_new_privs) -> execve.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

static const char *plan_getenv(const struct mc_plan *plan, const char *name)
{
    size_t len = strlen(name);
    for (const char *const *e = plan->envp; e && *e; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

/* Resolve argv[0] the way exec.LookPath does (runc does it before start, so a
 * missing program is an error of `create`, not a silent exit later). */
static int look_path(const struct mc_plan *plan, char *out, size_t outlen)
{
    const char *name = plan->argv[0];
    struct stat st;
    if (!name || !*name) {
        errno = EINVAL;
        return mc_fail("process.args: empty program name");
    }
    if (strchr(name, '/')) {
        if (stat(name, &st) < 0)
            return mc_fail("exec: \"%s\": stat", name);
        if (S_ISDIR(st.st_mode)) {
            errno = EISDIR;
            return mc_fail("exec: \"%s\"", name);
        }
        if (access(name, X_OK) < 0)   /* as the container's user: the identity is final */
            return mc_fail("exec: \"%s\"", name);
        snprintf(out, outlen, "%s", name);
        return 0;
    }
    const char *path = plan_getenv(plan, "PATH");
    if (!path) {
        errno = ENOENT;
        return mc_fail("exec: \"%s\": executable file not found in $PATH", name);
    }
    const char *p = path;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t dirlen = end ? (size_t)(end - p) : strlen(p);
        if (dirlen == 0)
            snprintf(out, outlen, "./%s", name);
        else
            snprintf(out, outlen, "%.*s/%s", (int)dirlen, p, name);
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return 0;
        if (!end)
            break;
        p = end + 1;
    }
    errno = ENOENT;
    return mc_fail("exec: \"%s\": executable file not found in $PATH", name);
}

/* Block until `start` opens the fifo for reading, then tell it we are going. */
static int wait_exec_fifo(const struct mc_plan *plan)
{
    char path[64];
    int fd;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", plan->exec_fifo_fd);
    mc_explain("open(exec.fifo, O_WRONLY)", "block here until `start` opens the other end");
    do
        fd = open(path, O_WRONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -1;
    if (write(fd, "0", 1) != 1) {
        close(fd);
        return -1;
    }
    close(fd);
    close(plan->exec_fifo_fd);
    return 0;
}

/* Wait until the parent has written our pid into the container's cgroups,
 * then root a new cgroup namespace there if the config asks for one. Once:
 * called where it is first needed. */
int mc_join_cgroups(const struct mc_plan *plan)
{
    static int joined;
    if (joined)
        return 0;
    joined = 1;
    if (mc_sync_wait(MC_SYNC_INIT_GO) < 0)
        return -1;
    if (mc_wants_new_namespace(plan, CLONE_NEWCGROUP)) {
        mc_explain("unshare(CLONE_NEWCGROUP)", "/proc/self/cgroup shows the container's cgroup as /");
        if (unshare(CLONE_NEWCGROUP) < 0)
            return mc_fail("unshare cgroup namespace");
    }
    return 0;
}

void mc_stage_init(const struct mc_plan *plan)
{
    char program[PATH_MAX];
    if (plan->new_session && setsid() < 0) {
        mc_fail("setsid");
        mc_die();
    }
    /* The parent makes the container's cgroups and puts us in while we
     * mount (its first cgroup write can wait out an RCU grace period). A
     * new cgroup namespace must exist before any mount, and the mounts of
     * the container's cgroup directories must wait for them: there, and
     * at the latest before the hooks, we wait for INIT_GO. */
    int cgroups_first = !plan->setup_rootfs || mc_wants_new_namespace(plan, CLONE_NEWCGROUP);
    if (cgroups_first && mc_join_cgroups(plan) < 0)
        mc_die();

    if (plan->setup_rootfs) {
        if (mc_prepare_rootfs(plan) < 0)
            mc_die();
        if (mc_join_cgroups(plan) < 0)
            mc_die();
        if (plan->parent_hooks) {
            if (mc_sync_send(MC_SYNC_HOOKS, 0, 0, NULL) < 0 || mc_sync_wait(MC_SYNC_HOOKS_DONE) < 0)
                mc_die();
        }
        /* the state (with our host pid) exists now; read it while the host is still visible */
        if (mc_load_hook_state(plan) < 0)
            mc_die();
        if (mc_run_create_hooks(plan) < 0)
            mc_die();
        if (mc_pivot_root(plan) < 0)
            mc_die();
    }
    if (mc_setup_console(plan) < 0)
        mc_die();
    if (plan->setup_rootfs && mc_finalize_rootfs(plan) < 0)
        mc_die();
    if (mc_set_hostname(plan) < 0)
        mc_die();
    if (mc_write_sysctls(plan) < 0)
        mc_die();
    if (plan->setup_rootfs && mc_mask_and_protect(plan) < 0)
        mc_die();
    if (mc_set_rlimits(plan) < 0)
        mc_die();
    if (plan->no_new_privs) {
        mc_explain("prctl(PR_SET_NO_NEW_PRIVS)", "execve can never grant more privileges (setuid bits, file caps)");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
            mc_fail("prctl(PR_SET_NO_NEW_PRIVS)");
            mc_die();
        }
    }
    /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the
     * process may be about to lose: load it while we still have it. */
    if (!plan->no_new_privs && mc_load_seccomp(plan) < 0)
        mc_die();
    if (mc_set_exec_label(plan) < 0)
        mc_die();
    if (mc_finalize_identity(plan) < 0)
        mc_die();
    if (look_path(plan, program, sizeof(program)) < 0)
        mc_die();

    /* Keep only stdio, the preserved fds and the ones still needed; the rest
     * (Python's, the runtime's) must not leak into the container. */
    unsigned int keep_until = 3 + (plan->preserve_fds > 0 ? plan->preserve_fds : 0);
    syscall(SYS_close_range, keep_until, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
    if (plan->exec_fifo_fd >= 0)
        fcntl(plan->exec_fifo_fd, F_SETFD, FD_CLOEXEC);

    if (mc_sync_send(MC_SYNC_READY, getpid(), 0, NULL) < 0)
        mc_die();

    if (plan->exec_fifo_fd >= 0) {
        /* From here on the parent is gone (`create` returned); errors can
         * only be reported on stderr, as runc does. Nothing but the fifo
         * stays open while we wait: see mc_close_fds_except. */
        int keep[] = { plan->exec_fifo_fd, mc_explain_fd };
        mc_close_fds_except(keep_until, keep, 2);
        mc_sync_fd = -1;
        if (wait_exec_fifo(plan) < 0) {
            perror("minictr: exec fifo");
            _exit(127);
        }
        if (mc_run_start_hooks(plan) < 0)
            _exit(127);
    }

    if (plan->no_new_privs && mc_load_seccomp(plan) < 0)
        mc_die();

    mc_explain("execve", "become %s; the sync socket closes on exec, telling the runtime it worked", program);
    execve(program, (char *const *)plan->argv, (char *const *)plan->envp);
    if (mc_sync_fd >= 0)
        mc_fail("exec %s", program);
    else
        fprintf(stderr, "minictr: exec %s: %s\n", program, strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);   /* a shell's codes: not found, not executable */
}
