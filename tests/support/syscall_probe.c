/* syscall_probe: makes each named system call once, with arguments the
 * kernel rejects harmlessly when the call gets through (a bad reboot magic,
 * an unknown key type), and prints "name errno-name" for each: a container's
 * seccomp filter says EPERM before the kernel sees the call. Built static,
 * so it runs in any image. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *name_of(int e)
{
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENODEV: return "ENODEV";
    case ENOENT: return "ENOENT";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case ENOKEY: return "ENOKEY";
    default: return strerror(e);
    }
}

static void report(const char *what, long rc)
{
    printf("%s %s\n", what, name_of(rc < 0 ? errno : 0));
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        errno = 0;
        if (!strcmp(w, "keyctl"))          /* KEYCTL_GET_KEYRING_ID of a keyring that is not there */
            report(w, syscall(SYS_keyctl, 0, -12345, 0, 0, 0));
        else if (!strcmp(w, "add_key"))
            report(w, syscall(SYS_add_key, "no-such-key-type", "d", "x", 1, -2));
        else if (!strcmp(w, "unshare-user"))
            report(w, unshare(CLONE_NEWUSER));
        else if (!strcmp(w, "unshare-mount"))
            report(w, unshare(CLONE_NEWNS));
        else if (!strcmp(w, "mount"))      /* tmpfs on /tmp of the container */
            report(w, mount("probe", "/tmp", "tmpfs", 0, "size=1m"));
        else if (!strcmp(w, "reboot"))     /* wrong magic: EINVAL once the call is let through */
            report(w, syscall(SYS_reboot, 0, 0, 0, 0));
        else if (!strcmp(w, "clone-newns")) {
            long pid = syscall(SYS_clone, CLONE_NEWNS | 17 /* SIGCHLD */, 0, 0, 0, 0);
            if (pid == 0)
                _exit(0);
            report(w, pid);
        } else if (!strcmp(w, "personality-bad")) /* READ_IMPLIES_EXEC: not a safe value */
            report(w, syscall(SYS_personality, 0x0400000));
        else if (!strcmp(w, "shm-create"))   /* a SysV segment in the IPC namespace */
            report(w, shmget(0x6d637472, 4096, IPC_CREAT | 0600));
        else if (!strcmp(w, "shm-find"))     /* ENOENT unless this IPC namespace has it */
            report(w, shmget(0x6d637472, 0, 0));
        else if (!strcmp(w, "getpid"))
            report(w, syscall(SYS_getpid));
        else
            printf("%s unknown-probe\n", w);
    }
    return 0;
}
