/*
 * monitor.h: minictr-shim, the per-container monitor (conmon's job).
 *
 * One process per container, outliving the CLI that started it: it reaps the
 * container's init (as a child subreaper), copies the container's output into
 * its log (docker's json-file, or the CRI format the kubelet reads) and to
 * attached clients, forwards stdin and resizes, records the exit status in
 * DIR/exit and runs the engine's exit command.
 *
 * Files, one job each:
 *   monitor_main.c    options, process set-up, run mode's child, the end
 *   monitor_loop.c    the poll loop: reaping, stdio, pid fd, drain
 *   monitor_log.c     log writers: json-file (line splitting, escaping) and
 *                     CRI (raw lines, P/F tags); batching, rotation
 *   monitor_attach.c  the attach socket: clients, frames, slow clients
 *   monitor_tty.c     receiving the pty master, resize, EOF on a tty
 *   monitor_exit.c    exit record, oom counter, exit command, timestamps
 *
 * Single-threaded; every fd is non-blocking and watched by one poll().
 */
#ifndef MINICTR_MONITOR_H
#define MINICTR_MONITOR_H

#include <stddef.h>
#include <poll.h>
#include <sys/types.h>

/* Attach frame types (first byte of each SOCK_SEQPACKET message). */
enum {
    FRAME_STDIN = 0, FRAME_STDOUT = 1, FRAME_STDERR = 2, FRAME_EXIT = 3,
    FRAME_RESIZE = 4, FRAME_CLOSE_STDIN = 5, FRAME_CLAIM = 6, FRAME_DONE = 7,
};

/* Streams are numbered as their frames. */
enum { STREAM_STDOUT = FRAME_STDOUT, STREAM_STDERR = FRAME_STDERR };

/* --log-format: what monitor_log.c writes. */
enum { LOG_JSON_FILE = 0, LOG_CRI = 1 };

/* A growable byte buffer (queued frames, pending stdin). */
struct buf {
    char *data;
    size_t len, cap;
};
int buf_add(struct buf *b, const void *p, size_t n);
void buf_drop(struct buf *b, size_t n);   /* remove n bytes from the front */
void buf_free(struct buf *b);

struct shim {
    /* options */
    const char *dir;
    int pid_fd, stdin_fd, stdout_fd, stderr_fd, console_fd, ready_fd;
    const char *console_socket, *runtime_pid_file, *oom_file;
    const char *log_path;
    int log_format;           /* LOG_JSON_FILE (the default) or LOG_CRI */
    long long log_max_size;
    int log_max_file;
    char **exit_cmd;          /* NULL-terminated: --exit-command then --exit-arg... */
    long exit_delay_ms;
    int want_stdin;
    char **argv;              /* run mode: the command after "--" */

    /* state */
    int dirfd;                /* O_PATH on DIR: every name in DIR goes through it */
    int master;               /* pty master, -1 until received */
    int console_listen;       /* --console-socket listener, -1 when done */
    int console_conn;         /* the runtime's connection on it */
    pid_t runtime_pid;        /* run mode: ARGV's process */
    pid_t container_pid;      /* 0 until known */
    int creating;             /* run mode with --runtime-pid-file: ARGV still running */
    int exited;               /* container status known */
    int status;               /* its wait status, when exited */
    int status_known;         /* 0 when the pid was not our child */
    int create_failed;
    long long oom_start;      /* oom_kill count at start, -1 unread */
    int oom_killed;
    int stdin_closing;        /* close the stdin pipe once pending data is written */
    struct buf stdin_pending;
    char started_at[40], finished_at[40];
};

extern struct shim S;

/* monitor_main.c */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void signal_ready(int ok);
void kill_all_children(void);

/* monitor_loop.c */
extern char iobuf[32768];         /* the one I/O buffer: stdio reads, client frames */
int loop_run(void);               /* until the container's exit is final */
void stdin_write(const char *p, size_t n);
void stdin_close(void);
void loop_wait_clients(void);     /* after the exit frame: claims, queued frames */
void set_nonblock(int fd);

/* monitor_log.c */
int log_open(void);
void log_reopen(void);            /* SIGUSR1: ReopenContainerLog */
void log_data(int stream, const char *p, size_t n);
void log_flush(void);             /* partial lines at the end */

/* monitor_attach.c */
int attach_listen(void);
int attach_pollfds(struct pollfd *pfd, int max);
void attach_accept(struct pollfd *pfd, int n);
void attach_events(struct pollfd *pfd, int n);
void attach_broadcast(int type, const char *p, size_t n);
void attach_send_exit(int code);
int attach_claimed(void);          /* a connected client claimed cleanup, no answer yet */
int attach_cleanup_done(void);     /* a client sent FRAME_DONE */
int attach_flushed(void);          /* nothing queued for any client */
int attach_nclients(void);
void attach_pause_input(int paused);
void attach_close(void);

/* monitor_tty.c */
int console_listen_path(const char *path);
void console_accept(void);         /* --console-socket listener readable */
void console_receive(int *fdp);    /* *fdp readable: take the master; closes *fdp when done */
void tty_resize(int rows, int cols);
void tty_send_eof(void);

/* monitor_exit.c */
void now_rfc3339(char *out, size_t size);
long long oom_count(void);
int exit_code_of(int status);
int write_exit_record(void);
void write_file_atomic(const char *name, const char *data, size_t len);
void run_exit_command(void);
void reset_child_signals(void);   /* in a forked child: what we changed, back to the defaults */
ssize_t read_small_file(const char *path, char *text, size_t size);  /* NUL-terminated; -1 on error */

#endif
