/* explain.c: `--explain` prints each kernel step with the reason for it. */
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
    if (write(mc_explain_fd, line, n) < 0) {
        /* nothing sensible to do: explain output is best effort */
    }
}
