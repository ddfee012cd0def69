/*
 * monitor_attach.c: DIR/attach, a SOCK_SEQPACKET listener. One message is one
 * frame; its first byte is the type (monitor.h). Output is sent live to every
 * client, never replayed. A client whose socket is full gets its frames
 * queued; past QUEUE_MAX it is dropped, so a stuck client never stalls the
 * container or the log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "monitor.h"

#define QUEUE_MAX (1 << 20)

struct client {
    int fd;
    int claimed, done, dead;
    struct buf queue;          /* frames as [u32 length][frame bytes] */
};

static struct client *clients;
static int nclients, capclients;
static int listen_fd = -1;
static int exit_code = -1;     /* >= 0 once the exit frame went out */
static int input_paused;
static int cleanup_done;

int attach_nclients(void)
{
    return nclients;
}

/* SOCK_SEQPACKET keeps frame boundaries, so a client reads exactly one frame
 * per recv. The path goes through /proc/self/fd: DIR may be longer than
 * sun_path's 108 bytes. */
int attach_listen(void)
{
    listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0)
        return -1;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/attach", S.dirfd);
    unlinkat(S.dirfd, "attach", 0);       /* a previous run's socket */
    if (bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(listen_fd, 16) < 0)
        return -1;
    return 0;
}

static void drop(struct client *c)
{
    if (c->dead)
        return;
    close(c->fd);
    buf_free(&c->queue);
    c->dead = 1;
}

/* Send queued frames until the socket is full. */
static void flush_client(struct client *c)
{
    while (c->queue.len && !c->dead) {
        unsigned int len;
        memcpy(&len, c->queue.data, sizeof(len));
        ssize_t n = send(c->fd, c->queue.data + sizeof(len), len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                drop(c);
            return;
        }
        buf_drop(&c->queue, sizeof(len) + len);
    }
}

static void send_frame(struct client *c, int type, const char *p, size_t n)
{
    if (c->dead)
        return;
    unsigned char t = (unsigned char)type;
    if (!c->queue.len) {
        struct iovec iov[2] = { { &t, 1 }, { (void *)p, n } };
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
        ssize_t r;
        while ((r = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 && errno == EINTR)
            ;
        if (r >= 0)
            return;
        if (errno != EAGAIN) {
            drop(c);
            return;
        }
    }
    if (c->queue.len + n + 5 > QUEUE_MAX) {   /* it stays full: give up on it */
        drop(c);
        return;
    }
    unsigned int len = (unsigned int)n + 1;
    if (buf_add(&c->queue, &len, sizeof(len)) < 0 || buf_add(&c->queue, &t, 1) < 0
        || buf_add(&c->queue, p, n) < 0)
        drop(c);
}

void attach_broadcast(int type, const char *p, size_t n)
{
    for (int i = 0; i < nclients; i++)
        send_frame(&clients[i], type, p, n);
}

void attach_send_exit(int code)
{
    char text[16];
    exit_code = code;
    int n = snprintf(text, sizeof(text), "%d", code);
    attach_broadcast(FRAME_EXIT, text, (size_t)n);
}

static void accept_clients(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (nclients == capclients) {
            int cap = capclients ? capclients * 2 : 4;
            struct client *p = realloc(clients, (size_t)cap * sizeof(*p));
            if (!p) {
                close(fd);
                return;
            }
            clients = p;
            capclients = cap;
        }
        struct client *c = &clients[nclients++];
        memset(c, 0, sizeof(*c));
        c->fd = fd;
        if (exit_code >= 0) {             /* too late for output: just the end */
            char text[16];
            int n = snprintf(text, sizeof(text), "%d", exit_code);
            send_frame(c, FRAME_EXIT, text, (size_t)n);
        }
    }
}

static void handle_frame(struct client *c, const char *p, size_t n)
{
    if (!n)
        return;
    switch ((unsigned char)p[0]) {
    case FRAME_STDIN:
        if (n > 1)
            stdin_write(p + 1, n - 1);
        break;
    case FRAME_RESIZE: {
        char text[32];
        size_t len = n - 1 < sizeof(text) - 1 ? n - 1 : sizeof(text) - 1;
        memcpy(text, p + 1, len);
        text[len] = '\0';
        int rows, cols;
        if (sscanf(text, "%d %d", &rows, &cols) == 2 && rows > 0 && cols > 0)
            tty_resize(rows, cols);
        break;
    }
    case FRAME_CLOSE_STDIN:
        stdin_close();
        break;
    case FRAME_CLAIM:
        c->claimed = 1;
        break;
    case FRAME_DONE:
        c->done = 1;
        cleanup_done = 1;
        break;
    default:
        break;                            /* unknown frames are ignored */
    }
}

/* Compact away dropped clients, then one pollfd per client after the
 * listener's. Returns the count. */
int attach_pollfds(struct pollfd *pfd, int max)
{
    int j = 0;
    for (int i = 0; i < nclients; i++)
        if (!clients[i].dead)
            clients[j++] = clients[i];
    nclients = j;
    int n = 0;
    if (max < 1 + nclients)
        return 0;
    pfd[n].fd = listen_fd;
    pfd[n].events = POLLIN;
    pfd[n++].revents = 0;
    for (int i = 0; i < nclients; i++) {
        pfd[n].fd = clients[i].fd;
        pfd[n].events = (short)((input_paused ? 0 : POLLIN) | (clients[i].queue.len ? POLLOUT : 0));
        pfd[n++].revents = 0;
    }
    return n;
}

/* Before any output of this wakeup is read: a client that connected before
 * the container could write (run attaches, then starts) must see all of it,
 * even when its connection and the first output arrive in one wakeup. */
void attach_accept(struct pollfd *pfd, int n)
{
    if (n >= 1 && pfd[0].revents)
        accept_clients();
}

void attach_events(struct pollfd *pfd, int n)
{
    if (n < 1)
        return;
    int count = n - 1;                    /* clients accepted since poll are not in pfd */
    for (int i = 0; i < count && i < nclients; i++) {
        struct client *c = &clients[i];
        short ev = pfd[1 + i].revents;
        if (!ev || c->dead)
            continue;
        if (ev & POLLOUT)
            flush_client(c);
        if (ev & POLLIN) {
            /* a few frames per wakeup: other fds get their turn */
            for (int k = 0; k < 16 && !c->dead && !input_paused; k++) {
                ssize_t r = recv(c->fd, iobuf, sizeof(iobuf), MSG_DONTWAIT);
                if (r > 0) {
                    handle_frame(c, iobuf, (size_t)r);
                    continue;
                }
                if (r == 0 || (errno != EAGAIN && errno != EINTR))
                    drop(c);
                break;
            }
        } else if (ev & (POLLHUP | POLLERR)) {
            drop(c);
        }
    }
}

void attach_pause_input(int paused)
{
    input_paused = paused;
}

int attach_claimed(void)
{
    for (int i = 0; i < nclients; i++)
        if (!clients[i].dead && clients[i].claimed && !clients[i].done)
            return 1;
    return 0;
}

int attach_cleanup_done(void)
{
    return cleanup_done;
}

int attach_flushed(void)
{
    for (int i = 0; i < nclients; i++)
        if (!clients[i].dead && clients[i].queue.len)
            return 0;
    return 1;
}

void attach_close(void)
{
    for (int i = 0; i < nclients; i++)
        drop(&clients[i]);
    nclients = 0;
    free(clients);
    clients = NULL;
    capclients = 0;
    if (listen_fd >= 0) {
        close(listen_fd);
        listen_fd = -1;
        unlinkat(S.dirfd, "attach", 0);
    }
}
