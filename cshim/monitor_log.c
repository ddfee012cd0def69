/*
 * monitor_log.c: the container's log, in one of two formats (--log-format).
 *
 * json-file, docker's log driver, byte for byte where it matters to readers:
 *   {"log":"text\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
 * one object per line; a message is one line of output, or 16 KiB of a longer
 * line (docker's partial messages: no "\n" at the end). Escaping follows
 * docker's jsonlog (\n \r \" \\ kept short; other control bytes and < > &
 * as \u00XX; invalid UTF-8 as \ufffd).
 *
 * cri, what containerd's CRI writes and the kubelet reads back:
 *   2024-05-01T10:00:00.123456789Z stdout F text
 * the content raw (no escaping, any byte but "\n"), the line's "\n" not in
 * it. A line of more than 16 KiB becomes P records of 16 KiB each and a last
 * F (containerd's max_container_log_line_size); output that ends without a
 * "\n" is a last P. Unlike containerd we keep a "\r" before the "\n" in the
 * content, so what was printed is what reads back.
 *
 * Both: the time is the read's (RFC3339Nano, UTC); the entries of one read
 * go out in one write(); rotation as docker's LogFile: before a write, if
 * the file has reached max-size, P.(N-2) -> P.(N-1) ... P -> P.1 and a new P
 * (N = max-file; N = 1 truncates instead).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor.h"

#define MAX_MESSAGE (16 * 1024)

static int log_fd = -1;
static long long log_size;

/* The unfinished line of each stream, allocated only while one exists. */
static struct { char *data; size_t len; } partial[3];

static struct buf batch;       /* entries not yet written */

int log_open(void)
{
    if (!S.log_path)
        return 0;
    log_fd = open(S.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd < 0)
        return -1;
    struct stat st;
    log_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
    return 0;
}

static void rotate(void)
{
    if (S.log_max_file < 2) {
        if (ftruncate(log_fd, 0) == 0)
            log_size = 0;
        return;
    }
    size_t len = strlen(S.log_path) + 16;
    char *from = malloc(len), *to = malloc(len);
    if (from && to) {
        for (int i = S.log_max_file - 1; i > 1; i--) {
            snprintf(from, len, "%s.%d", S.log_path, i - 1);
            snprintf(to, len, "%s.%d", S.log_path, i);
            rename(from, to);             /* ENOENT before the files exist: fine */
        }
        snprintf(to, len, "%s.1", S.log_path);
        if (rename(S.log_path, to) == 0) {
            int fd = open(S.log_path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
            if (fd >= 0) {
                close(log_fd);
                log_fd = fd;
                log_size = 0;
            }
        }
    }
    free(from);
    free(to);
}

/* Length of a valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static int utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    int need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;         /* overlong */
        if (c == 0xED) hi = 0x9F;         /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if ((size_t)need >= n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (int i = 2; i <= need; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return need + 1;
}

static size_t escape(char *out, const char *text, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)text;
    char *o = out;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                *o++ = '\\';
                *o++ = (char)c;
            } else if (c == '\n') {
                *o++ = '\\'; *o++ = 'n';
            } else if (c == '\r') {
                *o++ = '\\'; *o++ = 'r';
            } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                memcpy(o, "\\u00", 4);
                o += 4;
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            } else {
                *o++ = (char)c;
            }
            i++;
            continue;
        }
        int len = utf8_len(p + i, n - i);
        if (!len) {
            memcpy(o, "\\ufffd", 6);
            o += 6;
            i++;
        } else if (len == 3 && c == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
            memcpy(o, p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);   /* as Go does */
            o += 6;
            i += 3;
        } else {
            memcpy(o, p + i, (size_t)len);
            o += len;
            i += (size_t)len;
        }
    }
    return (size_t)(o - out);
}

/* Entries of one read go out in one write(): a flood of short lines costs
 * one syscall per read, not one per line. */
static void flush_batch(void)
{
    size_t off = 0;
    while (off < batch.len) {
        ssize_t w = write(log_fd, batch.data + off, batch.len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;                        /* disk full: entries are lost, the container goes on */
        }
        off += (size_t)w;
    }
    log_size += (long long)off;
    if (batch.cap > 65536)
        buf_free(&batch);                 /* an idle shim keeps no big buffer */
    else
        batch.len = 0;
}

/* SIGUSR1 (CRI's ReopenContainerLog): the kubelet has renamed the file to
 * rotate it; what is pending goes to the old file, what follows to a new
 * one at the path. If the new one cannot be opened, the old one stays. */
void log_reopen(void)
{
    if (!S.log_path || log_fd < 0)
        return;
    if (batch.len)
        flush_batch();
    int fd = open(S.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        warnx_("reopen %s: %s", S.log_path, strerror(errno));
        return;
    }
    close(log_fd);
    log_fd = fd;
    struct stat st;
    log_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
}

/* The time of the read that completed the message: lines that arrived
 * together share it (one clock read and format per read, not per line). */
static char stamp[40];

/* Room for `extra` more bytes at the end of the batch, after rotating if
 * the file has reached max-size (docker rotates before a write); NULL when
 * out of memory (the entry is lost, the container goes on). */
