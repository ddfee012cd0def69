/* explain.c: `--explain` prints each kernel step with the reason for it. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

int mc_explain_fd = -1;

void mc_explain(const char *step, const char *why, ...)
{
    char line[1024];
    int n;
    va_list ap;
    if (mc_explain_fd < 0)
        return;
    n = snprintf(line, sizeof(line), "  [pid %d] %s: ", (int)getpid(), step);
    if (n < 0 || n >= (int)sizeof(line))
        return;
    va_start(ap, why);
    vsnprintf(line + n, sizeof(line) - n - 1, why, ap);
    va_end(ap);
    n = strlen(line);
    line[n++] = '\n';
    /* The reader may be gone (`minictr --explain run ... | head`): the write
     * must not kill the process setting up a container with SIGPIPE (its
     * disposition is the default here). Blocked, the signal stays pending;
     * it is taken back at once, as it is not the container's. */
    sigset_t pipe_sig, old;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_sig, &old);
    if (write(mc_explain_fd, line, n) < 0 && errno == EPIPE) {
        struct timespec now = { 0, 0 };
        sigtimedwait(&pipe_sig, NULL, &now);
        mc_explain_fd = -1;   /* nobody reads the trace any more */
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}
