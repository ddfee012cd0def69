/*
 * monitor_loop.c: the one poll() loop. SIGCHLD comes through a signalfd;
 * every other fd is non-blocking. Phases:
 *   create   run mode with --runtime-pid-file: wait for ARGV to exit
 *   running  container pid known (or, in adopt mode, on its way)
 *   drain    the init exited: read what is left in the pipes/pty
 * and, after the exit frame, loop_wait_clients() for claims and queues.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"

char iobuf[32768];

/* After the init exits, grandchildren may still hold the pipes open: stop
 * once they have been quiet this long, or at the latest after DRAIN_MAX. */
#define DRAIN_QUIET_MS 200
#define DRAIN_MAX_MS 2000
/* Queued frames still unsent this long after the exit frame are given up. */
#define FLUSH_MAX_MS 2000
/* Past this much unwritten stdin we stop reading clients (backpressure). */
#define STDIN_HIGH 65536

static int sigfd = -1;
static int pidfd_watch = -1;      /* pidfd of a container that is not our child (yet) */
static int watch_foreign;         /* ...and not our descendant: its status is lost */
static int orphan_check;          /* a descendant ended: reaped by us soon, or by its parent */
static long long exit_ms, last_data_ms;

/* Children reaped before the container's pid was known: it may be one. */
static struct { pid_t pid; int status; } *stash;
static int nstash, capstash;

static char pidtext[32];
static size_t pidlen;

int buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void buf_drop(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_free(b);   /* idle shims give their buffers back */
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* ---- stdin: pipe write end, or the pty master in tty mode ---- */

static int stdin_target(void)
{
    return S.master >= 0 ? S.master : S.stdin_fd;
}

static void stdin_flush(void)
{
    int fd = stdin_target();
    if (fd < 0)
        return;
    while (S.stdin_pending.len) {
        ssize_t n = write(fd, S.stdin_pending.data, S.stdin_pending.len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)          /* reader gone: nobody will read stdin */
                buf_free(&S.stdin_pending);
            break;
        }
        buf_drop(&S.stdin_pending, (size_t)n);
    }
    attach_pause_input(S.stdin_pending.len > STDIN_HIGH);
    if (!S.stdin_pending.len && S.stdin_closing && S.master < 0 && S.stdin_fd >= 0) {
        close_fd(&S.stdin_fd);            /* the container reads EOF */
        S.stdin_closing = 0;
    }
}

void stdin_write(const char *p, size_t n)
{
    if (S.exited || (S.master < 0 && S.stdin_fd < 0 && S.console_fd < 0
                     && S.console_listen < 0 && S.console_conn < 0))
        return;                           /* no stdin (now or ever) */
    buf_add(&S.stdin_pending, p, n);
    stdin_flush();
}

void stdin_close(void)
{
    if (S.master >= 0 || S.console_fd >= 0 || S.console_listen >= 0 || S.console_conn >= 0) {
        tty_send_eof();                   /* a tty has no half-close: VEOF */
        return;
    }
    S.stdin_closing = 1;
    stdin_flush();
}

/* ---- output ---- */

static void output(int stream, const char *p, size_t n)
{
    log_data(stream, p, n);
    attach_broadcast(stream, p, n);
    last_data_ms = now_ms();
}

/* One read per wakeup per fd keeps streams fair; EOF/EIO closes it (a pty
 * master reads EIO once no one holds the slave). */
static void read_stream(int *fd, int stream)
{
    ssize_t n = read(*fd, iobuf, sizeof(iobuf));
    if (n > 0)
        output(stream, iobuf, (size_t)n);
    else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        close_fd(fd);
}

/* ---- the container's life ---- */

static void container_exited(int status, int known)
{
    S.exited = 1;
    S.status = status;
    S.status_known = known;
    now_rfc3339(S.finished_at, sizeof(S.finished_at));
    if (S.oom_file) {
        long long end = oom_count();
        S.oom_killed = S.oom_start >= 0 && end > S.oom_start;
    }
    exit_ms = now_ms();
    /* nothing can read stdin any more */
    buf_free(&S.stdin_pending);
    attach_pause_input(0);
    close_fd(&S.stdin_fd);
    close_fd(&pidfd_watch);
}

static int find_stash(pid_t pid, int *status)
{
    for (int i = 0; i < nstash; i++)
        if (stash[i].pid == pid) {
            *status = stash[i].status;
            return 1;
        }
    return 0;
}

