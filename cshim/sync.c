/* sync.c: the numbered messages between the C stages and the Python parent. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"

int mc_sync_fd = -1;

int mc_sync_send(int type, int value, int err, const char *text)
{
    struct mc_sync msg;
    memset(&msg, 0, sizeof(msg));
    msg.type = type;
    msg.value = value;
    msg.err = err;
    if (text)
        snprintf(msg.text, sizeof(msg.text), "%s", text);
    for (;;) {
        ssize_t n = send(mc_sync_fd, &msg, sizeof(msg), MSG_NOSIGNAL);
        if (n >= 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Block until the parent sends `expected`; anything else is a protocol error. */
int mc_sync_wait(int expected)
{
    struct mc_sync msg;
    for (;;) {
        ssize_t n = recv(mc_sync_fd, &msg, sizeof(msg), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(msg)) {
            errno = n < 0 ? errno : EPIPE;
            return mc_fail("waiting for the runtime (sync message %d)", expected);
        }
        if (msg.type != expected) {
            errno = EPROTO;
            return mc_fail("sync: expected message %d, got %d", expected, msg.type);
        }
        return 0;
    }
}

int mc_fail(const char *fmt, ...)
{
    int saved = errno;
    char text[sizeof(((struct mc_sync *)0)->text)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    mc_sync_send(MC_SYNC_ERROR, 0, saved, text);
    errno = saved;
    return -1;
}

void mc_warn(const char *fmt, ...)
{
    char text[sizeof(((struct mc_sync *)0)->text)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    mc_sync_send(MC_SYNC_WARNING, 0, 0, text);
}

/* The error has been reported; leave without running any atexit handlers of
 * the Python process we were forked from. */
void mc_die(void)
{
    _exit(127);
}
