/*
 * task.c - slurm_spank_task_init: joins one task to its node container.
 *
 * Contract: runs in the forked task process, as the job user, just before
 * slurmstepd execs the user's command. C ONLY: no Go (a goroutine or GC
 * here deadlocks the task), no allocation. It only reads the join plan
 * that Go prepared before the fork (cgo/join.h):
 *   1. a kept error -> report it and fail the task (errors from user_init
 *      and init_post_opt do not reach srun's exit code; this one does);
 *   2. local task 0 prints the plan's notice (the entrypoint's output, on
 *      request) on the job's stderr, which is the task's fd 2 here;
 *   3. set the image's variables (already stripped of per-task ones);
 *   4. setns user -> mnt, chdir (cgo/join.c).
 * slurmstepd then resolves and execs the command inside the container;
 * the task keeps slurmstepd as its parent.
 */
#include "carina.h"
#include "../cgo/join.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void report(spank_t sp, const char *msg)
{
	int local_id = 0;

	/* One line per node is enough: only the first local task speaks. */
	if (carina_task_id(sp, &local_id) != 0 || local_id == 0)
		slurm_error("%s", msg);
}

/* Writes text to the task's stderr; a failure to print is not fatal. */
static void print_notice(spank_t sp, const char *text)
{
	int local_id = -1;
	size_t left = strlen(text);
	ssize_t n;

	if (carina_task_id(sp, &local_id) != 0 || local_id != 0)
		return;
	while (left > 0) {
		n = write(STDERR_FILENO, text, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		text += n;
		left -= (size_t)n;
	}
}

int carina_task_init(spank_t sp)
{
	const struct carina_plan *plan = carina_plan_get();
	char err[CARINA_ERR_MAX];
	size_t i;
	int rv = -1;

	if (!plan->active)
		return 0;
	if (plan->error[0] != '\0') {
		report(sp, plan->error);
		goto fail;
	}
	if (plan->notice != NULL)
		print_notice(sp, plan->notice);
	for (i = 0; i < plan->env_count; i++) {
		if (spank_setenv(sp, plan->env[i].name, plan->env[i].value, 1) != ESPANK_SUCCESS) {
			(void)snprintf(err, sizeof(err), "carina: cannot set %s in the task environment",
				       plan->env[i].name);
			report(sp, err);
			goto fail;
		}
	}
	if (carina_plan_join(plan, err, sizeof(err)) != 0) {
		report(sp, err);
		goto fail;
	}
	rv = 0;
fail:
	return rv;
}
