/*
 * plan.h: the contract between Python and C.
 *
 * Python (minictr/runtime/plan.py) decides everything about a container
 * process before it exists and fills one `struct mc_plan`. The C code in this
 * directory only carries the plan out between fork and execve; it makes no
 * policy decisions of its own. This header is also fed to cffi's cdef (see
 * cshim/build.py), so it must stay plain C declarations without macros in the
 * struct bodies.
 */
#ifndef MINICTR_PLAN_H
#define MINICTR_PLAN_H

#include <stdint.h>
#include <sys/types.h>

/* One namespace: type is a CLONE_NEW* flag; path NULL means "make a new one". */
struct mc_namespace {
    int type;
    const char *path;
};

/* One mount step. destination is absolute inside the container and is
 * resolved inside the rootfs (never through a symlink out of it). */
struct mc_mount {
    const char *source;
    const char *destination;
    const char *fstype;
    const char *data;
    unsigned long flags;        /* MS_* flags for the mount(2) call */
    unsigned long propagation;  /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE[|MS_REC] or 0 */
    int is_bind;                /* bind mount: flags beyond MS_BIND|MS_REC need a remount */
    int remount_readonly;       /* mount rw, then remount read-only (tmpfs with "ro") */
    int dest_is_file;           /* create the mount point as an empty file */
};

/* One device node to create under /dev (or bind from the host in a user ns). */
struct mc_device {
    const char *path;           /* absolute inside the container */
    int type;                   /* 'c', 'b', 'p' */
    long major;
    long minor;
    unsigned int mode;          /* permission bits */
    unsigned int uid;
    unsigned int gid;
};

struct mc_symlink {
    const char *target;
    const char *linkpath;       /* absolute inside the container */
};

struct mc_sysctl {
    const char *key;            /* dotted: net.ipv4.ip_forward */
    const char *value;
};

struct mc_rlimit {
    int resource;               /* RLIMIT_* number */
    uint64_t soft;
    uint64_t hard;
};

/* A hook the container's init runs itself (createContainer, startContainer). */
struct mc_hook {
    const char *path;
    const char *const *args;    /* NULL-terminated, may be NULL */
    const char *const *env;     /* NULL-terminated, may be NULL */
    int timeout;                /* seconds, 0 = none */
};

struct mc_plan {
    /* namespaces: joined (path set) or created (path NULL) */
    int ns_count;
    const struct mc_namespace *namespaces;
    int wait_for_userns_maps;   /* parent writes uid/gid maps after we unshare(CLONE_NEWUSER) */

    /* filesystem (only when setup_rootfs is set: a new container) */
    int setup_rootfs;
    const char *rootfs;         /* absolute host path */
    unsigned long root_propagation;   /* applied to "/" first, e.g. MS_SLAVE|MS_REC */
    int rootfs_readonly;
    int no_pivot;
    int share_host_mounts;      /* no mount namespace: no propagation change, chroot instead of pivot_root */
    int mount_count;
    int cgroup_mounts_at;       /* index of the first mount of the container's cgroups (-1: none):
                                   the init waits to be in them (INIT_GO) before it */
    const struct mc_mount *mounts;
    int setup_dev;              /* /dev is a fresh tmpfs: create nodes and symlinks */
    int device_count;
    const struct mc_device *devices;
    int bind_devices;           /* in a user namespace mknod is refused: bind from the host */
    int symlink_count;
    const struct mc_symlink *symlinks;
    int masked_count;
    const char *const *masked_paths;
    int readonly_count;
    const char *const *readonly_paths;
    int parent_hooks;           /* stop before pivot_root so the parent runs createRuntime hooks */

    /* identity of the sandbox */
    const char *hostname;       /* NULL = leave */
    const char *domainname;     /* NULL = leave */
    int sysctl_count;
    const struct mc_sysctl *sysctls;
    int rlimit_count;
    const struct mc_rlimit *rlimits;

