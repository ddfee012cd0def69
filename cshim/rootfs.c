/*
 * rootfs.c: the container's mount table, from the host's to its own root.
 *
 * Every destination is resolved inside the rootfs with openat2(2)'s
 * RESOLVE_IN_ROOT, so a symlink in the image (`/proc -> /`) cannot point a
 * mount at the host. Mounts are then made through /proc/self/fd/N.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

static int rootfs_fd = -1;

int mc_open_in_root(int rootfd, const char *path, int flags)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = flags | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    while (*path == '/')
        path++;
    if (!*path)
        path = ".";
    return syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* mkdir -p inside the root; the last component becomes a file if asked.
 * Each step resolves within the root, so symlinks cannot lead outside. */
int mc_mkdir_in_root(int rootfd, const char *path, int last_is_file)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    char *p = buf;
    while (*p == '/')
        p++;
    while (*p) {
        char *slash = strchr(p, '/');
        int last = 0;
        if (slash)
            *slash = '\0';
        else
            last = 1;
        if (slash && slash[1] == '\0')
            last = 1;
        int fd = mc_open_in_root(rootfd, buf, O_PATH);
        if (fd >= 0) {
            close(fd);
        } else if (errno == ENOENT) {
            /* create it in its parent, itself resolved inside the root */
            char *base = strrchr(buf, '/');
            int parent;
            const char *name;
            if (base && base != buf) {
                *base = '\0';
                parent = mc_open_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
                *base = '/';
                name = base + 1;
            } else {
                parent = mc_open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
                name = base ? base + 1 : buf;
            }
            if (parent < 0)
                return -1;
            int rc;
            if (last && last_is_file) {
                int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
                rc = f < 0 ? -1 : close(f);
            } else {
                rc = mkdirat(parent, name, 0755);
            }
            int saved = errno;
            close(parent);
            if (rc < 0 && saved != EEXIST) {
                errno = saved;
                return -1;
            }
        } else {
            return -1;
        }
        if (!slash)
            break;
        *slash = '/';
        p = slash + 1;
    }
    return 0;
}

static void fd_path(char *out, size_t len, int fd)
{
    snprintf(out, len, "/proc/self/fd/%d", fd);
}

/* Open a mount point in the root, creating it if missing. */
static int open_mountpoint(const char *dest, int is_file)
{
    int fd = mc_open_in_root(rootfs_fd, dest, O_PATH);
    if (fd >= 0)
        return fd;
    if (errno != ENOENT)
        return mc_fail("mount point %s", dest);
    if (mc_mkdir_in_root(rootfs_fd, dest, is_file) < 0)
        return mc_fail("create mount point %s in the rootfs", dest);
    fd = mc_open_in_root(rootfs_fd, dest, O_PATH);
    if (fd < 0)
        return mc_fail("open mount point %s", dest);
    return fd;
}

static int remount(const char *dest, unsigned long flags, const char *data)
{
    int fd = mc_open_in_root(rootfs_fd, dest, O_PATH);
    char path[64];
    if (fd < 0)
        return mc_fail("reopen %s", dest);
    fd_path(path, sizeof(path), fd);
    mc_explain("mount(MS_REMOUNT)", "%s: apply flags 0x%lx (read-only, nosuid, ...) to the new mount", dest, flags);
    int rc = mount(NULL, path, NULL, flags | MS_REMOUNT, data);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc < 0 ? mc_fail("remount %s", dest) : 0;
}

