/*
 * monitor_exit.c: how the container ended and what happens next.
 *   DIR/exit   {"exit_code":N,"signal":S|null,"oom_killed":B,"finished_at":T,
 *               "started_at":T|null,"create_failed":B}, written tmp+rename so a
 *               reader sees all of it or nothing
 *   exit code  docker's: the exit status, or 128+signal
 *   OOM        the cgroup's oom_kill counter rose while the container ran
 *   exit cmd   the engine's cleanup, detached (setsid, /dev/null), not waited for
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"

/* Go's RFC3339Nano in UTC (trailing zeros of the fraction dropped), as in
 * docker's log lines and container state. */
void now_rfc3339(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ts.tv_nsec && n + 11 < size) {
        n += (size_t)snprintf(out + n, size - n, ".%09ld", ts.tv_nsec);
        while (out[n - 1] == '0')
            out[--n] = '\0';
    }
    if (n + 2 <= size) {
        out[n] = 'Z';
        out[n + 1] = '\0';
    }
}

/* "oom_kill N" from v2 memory.events or v1 memory.oom_control; -1 unreadable. */
long long oom_count(void)
{
    char text[1024];
    if (read_small_file(S.oom_file, text, sizeof(text)) <= 0)
        return -1;
    for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, "oom_kill ", 9))
            return strtoll(line + 9, NULL, 10);
    return -1;
}

int exit_code_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 255;
}

void write_file_atomic(const char *name, const char *data, size_t len)
{
    char tmp[64];
    snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
    int fd = openat(S.dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        warnx_("write %s/%s: %s", S.dir, name, strerror(errno));
        return;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    if (off != len || renameat(S.dirfd, tmp, S.dirfd, name) < 0) {
        warnx_("write %s/%s: %s", S.dir, name, strerror(errno));
        unlinkat(S.dirfd, tmp, 0);
    }
}

int write_exit_record(void)
{
    char text[512], sig[16] = "null", started[48] = "null";
    if (!S.finished_at[0])
        now_rfc3339(S.finished_at, sizeof(S.finished_at));
    if (WIFSIGNALED(S.status))
        snprintf(sig, sizeof(sig), "%d", WTERMSIG(S.status));
    if (S.started_at[0])
        snprintf(started, sizeof(started), "\"%s\"", S.started_at);
    int n = snprintf(text, sizeof(text),
                     "{\"exit_code\":%d,\"signal\":%s,\"oom_killed\":%s,\"finished_at\":\"%s\","
                     "\"started_at\":%s,\"create_failed\":%s}\n",
                     exit_code_of(S.status), sig, S.oom_killed ? "true" : "false",
                     S.finished_at, started, S.create_failed ? "true" : "false");
    write_file_atomic("exit", text, (size_t)n);
    return 0;
}

void reset_child_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGTTOU, SIG_DFL);
    signal(SIGTTIN, SIG_DFL);
}

ssize_t read_small_file(const char *path, char *text, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, text, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    text[n] = '\0';
    return n;
}

void run_exit_command(void)
{
    if (!S.exit_cmd)
        return;
    pid_t pid = fork();
    if (pid != 0)
        return;                           /* not waited for: we exit right after */
    setsid();
    reset_child_signals();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        for (int fd = 0; fd < 3; fd++)
            dup2(null, fd);
    }
    syscall(SYS_close_range, 3U, ~0U, 0);
    execvp(S.exit_cmd[0], S.exit_cmd);
    _exit(127);
}
