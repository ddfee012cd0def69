/*
 * launch.c: start a container's init under its per-container shim.
 *
 * The shim must be an ancestor of the init, or it could neither reap it nor
 * learn its exit status; and the CLI that plans the container must be able
 * to exit while both live on. So the CLI forks twice (the middle process
 * exits at once, so nobody has to reap the shim), the grandchild becomes a
 * session leader and a child subreaper, gives the container its stdio, forks
 * stage 1 exactly as mc_spawn does (the init, orphaned when stage 1 exits,
 * is reparented to it), drops everything that belongs to the container and
 * execs the shim. The Python parent drives the spawn protocol over the sync
 * socket as usual; it only never waits for stage 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"

static void give_stdio(const struct mc_launch *l)
{
    /* Copy the sources out of 0..2 first: one may be another's target. */
    int src[3];
    for (int i = 0; i < 3; i++)
        src[i] = l->stdio[i] >= 0 ? fcntl(l->stdio[i], F_DUPFD_CLOEXEC, 3)
                                  : open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int i = 0; i < 3; i++) {
        if (src[i] < 0 || dup2(src[i], i) < 0)
            _exit(126);
        close(src[i]);
    }
}

static void become_shim(const struct mc_plan *plan, int sync_fd, const struct mc_launch *l)
    __attribute__((noreturn));
static void become_shim(const struct mc_plan *plan, int sync_fd, const struct mc_launch *l)
{
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    give_stdio(l);
    if (mc_spawn(plan, sync_fd) < 0)
        _exit(125);   /* the parent sees the sync socket close */
    /* Nothing of the container's may stay open here: a copy of its stdout
     * would keep the shim from ever seeing EOF, a copy of the sync socket
     * would hide stage 1's death from the parent. */
    close(sync_fd);
    int null = open("/dev/null", O_RDWR);
    for (int i = 0; i < 3; i++)
        dup2(null, i);
    if (null > 2)
        close(null);
    for (int i = 0; i < l->keep_count; i++)
        fcntl(l->keep[i], F_SETFD, 0);
    execv(l->shim_path, l->shim_argv);
    _exit(127);
}

pid_t mc_spawn_under_shim(const struct mc_plan *plan, int sync_fd, const struct mc_launch *l)
{
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0)
        return -1;
    fflush(NULL);
    pid_t middle = fork();
    if (middle < 0) {
        int e = errno;
        close(report[0]);
        close(report[1]);
        errno = e;
        return -1;
    }
    if (middle == 0) {
        close(report[0]);
        pid_t shim = fork();
        if (shim == 0)
            become_shim(plan, sync_fd, l);
        (void)!write(report[1], &shim, sizeof(shim));
        _exit(shim < 0);
    }
    close(report[1]);
    pid_t shim = -1;
    ssize_t n;
    do
        n = read(report[0], &shim, sizeof(shim));
    while (n < 0 && errno == EINTR);
    close(report[0]);
    while (waitpid(middle, NULL, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(shim) || shim < 0) {
        errno = EAGAIN;
        return -1;
    }
    return shim;
}