static pid_t parent_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char text[512];
    if (read_small_file(path, text, sizeof(text)) <= 0)
        return -1;
    char *p = strrchr(text, ')');         /* comm may hold spaces and ')' */
    char state;
    int ppid;
    if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return ppid;
}

/* Our descendant: its orphaned end comes to us (we are a subreaper). */
static int is_descendant(pid_t pid)
{
    for (int depth = 0; depth < 64 && pid > 1; depth++) {
        pid = parent_of(pid);
        if (pid == getpid())
            return 1;
    }
    return 0;
}

static void reap_all(void);

static void set_container_pid(pid_t pid)
{
    int status;
    S.container_pid = pid;
    now_rfc3339(S.started_at, sizeof(S.started_at));
    if (S.oom_file && S.oom_start < 0)
        S.oom_start = oom_count();        /* the cgroup may not have existed at start */
    reap_all();
    if (S.exited)
        return;
    if (find_stash(pid, &status)) {       /* exited before we knew its pid */
        container_exited(status, 1);
    } else if (parent_of(pid) != getpid()) {
        /* Not (yet) our child: a runtime's stage that forked it may still be
         * exiting, and then it comes to us. If it is not even our descendant
         * we can see it end through a pidfd, but not its status. */
        watch_foreign = !is_descendant(pid);
        pidfd_watch = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd_watch < 0 && watch_foreign)
            container_exited(255 << 8, 0);
    }
    free(stash);
    stash = NULL;
    nstash = capstash = 0;
}

/* The container's pidfd says it ended. */
static void watched_exit(void)
{
    close_fd(&pidfd_watch);
    if (watch_foreign)
        container_exited(255 << 8, 0);
    else
        orphan_check = 1;                 /* see check_orphan() */
}

/* A descendant that ended is a zombie until its parent exits (then it is
 * reparented to us, SIGCHLD) or reaps it: if it is gone without reaching
 * us, its status went to someone else. */
static void check_orphan(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d", (int)S.container_pid);
    if (!S.exited && access(path, F_OK) < 0)
        container_exited(255 << 8, 0);
}

/* Run mode: a runtime's create finished. */
static void create_failed(int status, const char *why)
{
    /* the runtime's error went to the container's stderr pipe (it hands its
     * own stdio to the container, as runc does): keep it for the engine */
    struct buf err = { 0 };
    if (why)
        buf_add(&err, why, strlen(why));
    if (S.stderr_fd >= 0) {
        set_nonblock(S.stderr_fd);
        ssize_t n;
        while (err.len < 65536 && (n = read(S.stderr_fd, iobuf, sizeof(iobuf))) > 0)
            buf_add(&err, iobuf, (size_t)n);
    }
    write_file_atomic("create-error", err.data ? err.data : "", err.len);
    buf_free(&err);
    S.create_failed = 1;
    container_exited(status, 1);
}

static void runtime_done(int status)
{
    S.creating = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        create_failed(status, NULL);
        return;
    }
    char text[32], why[600];
    int fd = open(S.runtime_pid_file, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
    int err = errno;
    if (fd >= 0)
        close(fd);
    long pid = 0;
    if (n > 0) {
        text[n] = '\0';
        char *end;
        pid = strtol(text, &end, 10);
        if (end == text || (*end && *end != '\n'))
            pid = 0;
    }
    if (pid <= 0) {
        snprintf(why, sizeof(why), "minictr-shim: no container pid in --runtime-pid-file %s: %s\n",
                 S.runtime_pid_file, n < 0 ? strerror(err) : "not a pid");
        create_failed(255 << 8, why);
        return;
    }
    set_container_pid((pid_t)pid);
    signal_ready(1);
}

static void on_child(pid_t pid, int status)
{
    if (S.exited)
        return;
    if (S.creating && pid == S.runtime_pid) {
        runtime_done(status);
    } else if (S.container_pid && pid == S.container_pid) {
        container_exited(status, 1);
    } else if (!S.container_pid) {
        if (nstash == capstash) {
            int cap = capstash ? capstash * 2 : 8;
            void *p = realloc(stash, (size_t)cap * sizeof(*stash));
            if (!p)
                return;
            stash = p;
            capstash = cap;
        }
        stash[nstash].pid = pid;
        stash[nstash++].status = status;
    }
    /* otherwise an orphaned grandchild: reaped, nothing to record */
}