static int do_mount(const struct mc_mount *m)
{
    char path[64];
    int fd = open_mountpoint(m->destination, m->dest_is_file);
    int rc;
    if (fd < 0)
        return -1;
    fd_path(path, sizeof(path), fd);
    if (m->is_bind) {
        mc_explain("mount(MS_BIND)", "%s at %s: make a host path visible in the container", m->source, m->destination);
        rc = mount(m->source, path, NULL, MS_BIND | (m->flags & MS_REC), NULL);
    } else {
        unsigned long flags = m->flags;
        if (m->remount_readonly)
            flags &= ~MS_RDONLY;
        mc_explain("mount", "%s on %s type %s (%s)", m->source, m->destination, m->fstype,
                   m->data && *m->data ? m->data : "no options");
        rc = mount(m->source, path, m->fstype, flags, m->data);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    if (rc < 0)
        return mc_fail("mount %s on %s (type %s)", m->source, m->destination, m->is_bind ? "bind" : m->fstype);
    if (m->is_bind && (m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT)) != 0) {
        if (remount(m->destination, (m->flags & ~MS_REC) | MS_BIND, NULL) < 0)
            return -1;
    } else if (!m->is_bind && m->remount_readonly && strcmp(m->destination, "/dev") != 0) {
        if (remount(m->destination, m->flags, m->data) < 0)
            return -1;
    }
    if (m->propagation) {
        fd = mc_open_in_root(rootfs_fd, m->destination, O_PATH);
        if (fd < 0)
            return mc_fail("reopen %s", m->destination);
        fd_path(path, sizeof(path), fd);
        rc = mount(NULL, path, NULL, m->propagation, NULL);
        saved = errno;
        close(fd);
        errno = saved;
        if (rc < 0)
            return mc_fail("set propagation of %s", m->destination);
    }
    return 0;
}

/* pivot_root refuses a new root that is, or whose parent mount is, shared
 * (EINVAL), as rootfsPropagation "shared" makes them. runc's answer: make
 * the mount the rootfs sits on private before the rootfs is bound onto
 * itself, so that bind is not shared either. */
