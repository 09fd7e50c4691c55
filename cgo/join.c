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
 *     uts when the container has its own), then chdir(2), then the
 *     step's own identity (nest_identity() below, only when its
 *     remap-root setting differs from the container's), then the
 *     container's confinement (confine() below).
 *     A task process is single-threaded, which setns(CLONE_NEWUSER) needs.
 */
#define _GNU_SOURCE
#include "join.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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
	free(plan.confine.seccomp);
	memset(&plan.confine, 0, sizeof(plan.confine));
	memset(&plan.identity, 0, sizeof(plan.identity));
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

int carina_plan_set_confine(uint64_t bounding, uint64_t effective, uint64_t permitted,
			    uint64_t inheritable, uint64_t ambient, int no_new_privs)
{
	plan.confine.bounding = bounding;
	plan.confine.effective = effective;
	plan.confine.permitted = permitted;
	plan.confine.inheritable = inheritable;
	plan.confine.ambient = ambient;
	plan.confine.no_new_privs = no_new_privs != 0;
	plan.confine.active = 1;
	return 0;
}

int carina_plan_set_seccomp(const void *prog, size_t bytes)
{
	void *copy;

	if (prog == NULL || bytes == 0 || bytes % sizeof(struct sock_filter) != 0 ||
	    bytes / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return -1;
	copy = malloc(bytes);
	if (copy == NULL)
		return -1;
	memcpy(copy, prog, bytes);
	free(plan.confine.seccomp);
	plan.confine.seccomp = copy;
	plan.confine.seccomp_len = (unsigned short)(bytes / sizeof(struct sock_filter));
	return 0;
}

void carina_plan_set_identity(unsigned int uid_inside, unsigned int uid_outside, unsigned int gid_inside,
			      unsigned int gid_outside)
{
	plan.identity.uid_inside = uid_inside;
	plan.identity.uid_outside = uid_outside;
	plan.identity.gid_inside = gid_inside;
	plan.identity.gid_outside = gid_outside;
	plan.identity.active = 1;
}

void carina_plan_activate(void)
{
	plan.active = 1;
}

const struct carina_plan *carina_plan_get(void)
{
	return &plan;
}

/* Writes text to a /proc file of this process (no allocation). */
static int write_proc(const char *path, const char *text, char *err, size_t errlen)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd, rv = -1;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		(void)snprintf(err, errlen, "carina: join: opening %s: %s", path, strerror(errno));
		goto fail;
	}
	n = write(fd, text, len);
	if (n < 0 || (size_t)n != len) {
		(void)snprintf(err, errlen, "carina: join: writing %s: %s", path, n < 0 ? strerror(errno) : "short write");
		goto fail;
	}
	rv = 0;
fail:
	if (fd >= 0 && close(fd) != 0 && rv == 0) {
		(void)snprintf(err, errlen, "carina: join: closing %s: %s", path, strerror(errno));
		rv = -1;
	}
	return rv;
}

/* Gives the task the step's own identity in a user namespace nested in
 * the container's: one uid and one gid mapped, which an unprivileged
 * process may do for itself (user_namespaces(7)), setgroups denied first
 * as the kernel requires for that. The task keeps its host uid, so what it
 * writes to mounted directories stays the user's. */
