/*
 * carina.h - declarations shared by the C files of the SPANK plugin.
 *
 * Contract: the plugin is the C files of spank/ (Slurm entry points, option table, item
 * wrappers, the task hook) plus the Go exports of spank/. C files may
 * call Go exports only from hooks that run before any fork (see
 * dispatch.c); task.c never does.
 */
#ifndef CARINA_SPANK_H
#define CARINA_SPANK_H

#include <slurm/spank.h>
#include <stddef.h>
#include <stdint.h>

/* options.c: the option table. The index of each option; Go reads the
 * recorded values back by index (C.CARINA_OPT_*), so there is no second
 * list to drift. */
enum carina_opt {
	CARINA_OPT_IMAGE,
	CARINA_OPT_MOUNTS,
	CARINA_OPT_WORKDIR,
	CARINA_OPT_NAME,
	CARINA_OPT_SAVE,
	CARINA_OPT_MOUNT_HOME,
	CARINA_OPT_NO_MOUNT_HOME,
	CARINA_OPT_REMAP_ROOT,
	CARINA_OPT_NO_REMAP_ROOT,
	CARINA_OPT_ENTRYPOINT,
	CARINA_OPT_NO_ENTRYPOINT,
	CARINA_OPT_ENTRYPOINT_LOG,
	CARINA_OPT_WRITABLE,
	CARINA_OPT_READONLY,
	CARINA_OPT_ENV,
	CARINA_OPT_UNSHARE,
	CARINA_OPT_ENVIRONMENT,
	CARINA_OPT_COUNT
};
int carina_register_options(spank_t sp);
int carina_opt_cb(int val, const char *optarg, int remote);
const char *carina_opt_name(int opt);
int carina_opt_has_arg(int opt);
int carina_opt_count(int opt);
const char *carina_opt_value(int opt, int i);
int carina_opts_any(void);
void carina_opts_free(void);

/* items.c: non-variadic wrappers over spank_get_item (cgo cannot call a
 * variadic function). Each returns 0 on success, -1 on failure. */
int carina_job_ids(spank_t sp, uint32_t *uid, uint32_t *gid, uint32_t *job,
		   uint32_t *step, uint32_t *nodeid);
int carina_task_id(spank_t sp, int *local_id);
/* The step's argv[0] (the spooled script of a batch step) into buf. */
int carina_job_argv0(spank_t sp, char *buf, size_t len);
/* The number of tasks of the step on this node. */
int carina_local_tasks(spank_t sp, uint32_t *count);

/* node.c: this node's name from slurmd, never from the job's environment.
 * carina_slurmd_identity runs in slurmd; carina_node_name in slurmstepd
 * (epilog = 0) and the job epilog (epilog = 1). 0 on success. */
int carina_slurmd_identity(void);
int carina_node_name(char *buf, size_t len, int epilog);

/* The job environment holds a non-empty variable whose name starts with
 * prefix (1), or not (0). */
int carina_job_env_has(spank_t sp, const char *prefix);

/* log.c: route one line into Slurm's log at a level (0 debug, 1 info,
 * 2 error). */
void carina_log(int level, const char *line);

/* task.c: the whole of slurm_spank_task_init; C only. */
int carina_task_init(spank_t sp);

#endif
