/*
 * monitor_main.c: minictr-shim's command line, process set-up, run mode's
 * child and the ordered end (drain, exit record, exit frame, claims, exit
 * command). See monitor.h for the other files.
 *
 *   minictr-shim --dir DIR [options] [-- ARGV...]
 *
 * Adopt mode (--pid-fd): the launcher forked the container before exec'ing
 * us, so it is already our child; its pid arrives later on the pid fd.
 * Run mode (-- ARGV): we fork ARGV ourselves; with --runtime-pid-file ARGV is
 * a runtime's "create" and the container is the process named in that file
 * once ARGV exits 0 (reparented to us: we are a child subreaper).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"

struct shim S;

static void vwarn(const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    dprintf(2, "minictr-shim: %s\n", msg);
}

void warnx_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarn(fmt, ap);
    va_end(ap);
}

/* Bad input: one line naming the option, exit 2 (nothing was created yet). */
static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarn(fmt, ap);
    va_end(ap);
    exit(2);
}

static long long parse_num(const char *opt, const char *val, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (!*val || *end || errno || v < 0 || v > max)
        usage_error("%s: not a valid number: '%s'", opt, val);
    return v;
}

static int parse_fd(const char *opt, const char *val)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (!*val || *end || errno || v < 0 || v > INT_MAX)
        usage_error("%s: not a file descriptor number: '%s'", opt, val);
    if (fcntl((int)v, F_GETFD) < 0)
        usage_error("%s %ld: %s", opt, v, strerror(errno));
    return (int)v;
}

static void parse_args(int argc, char **argv)
{
    int nexit = 0;
    S.pid_fd = S.stdin_fd = S.stdout_fd = S.stderr_fd = S.console_fd = S.ready_fd = -1;
    S.master = S.console_listen = S.console_conn = -1;
    S.log_max_file = 1;
    S.oom_start = -1;
    S.exit_cmd = calloc((size_t)argc + 1, sizeof(char *));
    if (!S.exit_cmd)
        usage_error("out of memory");

    for (int i = 1; i < argc; i++) {
        char *opt = argv[i], *val = NULL;
        if (!strcmp(opt, "--")) {
            S.argv = argv + i + 1;
            if (!S.argv[0])
                usage_error("'--' must be followed by a command");
            break;
        }
        if (!strcmp(opt, "--stdin")) {
            S.want_stdin = 1;
            continue;
        }
        if (strncmp(opt, "--", 2) != 0)
            usage_error("unexpected argument '%s' (a command goes after '--')", opt);
        char *eq = strchr(opt, '=');   /* --opt=value as well as --opt value */
        if (eq) {
            *eq = '\0';
            val = eq + 1;
        }
#define IS(name) (!strcmp(opt, name))
        int known = IS("--dir") || IS("--pid-fd") || IS("--stdin-fd") || IS("--stdout-fd")
            || IS("--stderr-fd") || IS("--console-fd") || IS("--console-socket")
            || IS("--runtime-pid-file") || IS("--log-path") || IS("--log-max-size")
            || IS("--log-max-file") || IS("--exit-command") || IS("--exit-arg")
            || IS("--oom-file") || IS("--ready-fd") || IS("--exit-delay-ms")
            || IS("--log-format");
        if (!known)
            usage_error("unknown option '%s'", opt);
        if (!val) {
            if (i + 1 >= argc)
                usage_error("%s needs a value", opt);
            val = argv[++i];
        }
        if (IS("--dir")) S.dir = val;
        else if (IS("--pid-fd")) S.pid_fd = parse_fd(opt, val);
        else if (IS("--stdin-fd")) S.stdin_fd = parse_fd(opt, val);
        else if (IS("--stdout-fd")) S.stdout_fd = parse_fd(opt, val);
        else if (IS("--stderr-fd")) S.stderr_fd = parse_fd(opt, val);
        else if (IS("--console-fd")) S.console_fd = parse_fd(opt, val);
        else if (IS("--ready-fd")) S.ready_fd = parse_fd(opt, val);
        else if (IS("--console-socket")) S.console_socket = val;
        else if (IS("--runtime-pid-file")) S.runtime_pid_file = val;
        else if (IS("--log-path")) S.log_path = val;
        else if (IS("--log-format")) {
            if (!strcmp(val, "json-file"))
                S.log_format = LOG_JSON_FILE;
            else if (!strcmp(val, "cri"))
                S.log_format = LOG_CRI;
            else
                usage_error("--log-format: '%s' is neither 'json-file' nor 'cri'", val);
        }
        else if (IS("--log-max-size")) S.log_max_size = parse_num(opt, val, LLONG_MAX);
        else if (IS("--log-max-file")) {
            S.log_max_file = (int)parse_num(opt, val, 1000000);
            if (S.log_max_file < 1)
                usage_error("--log-max-file: must be at least 1");
        }
        else if (IS("--oom-file")) S.oom_file = val;
        else if (IS("--exit-delay-ms")) S.exit_delay_ms = (long)parse_num(opt, val, 3600000);
        else if (IS("--exit-command")) {
            if (nexit)
                usage_error("--exit-command given twice");
            S.exit_cmd[nexit++] = val;
        } else if (IS("--exit-arg")) {
            if (!nexit)
                usage_error("--exit-arg must follow --exit-command");
            S.exit_cmd[nexit++] = val;
        }
#undef IS
    }
    if (!nexit) {
        free(S.exit_cmd);
        S.exit_cmd = NULL;
    }
    if (!S.dir || !*S.dir)
        usage_error("--dir is required");
    if (S.pid_fd >= 0 && S.argv)
        usage_error("--pid-fd (adopt mode) and a command after '--' (run mode) exclude each other");
    if (S.pid_fd < 0 && !S.argv)
        usage_error("need --pid-fd (adopt mode) or a command after '--' (run mode)");
    if (S.console_fd >= 0 && S.console_socket)
        usage_error("--console-fd and --console-socket exclude each other");
    if (!S.argv && (S.console_socket || S.runtime_pid_file || S.want_stdin))
        usage_error("%s is for run mode (a command after '--')",
                    S.console_socket ? "--console-socket"
                    : S.runtime_pid_file ? "--runtime-pid-file" : "--stdin");
}

