/*
 * monitor_tty.c: tty mode. The container's pty master reaches us with
 * SCM_RIGHTS, either on an inherited socket (--console-fd, what
 * cshim/console.c sends on) or on a socket we listen on (--console-socket,
 * what `runc create --console-socket` connects to). From then on the master
 * carries stdout (one stream) and stdin; resizes are TIOCSWINSZ on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "monitor.h"

static struct winsize pending_size;   /* a resize that came before the master */

/* Listen on PATH; like DIR, it may be longer than sun_path, so bind through
 * /proc/self/fd/<parent dir>/<name>. */
int console_listen_path(const char *path)
{
    char *a = strdup(path), *b = strdup(path);
    if (!a || !b)
        return -1;
    const char *name = basename(b);
    int parent = open(dirname(a), O_PATH | O_DIRECTORY | O_CLOEXEC);
    int rc = -1;
    if (parent < 0)
        goto out;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if ((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", parent, name)
        >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        goto out;
    }
    S.console_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (S.console_listen < 0)
        goto out;
    unlinkat(parent, name, 0);
    if (bind(S.console_listen, (struct sockaddr *)&addr, sizeof(addr)) < 0
        || listen(S.console_listen, 1) < 0)
        goto out;
    rc = 0;
out:
    if (parent >= 0)
        close(parent);
    free(a);
    free(b);
    return rc;
}

void console_accept(void)
{
    int fd = accept4(S.console_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (S.console_conn >= 0)
        close(S.console_conn);            /* the latest connection wins */
    S.console_conn = fd;
}

static void apply_size(void)
{
    if (S.master >= 0 && pending_size.ws_row)
        ioctl(S.master, TIOCSWINSZ, &pending_size);
}

void console_receive(int *fdp)
{
    char name[256];
    char control[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = { name, sizeof(name) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control, .msg_controllen = sizeof(control) };
    ssize_t n = recvmsg(*fdp, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    int got = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int fds[4];
        memcpy(fds, CMSG_DATA(c), (size_t)nfds * sizeof(int));
        for (int i = 0; i < nfds; i++) {
            if (got < 0)
                got = fds[i];
            else
                close(fds[i]);
        }
    }
    if (got < 0 && n > 0)
        return;                           /* a message without an fd: keep waiting */
    /* got the master, or EOF/error: this socket has served its purpose */
    close(*fdp);
    *fdp = -1;
    if (got < 0)
        return;
    if (S.master >= 0)
        close(S.master);
    S.master = got;
    set_nonblock(S.master);
    apply_size();
    if (S.console_listen >= 0) {
        close(S.console_listen);
        S.console_listen = -1;
        unlink(S.console_socket);
    }
}

void tty_resize(int rows, int cols)
{
    pending_size.ws_row = (unsigned short)rows;
    pending_size.ws_col = (unsigned short)cols;
    apply_size();
}

/* A tty has no half-close: the line discipline's VEOF char makes a reader
 * at the start of a line see EOF, which is what closing stdin means there. */
void tty_send_eof(void)
{
    char c = 4;                           /* ^D, unless the container changed it */
    struct termios t;
    if (S.master >= 0 && tcgetattr(S.master, &t) == 0 && t.c_cc[VEOF])
        c = (char)t.c_cc[VEOF];
    stdin_write(&c, 1);
}
