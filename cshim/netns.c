/*
 * netns.c: bring an interface up inside another network namespace (the
 * container's `lo`), without importing a netlink library on the hot path.
 * Network namespace membership is per thread, so a short-lived thread
 * joins the namespace, flips IFF_UP with the classic ioctl, and ends;
 * the calling (Python) thread never leaves its namespace.
 */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct link_up_job {
    int netns_fd;
    const char *ifname;
    int err;
};

static void *link_up_thread(void *arg)
{
    struct link_up_job *job = arg;
    struct ifreq ifr;
    int sock = -1;
    if (setns(job->netns_fd, CLONE_NEWNET) < 0)
        goto fail;
    sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        goto fail;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, job->ifname, IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
        goto fail;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
        goto fail;
    close(sock);
    job->err = 0;
    return NULL;
fail:
    job->err = errno;
    if (sock >= 0)
        close(sock);
    return NULL;
}

int mc_link_up_in_netns(int netns_fd, const char *ifname)
{
    struct link_up_job job = { netns_fd, ifname, 0 };
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, link_up_thread, &job);
    if (rc != 0)
        return rc;
    pthread_join(thread, NULL);
    return job.err;
}

/* openat2(2) for the Python side (RESOLVE_IN_ROOT lookups inside a
 * container's root), without loading ctypes on the container-start path. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

int mc_openat2(int dirfd, const char *path, int flags, int mode, unsigned long long resolve)
{
    struct open_how how = { .flags = (unsigned long long)flags, .resolve = resolve };
    if (flags & (O_CREAT | O_TMPFILE))
        how.mode = (unsigned long long)mode;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}
