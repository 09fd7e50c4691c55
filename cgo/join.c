/*
 * join.c - holds the join plan and performs the join of a task.
 *
 * Contract:
 *   - carina_plan_reset/set_ and _add_env/_free run in slurmstepd before
 *     the tasks are forked (remote slurm_spank_init_post_opt and
 *     slurm_spank_exit); they may allocate and are called from Go.
 *   - carina_plan_get and carina_plan_join run in the forked task
 *     (slurm_spank_task_init). They only read the plan, allocate nothing,
 *     call no Go and no Slurm function: setns(2) user -> mnt (-> net, ipc,
 *     uts when the container has its own), then chdir(2).
 *     A task process is single-threaded, which setns(CLONE_NEWUSER) needs.
 */
#define _GNU_SOURCE
#include "join.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct carina_plan plan = {
	.active = 0,
	.ns_fd = { -1, -1, -1, -1, -1 },
};

static const int ns_flags[CARINA_NS_COUNT] = {
	[CARINA_NS_USER] = CLONE_NEWUSER,
	[CARINA_NS_MNT] = CLONE_NEWNS,
	[CARINA_NS_NET] = CLONE_NEWNET,
	[CARINA_NS_IPC] = CLONE_NEWIPC,
	[CARINA_NS_UTS] = CLONE_NEWUTS,
};

static const char *const ns_names[CARINA_NS_COUNT] = {
	[CARINA_NS_USER] = "user",
	[CARINA_NS_MNT] = "mnt",
	[CARINA_NS_NET] = "net",
	[CARINA_NS_IPC] = "ipc",
	[CARINA_NS_UTS] = "uts",
};

void carina_plan_free(void)
{
	size_t i;

	for (i = 0; i < CARINA_NS_COUNT; i++) {
		if (plan.ns_fd[i] >= 0)
			(void)close(plan.ns_fd[i]);
		plan.ns_fd[i] = -1;
	}
	for (i = 0; i < plan.env_count; i++) {
		free(plan.env[i].name);
		free(plan.env[i].value);
	}
	free(plan.env);
	plan.env = NULL;
	free(plan.notice);
	plan.notice = NULL;
	plan.env_count = 0;
	plan.active = 0;
	plan.workdir[0] = '\0';
	plan.error[0] = '\0';
}

void carina_plan_reset(void)
{
	carina_plan_free();
}

int carina_plan_set_ns(int index, int fd)
{
	if (index < 0 || index >= CARINA_NS_COUNT || fd < 0)
		return -1;
	if (plan.ns_fd[index] >= 0)
		(void)close(plan.ns_fd[index]);
	plan.ns_fd[index] = fd;
	return 0;
}

int carina_plan_set_workdir(const char *dir)
{
	size_t n;

	if (dir == NULL || dir[0] != '/')
		return -1;
	n = strlen(dir);
	if (n >= sizeof(plan.workdir))
		return -1;
	memcpy(plan.workdir, dir, n + 1);
	return 0;
}

void carina_plan_set_error(const char *msg)
{
	(void)snprintf(plan.error, sizeof(plan.error), "%s", msg ? msg : "carina: unknown error");
}

int carina_plan_add_env(const char *name, const char *value)
{
	int rv = -1;
	char *n = NULL, *v = NULL;
	struct carina_env *grown;

	if (name == NULL || value == NULL || name[0] == '\0')
		goto fail;
	n = strdup(name);
	v = strdup(value);
	if (n == NULL || v == NULL)
		goto fail;
	grown = realloc(plan.env, (plan.env_count + 1) * sizeof(*grown));
	if (grown == NULL)
		goto fail;
	plan.env = grown;
	plan.env[plan.env_count].name = n;
	plan.env[plan.env_count].value = v;
	plan.env_count++;
	n = NULL;
	v = NULL;
	rv = 0;
fail:
	free(n);
	free(v);
	return rv;
}

int carina_plan_set_notice(const char *text)
{
	char *copy;

	if (text == NULL)
		return -1;
	copy = strdup(text);
	if (copy == NULL)
		return -1;
	free(plan.notice);
	plan.notice = copy;
	return 0;
}

void carina_plan_activate(void)
{
	plan.active = 1;
}

const struct carina_plan *carina_plan_get(void)
{
	return &plan;
}

int carina_plan_join(const struct carina_plan *p, char *err, size_t errlen)
{
	int rv = -1;
	int i;

	for (i = 0; i < CARINA_NS_COUNT; i++) {
		if (p->ns_fd[i] < 0 && i > CARINA_NS_MNT)
			continue; /* the host's: nothing to join */
		if (p->ns_fd[i] < 0) {
			(void)snprintf(err, errlen, "carina: join: no %s namespace prepared", ns_names[i]);
			goto fail;
		}
		if (setns(p->ns_fd[i], ns_flags[i]) != 0) {
			(void)snprintf(err, errlen, "carina: join: setns(%s): %s", ns_names[i], strerror(errno));
			goto fail;
		}
	}
	if (chdir(p->workdir[0] ? p->workdir : "/") != 0) {
		(void)snprintf(err, errlen, "carina: join: chdir(%s): %s",
			       p->workdir[0] ? p->workdir : "/", strerror(errno));
		goto fail;
	}
	rv = 0;
fail:
	for (i = 0; i < CARINA_NS_COUNT; i++) {
		if (p->ns_fd[i] >= 0)
			(void)close(p->ns_fd[i]);
	}
	return rv;
}
