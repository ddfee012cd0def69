/*
 * console.c: process.terminal with --console-socket. A pty is allocated
 * inside the container (its devpts), the master is sent to the caller's unix
 * socket with SCM_RIGHTS (as runc does), the slave becomes stdio and the
 * controlling terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "shim.h"

static int send_fd(int sock, int fd, const char *name)
{
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                          .msg_controllen = sizeof(control) };
    memset(control, 0, sizeof(control));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

int mc_setup_console(const struct mc_plan *plan)
{
    if (plan->console_fd < 0)
        return 0;
    mc_explain("open(/dev/ptmx)", "a pty inside the container; the master goes to --console-socket");
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return mc_fail("open /dev/ptmx for the console");
    int unlock = 0, ptn;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &ptn) < 0)
        return mc_fail("unlock the console pty");
    char name[64];
    snprintf(name, sizeof(name), "/dev/pts/%d", ptn);
    int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        return mc_fail("open console slave %s", name);
    if (plan->setup_rootfs && plan->setup_dev) {
        /* /dev/console is the container's terminal, as in runc */
        int f = open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0);
        if (f >= 0)
            close(f);
        if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0)
            return mc_fail("bind %s to /dev/console", name);
    }
    if (send_fd(plan->console_fd, master, name) < 0)
        return mc_fail("send the console master to --console-socket");
    close(master);
    close(plan->console_fd);
    if (setsid() < 0 && errno != EPERM)
        return mc_fail("setsid for the console");
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return mc_fail("make %s the controlling terminal", name);
    for (int fd = 0; fd < 3; fd++)
        if (dup2(slave, fd) < 0)
            return mc_fail("dup console to fd %d", fd);
    close(slave);
    return 0;
}
