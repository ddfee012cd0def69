/*
 * shim.h: internal declarations shared by the spawn-path C files.
 *
 * Error convention (one for all files, as crun does): a function returns 0 on
 * success or -1 after calling mc_fail(), which sends errno and a message to
 * the Python parent over the sync socket. The caller just propagates -1.
 */
#ifndef MINICTR_SHIM_H
#define MINICTR_SHIM_H

#include "plan.h"

/* sync.c */
extern int mc_sync_fd;
int mc_sync_send(int type, int value, int err, const char *text);
int mc_sync_wait(int expected);
int mc_wants_new_namespace(const struct mc_plan *plan, int type);
void mc_close_fds_except(int first, const int *keep, int n);  /* spawn.c */
int mc_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mc_die(void) __attribute__((noreturn));

/* explain.c: --explain, one line per kernel step; a no-op when off */
extern int mc_explain_fd;
void mc_explain(const char *step, const char *why, ...) __attribute__((format(printf, 2, 3)));

/* stage_init.c */
void mc_stage_init(const struct mc_plan *plan) __attribute__((noreturn));
int mc_join_cgroups(const struct mc_plan *plan);

/* rootfs.c */
int mc_prepare_rootfs(const struct mc_plan *plan);
int mc_pivot_root(const struct mc_plan *plan);
int mc_finalize_rootfs(const struct mc_plan *plan);
int mc_mask_and_protect(const struct mc_plan *plan);
int mc_open_in_root(int rootfd, const char *path, int flags);
int mc_mkdir_in_root(int rootfd, const char *path, int last_is_file);

/* devices.c */
int mc_setup_dev(const struct mc_plan *plan, int rootfd);

/* identity.c */
int mc_set_hostname(const struct mc_plan *plan);
int mc_write_sysctls(const struct mc_plan *plan);
int mc_set_rlimits(const struct mc_plan *plan);
int mc_load_seccomp(const struct mc_plan *plan);
int mc_set_exec_label(const struct mc_plan *plan);
int mc_finalize_identity(const struct mc_plan *plan);

/* console.c */
int mc_setup_console(const struct mc_plan *plan);

/* hooks.c */
int mc_load_hook_state(const struct mc_plan *plan);
int mc_run_start_hooks(const struct mc_plan *plan);
int mc_run_create_hooks(const struct mc_plan *plan);

#endif