static int make_parent_private(const struct mc_plan *plan)
{
    unsigned long shared = MS_SHARED;
    if (!(plan->root_propagation & shared))
        return 0;
    char parent[PATH_MAX];
    if (snprintf(parent, sizeof(parent), "%s/..", plan->rootfs) >= (int)sizeof(parent))
        return mc_fail("rootfs path too long");
    /* walk up to the mount point holding the rootfs: a path whose parent is on another device */
    char path[PATH_MAX];
    if (!realpath(parent, path))
        return mc_fail("resolve the rootfs parent");
    for (;;) {
        if (mount(NULL, path, NULL, MS_PRIVATE, NULL) == 0)
            break;
        if (errno != EINVAL || strcmp(path, "/") == 0)
            return mc_fail("make the rootfs parent mount private");
        char *slash = strrchr(path, '/');
        if (slash == path)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    mc_explain("mount(parent, MS_PRIVATE)", "pivot_root refuses a shared parent mount (rootfsPropagation shared)");
    return 0;
}

int mc_prepare_rootfs(const struct mc_plan *plan)
{
    if (!plan->share_host_mounts) {
        unsigned long prop = plan->root_propagation ? plan->root_propagation : (MS_SLAVE | MS_REC);
        mc_explain("mount(\"/\", MS_SLAVE|MS_REC)", "our mounts must not propagate back to the host");
        if (mount(NULL, "/", NULL, prop, NULL) < 0)
            return mc_fail("set propagation of /");
        if (make_parent_private(plan) < 0)
            return -1;
    } else {
        mc_explain("(no mount namespace)", "the host's mount table is shared: mounts appear on the host until delete");
    }
    mc_explain("mount(rootfs, rootfs, MS_BIND|MS_REC)", "the new root must be a mount point (pivot_root, read-only root)");
    if (mount(plan->rootfs, plan->rootfs, "bind", MS_BIND | MS_REC, NULL) < 0)
        return mc_fail("bind mount the rootfs %s", plan->rootfs);
    rootfs_fd = open(plan->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfs_fd < 0)
        return mc_fail("open rootfs %s", plan->rootfs);
    for (int i = 0; i < plan->mount_count; i++) {
        /* the mounts before run while the parent makes our cgroups */
        if (i == plan->cgroup_mounts_at && mc_join_cgroups(plan) < 0)
            return -1;
        if (do_mount(&plan->mounts[i]) < 0)
            return -1;
    }
    if (mc_setup_dev(plan, rootfs_fd) < 0)
        return -1;
    return 0;
}

int mc_pivot_root(const struct mc_plan *plan)
{
    if (chdir(plan->rootfs) < 0)
        return mc_fail("chdir %s", plan->rootfs);
    if (plan->share_host_mounts) {
        mc_explain("chroot(rootfs)", "no mount namespace: pivot_root would swap the host's own root");
        if (chroot(".") < 0)
            return mc_fail("chroot");
        if (chdir("/") < 0)
            return mc_fail("chdir /");
        close(rootfs_fd);
        rootfs_fd = -1;
        return 0;
    }
    if (plan->no_pivot) {
        mc_explain("mount(MS_MOVE) + chroot", "--no-pivot: move the rootfs over / and chroot into it");
        if (mount(plan->rootfs, "/", NULL, MS_MOVE, NULL) < 0)
            return mc_fail("move the rootfs to /");
        if (chroot(".") < 0)
            return mc_fail("chroot");
        if (chdir("/") < 0)
            return mc_fail("chdir /");
        return 0;
    }
    int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (oldroot < 0)
        return mc_fail("open old root");
    mc_explain("pivot_root(\".\", \".\")", "the rootfs becomes /, the host's root is stacked under it");
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
        close(oldroot);
        return mc_fail("pivot_root into %s", plan->rootfs);
    }
    if (fchdir(oldroot) < 0) {
        close(oldroot);
        return mc_fail("fchdir old root");
    }
    close(oldroot);
    /* The old root sits under the new one; make it a slave so the detach
     * below does not propagate an unmount to the host, then drop it. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return mc_fail("make the old root a slave");
    mc_explain("umount2(oldroot, MNT_DETACH)", "the host's filesystem disappears from the container");
    if (umount2(".", MNT_DETACH) < 0)
        return mc_fail("detach the old root");
    if (chdir("/") < 0)
        return mc_fail("chdir /");
    close(rootfs_fd);
    rootfs_fd = -1;
    return 0;
}

static unsigned long statvfs_flags(const char *path)
{
    struct statvfs st;
    unsigned long flags = 0;
    if (statvfs(path, &st) < 0)
        return 0;
    if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    return flags;
}

int mc_finalize_rootfs(const struct mc_plan *plan)
{
    for (int i = 0; i < plan->mount_count; i++) {
        const struct mc_mount *m = &plan->mounts[i];
        if (!m->is_bind && m->remount_readonly && strcmp(m->destination, "/dev") == 0) {
            mc_explain("mount(/dev, MS_REMOUNT|MS_RDONLY)", "/dev was asked read-only; its nodes exist now");
            if (mount(NULL, "/dev", NULL, m->flags | MS_REMOUNT, m->data) < 0)
                return mc_fail("remount /dev read-only");
        }
    }
    if (plan->rootfs_readonly) {
        unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
        mc_explain("mount(\"/\", MS_REMOUNT|MS_RDONLY)", "root.readonly: the image cannot be changed from inside");
        if (mount(NULL, "/", NULL, flags, NULL) < 0 &&
            mount(NULL, "/", NULL, flags | statvfs_flags("/"), NULL) < 0)
            return mc_fail("remount / read-only");
    }
    return 0;
}

static int readonly_path(const char *path)
{
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
        if (errno == ENOENT)
            return 0;
        return mc_fail("bind %s for readonlyPaths", path);
    }
    unsigned long keep = statvfs_flags(path) & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
    mc_explain("mount(MS_BIND|MS_REMOUNT|MS_RDONLY)", "%s: readable, not writable (readonlyPaths)", path);
    if (mount(path, path, NULL, keep | MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
        return mc_fail("remount %s read-only", path);
    return 0;
}

static int mask_path(const char *path)
{
    if (mount("/dev/null", path, NULL, MS_BIND, NULL) == 0) {
        mc_explain("mount(/dev/null, MS_BIND)", "%s: hidden behind /dev/null (maskedPaths)", path);
        return 0;
    }
    if (errno == ENOENT)
        return 0;
    if (errno == ENOTDIR) {
        mc_explain("mount(tmpfs, MS_RDONLY)", "%s: directory hidden behind an empty tmpfs (maskedPaths)", path);
        if (mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0)
            return mc_fail("mask %s", path);
        return 0;
    }
    return mc_fail("mask %s", path);
}

int mc_mask_and_protect(const struct mc_plan *plan)
{
    for (int i = 0; i < plan->readonly_count; i++)
        if (readonly_path(plan->readonly_paths[i]) < 0)
            return -1;
    for (int i = 0; i < plan->masked_count; i++)
        if (mask_path(plan->masked_paths[i]) < 0)
            return -1;
    return 0;
}