    /* the process */
    const char *const *argv;    /* NULL-terminated */
    const char *const *envp;    /* NULL-terminated */
    const char *cwd;
    uid_t uid;
    gid_t gid;
    int ngroups;                /* -1: leave supplementary groups alone */
    const gid_t *groups;
    int umask;                  /* -1: leave */
    int set_caps;
    int cap_last;               /* /proc/sys/kernel/cap_last_cap */
    uint64_t cap_bounding;
    uint64_t cap_effective;
    uint64_t cap_permitted;
    uint64_t cap_inheritable;
    uint64_t cap_ambient;
    int no_new_privs;
    const unsigned char *seccomp_bpf;   /* struct sock_filter[] */
    int seccomp_len;                    /* number of sock_filter entries */
    unsigned int seccomp_flags;         /* SECCOMP_FILTER_FLAG_* */
    const char *exec_label_path;        /* LSM attribute for the exec transition (AppArmor, SELinux); NULL = none */
    const char *exec_label;             /* written there just before execve: "exec PROFILE" or an SELinux label */
    int new_session;            /* setsid(): new session, no controlling tty */

    /* plumbing */
    int exec_fifo_fd;           /* O_PATH fd of exec.fifo, -1 for `exec` processes */
    int console_fd;             /* connected --console-socket, -1 for none */
    int preserve_fds;           /* keep fds 3 .. 3+n-1 open across execve */
    int start_hook_count;       /* startContainer hooks, run by init after start */
    const struct mc_hook *start_hooks;
    int create_hook_count;      /* createContainer hooks, run by init before pivot_root */
    const struct mc_hook *create_hooks;
    const char *state_json;     /* state JSON for startContainer hooks' stdin (status created) */
    const char *create_state_json; /* ... for createContainer hooks (status creating) */
    int explain_fd;             /* -1: silent; else one line per kernel step */
};

/* Sync messages between the Python parent and the C stages, numbered as in
 * runc's nsexec. Every message is one `struct mc_sync` on a SOCK_SEQPACKET
 * socket pair. */
enum mc_sync_type {
    MC_SYNC_STAGE1_READY = 1,   /* value = stage-1 pid: write user-namespace id maps */
    MC_SYNC_STAGE1_GO = 2,      /* parent -> stage 1: go on */
    MC_SYNC_INIT_PID = 3,       /* value = pid of the container process (host pid ns): put it in cgroups */
    MC_SYNC_HOOKS = 4,          /* mounts done, before pivot_root: run prestart/createRuntime hooks */
    MC_SYNC_HOOKS_DONE = 5,     /* parent -> init */
    MC_SYNC_READY = 6,          /* init: set up, about to wait on the exec fifo / execve */
    MC_SYNC_ERROR = 7,          /* err = errno, text = what failed */
    MC_SYNC_WARNING = 8,        /* text = something the user should know, not fatal */
    MC_SYNC_INIT_GO = 9,        /* parent -> init: it is in the container's cgroups now */
};

struct mc_sync {
    int32_t type;
    int32_t value;
    int32_t err;
    char text[500];
};

/* Fork stage 1, which joins/creates namespaces and forks the container's
 * process. Returns the stage-1 pid (the caller reaps it) or -1 with errno.
 * sync_fd is the child end of a SOCK_SEQPACKET pair; the caller keeps the
 * other end and drives the protocol above. */
pid_t mc_spawn(const struct mc_plan *plan, int sync_fd);

/* What mc_spawn_under_shim needs to turn a process into the container's
 * shim (cshim/monitor_*.c, `minictr-shim`). */
struct mc_launch {
    const char *shim_path;
    char *const *shim_argv;     /* NULL-terminated; names the kept fds */
    int stdio[3];               /* become the container's fds 0, 1, 2 (-1: /dev/null) */
    const int *keep;            /* fds the shim keeps across its exec */
    int keep_count;
};

/* As mc_spawn, but stage 1 is forked by a new, detached process (session
 * leader, child subreaper) that then execs the shim: the container's init
 * ends up as the shim's child, and the caller never has to reap anything.
 * Returns the shim's pid or -1 with errno. */
pid_t mc_spawn_under_shim(const struct mc_plan *plan, int sync_fd, const struct mc_launch *launch);

#endif
