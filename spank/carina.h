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
#include <stdint.h>

/* options.c: the value of --container-image, or NULL. */
const char *carina_opt_image(void);
int carina_opt_image_cb(int val, const char *optarg, int remote);

/* items.c: non-variadic wrappers over spank_get_item (cgo cannot call a
 * variadic function). Each returns 0 on success, -1 on failure. */
int carina_job_ids(spank_t sp, uint32_t *uid, uint32_t *gid, uint32_t *job,
		   uint32_t *step, uint32_t *nodeid);
int carina_task_id(spank_t sp, int *local_id);

/* log.c: route one line into Slurm's log at a level (0 debug, 1 info,
 * 2 error). */
void carina_log(int level, const char *line);

/* task.c: the whole of slurm_spank_task_init; C only. */
int carina_task_init(spank_t sp);

#endif
