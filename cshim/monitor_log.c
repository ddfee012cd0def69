/*
 * monitor_log.c: docker's json-file log driver, byte for byte where it
 * matters to readers:
 *   {"log":"text\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
 * one object per line; a message is one line of output, or 16 KiB of a longer
 * line (docker's partial messages: no "\n" at the end). Escaping follows
 * docker's jsonlog (\n \r \" \\ kept short; other control bytes and < > &
 * as \u00XX; invalid UTF-8 as \ufffd). Rotation as docker's LogFile: before a
 * write, if the file has reached max-size, P.(N-2) -> P.(N-1) ... P -> P.1
 * and a new P (N = max-file; N = 1 truncates instead).
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

static struct buf batch;       /* JSON lines not yet written */

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

/* The time of the read that completed the message: lines that arrived
 * together share it (one clock read and format per read, not per line). */
static char stamp[40];

static void write_entry(int stream, const char *text, size_t n)
{
    /* docker rotates before a write once the file has reached max-size */
    if (S.log_max_size > 0 && log_size + (long long)batch.len >= S.log_max_size) {
        flush_batch();
        rotate();
    }
    size_t need = batch.len + n * 6 + 128;
    if (need > batch.cap) {
        char *d = realloc(batch.data, need);
        if (!d)
            return;
        batch.data = d;
        batch.cap = need;
    }
    char *o = batch.data + batch.len;
    memcpy(o, "{\"log\":\"", 8);
    o += 8;
    o += escape(o, text, n);
    o += sprintf(o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n",
                 stream == STREAM_STDERR ? "stderr" : "stdout", stamp);
    batch.len = (size_t)(o - batch.data);
}

void log_data(int stream, const char *p, size_t n)
{
    if (log_fd < 0)
        return;
    now_rfc3339(stamp, sizeof(stamp));
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
            if (!partial[stream].data && !(partial[stream].data = malloc(MAX_MESSAGE)))
                break;
            memcpy(partial[stream].data + *plen, p, take);
            *plen += take;
            if (complete) {
                write_entry(stream, partial[stream].data, *plen);
                *plen = 0;
                free(partial[stream].data);
                partial[stream].data = NULL;
            }
        }
        p += take;
        n -= take;
    }
    flush_batch();
}

/* At the end: unfinished lines are written as they are (no "\n"). */
void log_flush(void)
{
    now_rfc3339(stamp, sizeof(stamp));
    for (int s = STREAM_STDOUT; s <= STREAM_STDERR; s++) {
        if (partial[s].len)
            write_entry(s, partial[s].data, partial[s].len);
        free(partial[s].data);
        partial[s].data = NULL;
        partial[s].len = 0;
    }
    if (log_fd >= 0)
        flush_batch();
}
