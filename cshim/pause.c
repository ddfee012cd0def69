/*
 * pause.c: the pod sandbox's first process (kubernetes' pause image's job).
 *
 * It holds the pod's namespaces open by existing: it sleeps in pause() and
 * does nothing else. As PID 1 of a pod's pid namespace it is the reaper of
 * every orphan there, so SIGCHLD reaps all exited children at once. PID 1
 * gets no default signal actions, so SIGINT/SIGTERM need handlers to end it
 * (with status 0, the sandbox was stopped, it did not fail).
 * Built static (cshim/build.py): it runs in an empty rootfs with no libc.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAUSE_VERSION "minictr-pause 1"

static void on_stop(int signo)
{
    /* write(), not stdio: only async-signal-safe calls in a handler */
    static const char msg[] = "pause: shutting down\n";
    (void)signo;
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(0);
}

static void on_child(int signo)
{
    int saved = errno;
    (void)signo;
    /* one SIGCHLD may stand for many exits: reap until none is left */
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = saved;
}

static int handle(int signo, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(signo, &sa, NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        puts(PAUSE_VERSION);
        return 0;
    }
    if (getpid() != 1)
        fputs("pause: warning: not PID 1, orphans of this namespace are not reaped here\n", stderr);
    if (handle(SIGINT, on_stop, 0) < 0 || handle(SIGTERM, on_stop, 0) < 0
        || handle(SIGCHLD, on_child, SA_NOCLDSTOP | SA_RESTART) < 0) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;)
        pause();
    return 42; /* not reached */
}