static char *reserve(size_t extra)
{
    if (S.log_max_size > 0 && log_size + (long long)batch.len >= S.log_max_size) {
        flush_batch();
        rotate();
    }
    size_t need = batch.len + extra;
    if (need > batch.cap) {
        char *d = realloc(batch.data, need);
        if (!d)
            return NULL;
        batch.data = d;
        batch.cap = need;
    }
    return batch.data + batch.len;
}

static const char *stream_name(int stream)
{
    return stream == STREAM_STDERR ? "stderr" : "stdout";
}

static void write_entry(int stream, const char *text, size_t n)
{
    char *o = reserve(n * 6 + 128);
    if (!o)
        return;
    memcpy(o, "{\"log\":\"", 8);
    o += 8;
    o += escape(o, text, n);
    o += sprintf(o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream_name(stream), stamp);
    batch.len = (size_t)(o - batch.data);
}

/* One CRI record: TIME STREAM TAG CONTENT\n, the content as it came. */
static void write_cri_entry(int stream, char tag, const char *text, size_t n)
{
    char *o = reserve(n + 64);
    if (!o)
        return;
    o += sprintf(o, "%s %s %c ", stamp, stream_name(stream), tag);
    memcpy(o, text, n);
    o += n;
    *o++ = '\n';
    batch.len = (size_t)(o - batch.data);
}

/* Add to a stream's unfinished line (partial[]: at most MAX_MESSAGE bytes,
 * allocated only while one exists). */
static int pending_add(int stream, const char *p, size_t n)
{
    if (!partial[stream].data && !(partial[stream].data = malloc(MAX_MESSAGE)))
        return -1;
    memcpy(partial[stream].data + partial[stream].len, p, n);
    partial[stream].len += n;
    return 0;
}

static void pending_drop(int stream)
{
    free(partial[stream].data);
    partial[stream].data = NULL;
    partial[stream].len = 0;
}

/* json-file: a message is a line with its "\n", or MAX_MESSAGE bytes of one. */
static void json_data(int stream, const char *p, size_t n)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t line = nl ? (size_t)(nl - p) + 1 : n;
        size_t *plen = &partial[stream].len;
        size_t take = line;
        if (*plen + take > MAX_MESSAGE)
            take = MAX_MESSAGE - *plen;
        int complete = (nl && take == line) || *plen + take == MAX_MESSAGE;
        if (!*plen && complete) {
            write_entry(stream, p, take);  /* the common case: no copy */
        } else {
            if (pending_add(stream, p, take) < 0)
                break;
            if (complete) {
                write_entry(stream, partial[stream].data, *plen);
                pending_drop(stream);
            }
        }
        p += take;
        n -= take;
    }
}

/* cri: a record is a line's content without its "\n" (F), or MAX_MESSAGE
 * bytes of a longer one (P). As containerd, a line of exactly MAX_MESSAGE
 * bytes is one F: the P is written only once a byte beyond the limit that is
 * not the "\n" arrives. */
static void cri_data(int stream, const char *p, size_t n)
{
    while (n) {
        size_t *plen = &partial[stream].len;
        const char *nl = memchr(p, '\n', n);
        size_t line = nl ? (size_t)(nl - p) : n;      /* content before the "\n", or all */
        if (*plen == MAX_MESSAGE && line) {           /* more after a full buffer: it was a fragment */
            write_cri_entry(stream, 'P', partial[stream].data, MAX_MESSAGE);
            pending_drop(stream);
            continue;
        }
        size_t room = MAX_MESSAGE - *plen;
        if (nl && line <= room) {                     /* the line ends within the limit */
            if (!*plen) {
                write_cri_entry(stream, 'F', p, line);  /* the common case: no copy */
            } else {
                if (pending_add(stream, p, line) < 0)
                    break;
                write_cri_entry(stream, 'F', partial[stream].data, *plen);
                pending_drop(stream);
            }
            p += line + 1;
            n -= line + 1;
            continue;
        }
        if (!*plen && line > MAX_MESSAGE) {           /* a long line: its fragment, no copy */
            write_cri_entry(stream, 'P', p, MAX_MESSAGE);
            p += MAX_MESSAGE;
            n -= MAX_MESSAGE;
            continue;
        }
        size_t take = line < room ? line : room;      /* no "\n" in reach: wait for the rest */
        if (pending_add(stream, p, take) < 0)
            break;
        p += take;
        n -= take;
    }
}

void log_data(int stream, const char *p, size_t n)
{
    if (log_fd < 0)
        return;
    now_rfc3339(stamp, sizeof(stamp));
    if (S.log_format == LOG_CRI)
        cri_data(stream, p, n);
    else
        json_data(stream, p, n);
    flush_batch();
}

/* At the end: unfinished lines are written as they are (json-file: no "\n";
 * cri: a P record, the stream's last). */
void log_flush(void)
{
    now_rfc3339(stamp, sizeof(stamp));
    for (int s = STREAM_STDOUT; s <= STREAM_STDERR; s++) {
        if (partial[s].len) {
            if (S.log_format == LOG_CRI)
                write_cri_entry(s, 'P', partial[s].data, partial[s].len);
            else
                write_entry(s, partial[s].data, partial[s].len);
        }
        pending_drop(s);
    }
    if (log_fd >= 0)
        flush_batch();
}