static void reap_all(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        on_child(pid, status);
}

static void read_sigfd(void)
{
    struct signalfd_siginfo si[8];
    ssize_t n;
    int reopen = 0;
    while ((n = read(sigfd, si, sizeof(si))) > 0)
        for (ssize_t i = 0; i < n / (ssize_t)sizeof(si[0]); i++)
            reopen |= si[i].ssi_signo == SIGUSR1;
    if (reopen)
        log_reopen();
    reap_all();
}

/* Adopt mode: "PID\n" on --pid-fd; EOF without it = the launcher died. */
static void read_pid_fd(void)
{
    ssize_t n = read(S.pid_fd, pidtext + pidlen, sizeof(pidtext) - 1 - pidlen);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        pidlen += (size_t)n;
        pidtext[pidlen] = '\0';
        if (!memchr(pidtext, '\n', pidlen) && pidlen < sizeof(pidtext) - 1)
            return;
    }
    close_fd(&S.pid_fd);
    char *end;
    long pid = strtol(pidtext, &end, 10);
    if (pidlen && end != pidtext && pid > 0 && (*end == '\n' || *end == '\0')) {
        set_container_pid((pid_t)pid);
        return;
    }
    /* no pid will come: nothing would ever manage what the launcher left */
    kill_all_children();
    S.create_failed = 1;
    int status = S.status;
    container_exited(status, 1);
}

/* ---- the loop ---- */

enum { W_SIG, W_PIDFD, W_WATCH, W_CONSFD, W_CONSLISTEN, W_CONSCONN, W_MASTER,
       W_STDOUT, W_STDERR, W_STDIN, W_COUNT };

static int drained(void)
{
    if (S.master < 0 && S.stdout_fd < 0 && S.stderr_fd < 0)
        return 1;
    long long now = now_ms();
    long long quiet_since = last_data_ms > exit_ms ? last_data_ms : exit_ms;
    return now - quiet_since >= DRAIN_QUIET_MS || now - exit_ms >= DRAIN_MAX_MS;
}

static int drain_timeout(void)
{
    long long now = now_ms();
    long long quiet_since = last_data_ms > exit_ms ? last_data_ms : exit_ms;
    long long a = quiet_since + DRAIN_QUIET_MS - now, b = exit_ms + DRAIN_MAX_MS - now;
    long long t = a < b ? a : b;
    return t < 0 ? 0 : (int)t + 1;
}

