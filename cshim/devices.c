/*
 * devices.c: populate a fresh /dev: device nodes (mknod, or a bind mount of
 * the host's node inside a user namespace, where mknod is refused) and the
 * standard symlinks (/dev/fd, /dev/stdin, /dev/ptmx -> pts/ptmx, ...).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shim.h"

/* Open the parent directory of `path` inside the root (creating it), and
 * point *name at the last component. */
static int open_parent(int rootfd, const char *path, char *buf, size_t len, const char **name)
{
    snprintf(buf, len, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash) {
        *name = buf;
        return mc_open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
    }
    *slash = '\0';
    *name = slash + 1;
    if (*buf && mc_mkdir_in_root(rootfd, buf, 0) < 0)
        return -1;
    return mc_open_in_root(rootfd, *buf ? buf : "/", O_PATH | O_DIRECTORY);
}

static int make_device(const struct mc_plan *plan, int rootfd, const struct mc_device *d)
{
    char buf[4096];
    const char *name;
    int dir = open_parent(rootfd, d->path, buf, sizeof(buf), &name);
    if (dir < 0)
        return mc_fail("parent directory of device %s", d->path);
    mode_t kind = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
    int rc;
    if (plan->bind_devices) {
        int f = openat(dir, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0);
        if (f < 0) {
            rc = -1;
        } else {
            char target[64], src[4096];
            snprintf(target, sizeof(target), "/proc/self/fd/%d", f);
            snprintf(src, sizeof(src), "%s", d->path);
            mc_explain("mount(MS_BIND)", "%s: mknod is refused in a user namespace, bind the host's node", d->path);
            rc = mount(src, target, NULL, MS_BIND, NULL);
            int saved = errno;
            close(f);
            errno = saved;
        }
    } else {
        unlinkat(dir, name, 0);
        mc_explain("mknod", "%s %c %ld:%ld mode %04o", d->path, d->type, d->major, d->minor, d->mode);
        rc = mknodat(dir, name, kind | (d->mode & 07777), makedev(d->major, d->minor));
        if (rc == 0)
            rc = fchmodat(dir, name, d->mode & 07777, 0);
        if (rc == 0)
            rc = fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW);
    }
    int saved = errno;
    close(dir);
    errno = saved;
    return rc < 0 ? mc_fail("create device %s", d->path) : 0;
}

static int make_symlink(int rootfd, const struct mc_symlink *s)
{
    char buf[4096];
    const char *name;
    int dir = open_parent(rootfd, s->linkpath, buf, sizeof(buf), &name);
    if (dir < 0)
        return mc_fail("parent directory of %s", s->linkpath);
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
        unlinkat(dir, name, 0);
    int rc = symlinkat(s->target, dir, name);
    int saved = errno;
    close(dir);
    errno = saved;
    if (rc < 0 && errno != EEXIST)
        return mc_fail("symlink %s -> %s", s->linkpath, s->target);
    return 0;
}

int mc_setup_dev(const struct mc_plan *plan, int rootfd)
{
    mode_t old = umask(0);
    for (int i = 0; plan->setup_dev && i < plan->device_count; i++)
        if (make_device(plan, rootfd, &plan->devices[i]) < 0) {
            umask(old);
            return -1;
        }
    umask(old);
    for (int i = 0; i < plan->symlink_count; i++)
        if (make_symlink(rootfd, &plan->symlinks[i]) < 0)
            return -1;
    return 0;
}