/* Hold only the fds we were given: a stray copy of a pipe's write end would
 * keep the container's output from ever reaching EOF. */
static void close_other_fds(void)
{
    int keep[8] = { S.pid_fd, S.stdin_fd, S.stdout_fd, S.stderr_fd, S.console_fd, S.ready_fd, -1, -1 };
    /* sort the kept fds, then close the gaps between them */
    for (int i = 0; i < 8; i++)
        for (int j = i + 1; j < 8; j++)
            if (keep[j] < keep[i]) {
                int t = keep[i]; keep[i] = keep[j]; keep[j] = t;
            }
    unsigned int from = 3;
    for (int i = 0; i < 8; i++) {
        if (keep[i] < (int)from)
            continue;
        if ((unsigned int)keep[i] > from)
            syscall(SYS_close_range, from, (unsigned int)keep[i] - 1, 0);
        from = (unsigned int)keep[i] + 1;
    }
    syscall(SYS_close_range, from, ~0U, 0);
}

/* fds 0-2 always open (on /dev/null if missing), so no pipe we make lands on them. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0) {
            int n = open("/dev/null", O_RDWR);
            if (n >= 0 && n != fd) {
                dup2(n, fd);
                close(n);
            }
        }
}

void signal_ready(int ok)
{
    if (S.ready_fd < 0)
        return;
    if (ok) {
        char c = 'r';
        while (write(S.ready_fd, &c, 1) < 0 && errno == EINTR)
            ;
    }
    close(S.ready_fd);   /* EOF without the byte: create failed, see DIR/create-error */
    S.ready_fd = -1;
}

/* Children listed by the kernel for our (only) thread. */
static int list_children(pid_t *out, int max)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, iobuf, sizeof(iobuf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    iobuf[n] = '\0';
    int count = 0;
    char *p = iobuf, *end;
    while (count < max) {
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        out[count++] = (pid_t)v;
        p = end;
    }
    return count;
}

/* The launcher died before telling us the container's pid: nothing will ever
 * manage these processes, so kill and reap them all (orphans reparented to
 * us meanwhile included). Returns through S.status: 137 if we killed any. */
void kill_all_children(void)
{
    pid_t kids[256];
    int killed = 0;
    for (int round = 0; round < 50; round++) {
        int n = list_children(kids, 256);
        if (!n) {
            /* zombies are not listed by /proc: reap whatever is left */
            int st;
            while (waitpid(-1, &st, WNOHANG) > 0)
                ;
            break;
        }
        for (int i = 0; i < n; i++)
            if (kill(kids[i], SIGKILL) == 0)
                killed = 1;
        for (int i = 0; i < n; i++) {
            int st;
            while (waitpid(kids[i], &st, 0) < 0 && errno == EINTR)
                ;
        }
    }
    S.status = killed ? SIGKILL : (255 << 8);
}