int loop_run(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR1);
    sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0) {
        warnx_("signalfd: %s", strerror(errno));
        exit(1);
    }
    int *fds[] = { &S.pid_fd, &S.stdin_fd, &S.stdout_fd, &S.stderr_fd, &S.console_fd };
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (*fds[i] >= 0)
            set_nonblock(*fds[i]);
    reap_all();                           /* a child may have ended before the signalfd */

    struct pollfd *pfd = NULL;
    int cap = 0;
    for (;;) {
        if (S.exited && (S.create_failed && S.argv))
            break;
        if (S.exited && drained())
            break;
        int need = W_COUNT + 1 + attach_nclients();
        if (need > cap) {
            struct pollfd *p = realloc(pfd, (size_t)need * sizeof(*pfd));
            if (!p) {
                warnx_("out of memory");
                exit(1);
            }
            pfd = p;
            cap = need;
        }
        int out_ok = !S.creating;     /* a runtime's create output stays in the pipe */
        int in_fd = S.master < 0 ? S.stdin_fd : -1;
        struct { int fd; short ev; } w[W_COUNT] = {
            [W_SIG] = { sigfd, POLLIN },
            [W_PIDFD] = { S.pid_fd, POLLIN },
            [W_WATCH] = { pidfd_watch, POLLIN },
            [W_CONSFD] = { S.master < 0 ? S.console_fd : -1, POLLIN },
            [W_CONSLISTEN] = { S.console_listen, POLLIN },
            [W_CONSCONN] = { S.console_conn, POLLIN },
            [W_MASTER] = { S.master, POLLIN | (S.stdin_pending.len ? POLLOUT : 0) },
            [W_STDOUT] = { out_ok ? S.stdout_fd : -1, POLLIN },
            [W_STDERR] = { out_ok ? S.stderr_fd : -1, POLLIN },
            [W_STDIN] = { S.stdin_pending.len || S.stdin_closing ? in_fd : -1, POLLOUT },
        };
        for (int i = 0; i < W_COUNT; i++) {
            pfd[i].fd = w[i].fd;          /* poll skips negative fds */
            pfd[i].events = w[i].ev;
            pfd[i].revents = 0;
        }
        int na = attach_pollfds(pfd + W_COUNT, cap - W_COUNT);
        int timeout = S.exited ? drain_timeout() : orphan_check ? 50 : -1;
        int r = poll(pfd, (nfds_t)(W_COUNT + na), timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            warnx_("poll: %s", strerror(errno));
            exit(1);
        }
        attach_accept(pfd + W_COUNT, na);
        if (pfd[W_SIG].revents)
            read_sigfd();
        if (pfd[W_PIDFD].revents && S.pid_fd >= 0)
            read_pid_fd();
        if (pfd[W_WATCH].revents && pidfd_watch >= 0 && !S.exited)
            watched_exit();
        if (orphan_check && !S.exited) {
            reap_all();
            check_orphan();
        }
        if (pfd[W_CONSFD].revents && S.console_fd >= 0)
            console_receive(&S.console_fd);
        if (pfd[W_CONSLISTEN].revents && S.console_listen >= 0)
            console_accept();
        if (pfd[W_CONSCONN].revents && S.console_conn >= 0)
            console_receive(&S.console_conn);
        if (pfd[W_MASTER].revents & POLLOUT)
            stdin_flush();
        if ((pfd[W_MASTER].revents & (POLLIN | POLLHUP | POLLERR)) && S.master >= 0)
            read_stream(&S.master, STREAM_STDOUT);
        if (pfd[W_STDOUT].revents && S.stdout_fd >= 0)
            read_stream(&S.stdout_fd, STREAM_STDOUT);
        if (pfd[W_STDERR].revents && S.stderr_fd >= 0)
            read_stream(&S.stderr_fd, STREAM_STDERR);
        if (pfd[W_STDIN].revents) {
            if (pfd[W_STDIN].revents & (POLLERR | POLLHUP))
                buf_free(&S.stdin_pending);   /* the container closed its stdin */
            stdin_flush();
        }
        attach_events(pfd + W_COUNT, na);
    }
    free(pfd);
    close_fd(&S.master);
    close_fd(&S.stdout_fd);
    close_fd(&S.stderr_fd);
    close_fd(&S.console_fd);
    close_fd(&S.console_conn);
    if (S.console_listen >= 0) {
        close_fd(&S.console_listen);
        unlink(S.console_socket);
    }
    return 0;
}

/* After the exit frame: wait for a claiming client's verdict (done, or gone
 * without it), and give queued frames a moment to leave. New clients get the
 * exit frame at once. */
void loop_wait_clients(void)
{
    long long start = now_ms();
    struct pollfd *pfd = NULL;
    int cap = 0;
    /* A client may have connected, and sent its claim, just before the
     * exit without our having read it yet (a busy machine): take in all
     * that is already queued before deciding that nobody claimed. Closing
     * with its claim unread would also reset its connection. */
    int drained = 0;
    for (;;) {
        if (attach_cleanup_done())
            break;
        int claimed = attach_claimed();
        long long left = start + FLUSH_MAX_MS - now_ms();
        if (!claimed && drained && (attach_flushed() || left <= 0))
            break;
        int need = 1 + 1 + attach_nclients();
        if (need > cap) {
            struct pollfd *p = realloc(pfd, (size_t)need * sizeof(*pfd));
            if (!p)
                break;
            pfd = p;
            cap = need;
        }
        pfd[0].fd = sigfd;
        pfd[0].events = POLLIN;
        pfd[0].revents = 0;
        int na = attach_pollfds(pfd + 1, cap - 1);
        int r = poll(pfd, (nfds_t)(1 + na), !drained ? 0 : claimed ? -1 : (int)(left > 0 ? left : 0));
        if (r < 0 && errno != EINTR)
            break;
        if (r == 0 || now_ms() - start > 100)   /* a client that never stops sending cannot hold us */
            drained = 1;
        if (r <= 0)
            continue;
        if (pfd[0].revents)
            read_sigfd();                 /* orphans still come to us: no zombies */
        attach_events(pfd + 1, na);
    }
    free(pfd);
}