static int nest_identity(const struct carina_identity *id, char *err, size_t errlen)
{
	char line[64];
	int dumpable, rv = -1;

	/* The task changed credentials when slurmstepd made it the user's, so
	 * it is not dumpable and its /proc/self files are root's: it could not
	 * write its own maps. Dumpable only while it writes them (execve
	 * decides afresh for the user's program). */
	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	if (dumpable < 0 || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) {
		(void)snprintf(err, errlen, "carina: join: PR_SET_DUMPABLE: %s", strerror(errno));
		return -1;
	}
	if (unshare(CLONE_NEWUSER) != 0) {
		(void)snprintf(err, errlen, "carina: join: a user namespace for the step's own uid: %s", strerror(errno));
		goto fail;
	}
	if (write_proc("/proc/self/setgroups", "deny", err, errlen) != 0)
		goto fail;
	(void)snprintf(line, sizeof(line), "%u %u 1\n", id->uid_inside, id->uid_outside);
	if (write_proc("/proc/self/uid_map", line, err, errlen) != 0)
		goto fail;
	(void)snprintf(line, sizeof(line), "%u %u 1\n", id->gid_inside, id->gid_outside);
	if (write_proc("/proc/self/gid_map", line, err, errlen) != 0)
		goto fail;
	rv = 0;
fail:
	/* 2 (suid_dumpable's "root only") cannot be set again: 0 is stricter. */
	if (prctl(PR_SET_DUMPABLE, dumpable == 1 ? 1 : 0, 0, 0, 0) != 0 && rv == 0) {
		(void)snprintf(err, errlen, "carina: join: PR_SET_DUMPABLE: %s", strerror(errno));
		rv = -1;
	}
	return rv;
}

/* Takes on the container's confinement, in runc's order: the bounding set
 * (needs CAP_SETPCAP), no_new_privs, the seccomp filter (without
 * no_new_privs it needs CAP_SYS_ADMIN: both are held here, right after
 * joining the container's user namespace, and not after the capability
 * sets are lowered), then the effective, permitted and inheritable sets and
 * the ambient set. Capabilities past the kernel's last one are skipped. */
static int confine(const struct carina_confine *c, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	struct sock_fprog prog;
	int cap, last = -1, in;
	int rv = -1;

	for (cap = 0; cap < 64; cap++) {
		in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (in < 0)
			break; /* EINVAL: the kernel has no such capability */
		last = cap;
		if (in == 1 && !(c->bounding & (UINT64_C(1) << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
			(void)snprintf(err, errlen, "carina: join: dropping capability %d from the bounding set: %s",
				       cap, strerror(errno));
			goto fail;
		}
	}
	if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		(void)snprintf(err, errlen, "carina: join: no_new_privs: %s", strerror(errno));
		goto fail;
	}
	if (c->seccomp_len > 0) {
		prog.len = c->seccomp_len;
		prog.filter = c->seccomp;
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
			(void)snprintf(err, errlen, "carina: join: loading the container's seccomp filter: %s",
				       strerror(errno));
			goto fail;
		}
	}
	data[0].effective = (uint32_t)c->effective;
	data[1].effective = (uint32_t)(c->effective >> 32);
	data[0].permitted = (uint32_t)c->permitted;
	data[1].permitted = (uint32_t)(c->permitted >> 32);
	data[0].inheritable = (uint32_t)c->inheritable;
	data[1].inheritable = (uint32_t)(c->inheritable >> 32);
	if (syscall(SYS_capset, &hdr, data) != 0) {
		(void)snprintf(err, errlen, "carina: join: setting the container's capabilities: %s", strerror(errno));
		goto fail;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
		(void)snprintf(err, errlen, "carina: join: clearing ambient capabilities: %s", strerror(errno));
		goto fail;
	}
	for (cap = 0; cap <= last; cap++) {
		if (!(c->ambient & (UINT64_C(1) << cap)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
			(void)snprintf(err, errlen, "carina: join: raising ambient capability %d: %s", cap,
				       strerror(errno));
			goto fail;
		}
	}
	rv = 0;
fail:
	return rv;
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
	if (p->identity.active && nest_identity(&p->identity, err, errlen) != 0)
		goto fail;
	if (p->confine.active && confine(&p->confine, err, errlen) != 0)
		goto fail;
	rv = 0;
fail:
	for (i = 0; i < CARINA_NS_COUNT; i++) {
		if (p->ns_fd[i] >= 0)
			(void)close(p->ns_fd[i]);
	}
	return rv;
}
