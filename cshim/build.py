"""Compile cshim/: the cffi extension (minictr._native._shim) and the shim
programs (minictr/_native/bin/*). Called by the in-tree build backend, so a
plain `pip install .` builds everything; also runnable by hand:
`python cshim/build.py` (needs cffi, gcc, libseccomp-dev)."""
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NATIVE = ROOT / "minictr" / "_native"

# C files linked into the cffi module: the spawn path (runs between fork and exec).
MODULE_SOURCES = ["spawn.c", "launch.c", "netns.c", "stage_init.c", "rootfs.c", "devices.c", "identity.c",
                  "console.c", "explain.c", "sync.c", "hooks.c", "bpf.c"]
# Separate programs installed inside the package: name -> sources.
PROGRAMS: dict[str, list[str]] = {
    # the per-container monitor (conmon's job): minictr/engine/shim.py drives it
    "minictr-shim": ["monitor_main.c", "monitor_loop.c", "monitor_log.c",
                     "monitor_attach.c", "monitor_tty.c", "monitor_exit.c"],
}
# Programs linked static: they run inside a container's rootfs, which may
# have no libc (the pod sandbox's pause process, minictr/pods/pause.py).
STATIC_PROGRAMS: dict[str, list[str]] = {
    "minictr-pause": ["pause.c"],
}

CFLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-D_GNU_SOURCE", "-std=gnu11"]

# libseccomp entry points Python uses to compile linux.seccomp into BPF.
SECCOMP_CDEF = """
typedef void *scmp_filter_ctx;
struct scmp_arg_cmp { unsigned int arg; int op; uint64_t datum_a; uint64_t datum_b; };
scmp_filter_ctx seccomp_init(uint32_t def_action);
void seccomp_release(scmp_filter_ctx ctx);
int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_arch_exist(const scmp_filter_ctx ctx, uint32_t arch_token);
uint32_t seccomp_arch_resolve_name(const char *arch_name);
uint32_t seccomp_arch_native(void);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                           unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int seccomp_attr_set(scmp_filter_ctx ctx, int attr, uint32_t value);
int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
struct scmp_version { unsigned int major; unsigned int minor; unsigned int micro; };
const struct scmp_version *seccomp_version(void);
"""

# Small syscall helpers the Python side needs and the stdlib lacks.
MISC_CDEF = """
int mc_set_child_subreaper(void);
int mc_close_range_cloexec(unsigned int first);
int mc_bpf_load_device_prog(const void *insns, unsigned int insn_count, char *log, unsigned int log_size);
int mc_bpf_attach_device_prog(int cgroup_fd, int prog_fd);
int mc_bpf_detach_device_prog(int cgroup_fd, int prog_fd);
int mount(const char *source, const char *target, const char *filesystemtype, unsigned long mountflags,
          const void *data);
int umount2(const char *target, int flags);
int mc_link_up_in_netns(int netns_fd, const char *ifname);
int mc_openat2(int dirfd, const char *path, int flags, int mode, unsigned long long resolve);
int setns(int fd, int nstype);
int unshare(int flags);
int getsockopt(int sockfd, int level, int optname, void *optval, unsigned int *optlen);
"""


def plan_cdef() -> str:
    """plan.h without preprocessor lines, which cffi's cdef cannot parse."""
    text = (HERE / "plan.h").read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def make_ffibuilder():
    from cffi import FFI
    ffi = FFI()
    ffi.cdef("typedef int... pid_t; typedef int... uid_t; typedef int... gid_t;\n"
             + plan_cdef() + SECCOMP_CDEF + MISC_CDEF)
    ffi.set_source(
        "minictr._native._shim",
        '#include "plan.h"\n#include <seccomp.h>\n#include <sys/mount.h>\n'
        + MISC_CDEF,
        sources=[str(HERE / s) for s in MODULE_SOURCES],
        include_dirs=[str(HERE)],
        libraries=["seccomp"],
        extra_compile_args=CFLAGS,
    )
    return ffi


def build_programs() -> None:
    bindir = NATIVE / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    programs = [(name, sources, []) for name, sources in PROGRAMS.items()]
    programs += [(name, sources, ["-static", "-s"]) for name, sources in STATIC_PROGRAMS.items()]
    for name, sources, ldflags in programs:
        out = bindir / name
        cmd = [cc, *CFLAGS, "-I", str(HERE), "-o", str(out), *[str(HERE / s) for s in sources], *ldflags]
        subprocess.run(cmd, check=True)


def build() -> None:
    NATIVE.mkdir(parents=True, exist_ok=True)
    tmp = HERE / "_build"
    tmp.mkdir(exist_ok=True)
    ffi = make_ffibuilder()
    so = ffi.compile(tmpdir=str(tmp), verbose=False)
    # cffi writes the module below tmpdir, following the dotted name.
    produced = Path(so)
    target = NATIVE / produced.name
    os.replace(produced, target)
    build_programs()


if __name__ == "__main__":
    build()
    print("built", file=sys.stderr)