static void setup_process(void)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
    /* SIGCHLD (and SIGUSR1: reopen the log) arrive on a signalfd in the loop */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    /* our own session: the CLI's terminal closing must not reach us */
    if (getsid(0) != getpid())
        setsid();
    /* orphans of the container (runc's init after `runc create` exits,
     * daemonized grandchildren) come to us, not to pid 1 */
    int sub = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &sub) == 0 && !sub)
        prctl(PR_SET_CHILD_SUBREAPER, 1);
}

static void write_pid_file(void)
{
    char pid[24];
    int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    write_file_atomic("shim.pid", pid, (size_t)n);
}

/* Run mode: fork ARGV with the container's stdio (pipes we make unless the
 * caller passed our ends with --std*-fd; then ARGV inherits our own 0-2). */
static void spawn_argv(void)
{
    int child[3] = { -1, -1, -1 }, p[2];
    int tty = S.console_socket != NULL;
    if (S.stdin_fd < 0) {
        if (S.want_stdin && !tty) {
            if (pipe2(p, O_CLOEXEC) < 0)
                goto fail;
            child[0] = p[0];
            S.stdin_fd = p[1];
        } else if ((child[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
            goto fail;
        }
    }
    if (S.stdout_fd < 0) {
        if (pipe2(p, O_CLOEXEC) < 0)
            goto fail;
        S.stdout_fd = p[0];
        child[1] = p[1];
    }
    if (S.stderr_fd < 0) {
        if (pipe2(p, O_CLOEXEC) < 0)
            goto fail;
        S.stderr_fd = p[0];
        child[2] = p[1];
    }
    S.creating = S.runtime_pid_file != NULL;
    pid_t pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0) {
        reset_child_signals();
        for (int fd = 0; fd < 3; fd++)
            if (child[fd] >= 0 && dup2(child[fd], fd) < 0)
                _exit(127);
        execvp(S.argv[0], S.argv);
        dprintf(2, "minictr-shim: exec %s: %s\n", S.argv[0], strerror(errno));
        _exit(127);
    }
    for (int fd = 0; fd < 3; fd++)
        if (child[fd] >= 0)
            close(child[fd]);
    S.runtime_pid = pid;
    if (!S.creating) {
        S.container_pid = pid;
        now_rfc3339(S.started_at, sizeof(S.started_at));
    }
    return;
fail:
    warnx_("run %s: %s", S.argv[0], strerror(errno));
    exit(1);
}

/* After set-up our own stdio points nowhere: the caller may be waiting for
 * EOF on a pipe it gave us as stderr. */
static void detach_stdio(void)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0)
        return;
    for (int fd = 0; fd < 3; fd++)
        if (fd != S.pid_fd && fd != S.stdin_fd && fd != S.stdout_fd && fd != S.stderr_fd
            && fd != S.console_fd && fd != S.ready_fd)
            dup2(null, fd);
    close(null);
}

static void finish(int rc)
{
    attach_close();
    unlinkat(S.dirfd, "shim.pid", 0);
    if (S.exit_delay_ms > 0) {
        struct timespec ts = { S.exit_delay_ms / 1000, (S.exit_delay_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    exit(rc);
}

int main(int argc, char **argv)
{
    ensure_std_fds();
    parse_args(argc, argv);
    close_other_fds();
    setup_process();

    S.dirfd = open(S.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (S.dirfd < 0)
        usage_error("--dir %s: %s", S.dir, strerror(errno));
    if (log_open() < 0)
        usage_error("--log-path %s: %s", S.log_path, strerror(errno));
    if (S.oom_file)
        S.oom_start = oom_count();
    if (S.console_socket && console_listen_path(S.console_socket) < 0)
        usage_error("--console-socket %s: %s", S.console_socket, strerror(errno));
    if (attach_listen() < 0) {
        warnx_("listen on %s/attach: %s", S.dir, strerror(errno));
        exit(1);
    }
    write_pid_file();
    if (S.argv)
        spawn_argv();
    if (!S.creating)
        signal_ready(1);
    detach_stdio();

    loop_run();

    if (S.create_failed && S.argv) {
        /* run mode: the caller (waiting on --ready-fd or on us) cleans up */
        write_exit_record();
        signal_ready(0);
        attach_send_exit(exit_code_of(S.status));
        loop_wait_clients();
        finish(1);
    }
    log_flush();
    write_exit_record();                 /* before anyone is told */
    attach_send_exit(exit_code_of(S.status));
    loop_wait_clients();                 /* claims, queued frames */
    int claimed = attach_cleanup_done();
    attach_close();
    unlinkat(S.dirfd, "shim.pid", 0);
    if (!claimed)
        run_exit_command();
    finish(0);
    return 0;
}
