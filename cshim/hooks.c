/*
 * hooks.c: startContainer hooks, which the spec says run inside the
 * container after `start` and before the user's program. The state JSON goes
 * to each hook's stdin; a failing hook stops the container.
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

static int run_hook(const struct mc_hook *h, const char *state)
{
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
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
        if (r < 0 && errno != EINTR)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (h->timeout > 0 && now.tv_sec - start.tv_sec >= h->timeout) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "minictr: startContainer hook %s timed out after %ds\n", h->path, h->timeout);
            return -1;
        }
        struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
        nanosleep(&ten_ms, NULL);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "minictr: startContainer hook %s failed (status %d)\n", h->path, status);
        return -1;
    }
    return 0;
}

static char hook_state[65536];

int mc_load_hook_state(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mc_fail("open hook state %s", path);
    ssize_t n = read(fd, hook_state, sizeof(hook_state) - 1);
    close(fd);
    if (n < 0)
        return mc_fail("read hook state %s", path);
    hook_state[n] = '\0';
    return 0;
}

int mc_run_start_hooks(const struct mc_plan *plan)
{
    for (int i = 0; i < plan->start_hook_count; i++) {
        mc_explain("fork+execve hook", "startContainer hook %s, inside the container", plan->start_hooks[i].path);
        if (run_hook(&plan->start_hooks[i], hook_state) < 0)
            return -1;
    }
    return 0;
}
