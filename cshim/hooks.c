/*
 * hooks.c: the hooks the spec runs in the container's namespaces, so the
 * container's init runs them itself: createContainer (after the mounts,
 * before pivot_root, so paths still resolve as on the host) and
 * startContainer (after `start`, before the user's program). The state JSON
 * goes to each hook's stdin; a failing hook stops the container.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

/* Returns 0, or -1 with `why` filled in. */
static int run_hook(const struct mc_hook *h, const char *state, char *why, size_t whylen)
{
    int pipefd[2];
    if (pipe(pipefd) < 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(pipefd[0], 0);
        close(pipefd[0]);
        close(pipefd[1]);
        const char *argv0[] = { h->path, NULL };
        const char *envp0[] = { NULL };
        execve(h->path, (char *const *)(h->args && h->args[0] ? h->args : argv0),
               (char *const *)(h->env ? h->env : envp0));
        _exit(127);
    }
    close(pipefd[0]);
    size_t len = strlen(state);
    if (write(pipefd[1], state, len) < 0) {
        /* a hook may not read its stdin */
    }
    close(pipefd[1]);
    int status;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t r = waitpid(pid, &status, h->timeout > 0 ? WNOHANG : 0);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            snprintf(why, whylen, "waitpid: %s", strerror(errno));
            return -1;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (h->timeout > 0 && now.tv_sec - start.tv_sec >= h->timeout) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(why, whylen, "%s timed out after %ds", h->path, h->timeout);
            return -1;
        }
        struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
        nanosleep(&ten_ms, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        snprintf(why, whylen, "cannot run %s", h->path);
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        snprintf(why, whylen, "%s exited with status %d", h->path, WEXITSTATUS(status));
        return -1;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, whylen, "%s killed by signal %d", h->path, WTERMSIG(status));
        return -1;
    }
    return 0;
}

/* The state JSON for each kind of hook, read before pivot_root while the
 * host's files are still visible. */
static char create_state[65536], start_state[65536];

static int load_state(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mc_fail("open hook state %s", path);
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return mc_fail("read hook state %s", path);
    buf[n] = '\0';
    return 0;
}

int mc_load_hook_state(const struct mc_plan *plan)
{
    if (plan->create_hook_count > 0 && load_state(plan->create_state_json, create_state, sizeof(create_state)) < 0)
        return -1;
    if (plan->start_hook_count > 0 && load_state(plan->state_json, start_state, sizeof(start_state)) < 0)
        return -1;
    return 0;
}

/* createContainer: a failure is an error of `create`, reported through the
 * sync socket like any other setup step. */
int mc_run_create_hooks(const struct mc_plan *plan)
{
    char why[512];
    for (int i = 0; i < plan->create_hook_count; i++) {
        mc_explain("fork+execve hook", "createContainer hook %s, in the container's namespaces before pivot_root",
                   plan->create_hooks[i].path);
        if (run_hook(&plan->create_hooks[i], create_state, why, sizeof(why)) < 0) {
            errno = 0;
            return mc_fail("hooks.createContainer[%d]: %s", i, why);
        }
    }
    return 0;
}

/* startContainer: `start` has returned already; the message goes to the
 * container's stderr, as runc's does, and the container stops. */
int mc_run_start_hooks(const struct mc_plan *plan)
{
    char why[512];
    for (int i = 0; i < plan->start_hook_count; i++) {
        mc_explain("fork+execve hook", "startContainer hook %s, inside the container", plan->start_hooks[i].path);
        if (run_hook(&plan->start_hooks[i], start_state, why, sizeof(why)) < 0) {
            fprintf(stderr, "minictr: hooks.startContainer[%d]: %s\n", i, why);
            return -1;
        }
    }
    return 0;
}
