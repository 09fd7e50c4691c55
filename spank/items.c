/*
 * items.c - non-variadic wrappers over spank_get_item, callable from Go.
 *
 * Runs in: slurmstepd (before fork) and the job epilog process.
 * Must not: run in a forked task (Go calls these); allocate (they only
 * copy Slurm's values into the caller's buffers); take anything from the
 * job's environment as trusted (carina_job_env_has only tells whether a
 * variable is there).
 */
#include "carina.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

int carina_job_ids(spank_t sp, uint32_t *uid, uint32_t *gid, uint32_t *job,
		   uint32_t *step, uint32_t *nodeid)
{
	uid_t u;
	gid_t g;

	if (spank_get_item(sp, S_JOB_UID, &u) != ESPANK_SUCCESS)
		return -1;
	if (spank_get_item(sp, S_JOB_GID, &g) != ESPANK_SUCCESS)
		return -1;
	if (spank_get_item(sp, S_JOB_ID, job) != ESPANK_SUCCESS)
		return -1;
	*uid = (uint32_t)u;
	*gid = (uint32_t)g;
	if (step != NULL && spank_get_item(sp, S_JOB_STEPID, step) != ESPANK_SUCCESS)
		return -1;
	if (nodeid != NULL && spank_get_item(sp, S_JOB_NODEID, nodeid) != ESPANK_SUCCESS)
		return -1;
	return 0;
}

int carina_task_id(spank_t sp, int *local_id)
{
	return spank_get_item(sp, S_TASK_ID, local_id) == ESPANK_SUCCESS ? 0 : -1;
}

int carina_job_env_has(spank_t sp, const char *prefix)
{
	char **env = NULL;
	size_t plen = strlen(prefix);
	int i;

	if (spank_get_item(sp, S_JOB_ENV, &env) != ESPANK_SUCCESS || env == NULL)
		return 0;
	for (i = 0; env[i] != NULL; i++) {
		const char *eq;

		if (strncmp(env[i], prefix, plen) != 0)
			continue;
		eq = strchr(env[i], '=');
		if (eq != NULL && eq[1] != '\0')
			return 1;
	}
	return 0;
}

void carina_log(int level, const char *line)
{
	switch (level) {
	case 0:
		slurm_debug("%s", line);
		break;
	case 1:
		slurm_info("%s", line);
		break;
	default:
		slurm_error("%s", line);
		break;
	}
}

int carina_job_argv0(spank_t sp, char *buf, size_t len)
{
	int argc = 0;
	char **argv = NULL;
	int n;

	if (spank_get_item(sp, S_JOB_ARGV, &argc, &argv) != ESPANK_SUCCESS || argc < 1 || argv == NULL ||
	    argv[0] == NULL)
		return -1;
	n = snprintf(buf, len, "%s", argv[0]);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return 0;
}

int carina_local_tasks(spank_t sp, uint32_t *count)
{
	return spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, count) == ESPANK_SUCCESS ? 0 : -1;
}
