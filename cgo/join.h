/*
 * join.h - the one definition of the Go <-> C join plan.
 *
 * Contract:
 *   - The plan is filled by Go (through the setters below) in slurmstepd,
 *     in slurm_spank_init_post_opt (remote context, root, BEFORE any task
 *     is forked). Go may run there.
 *   - After fork, in slurm_spank_task_init, only carina_plan_join() and the
 *     read-only accessors are called. They run in the forked task, where Go
 *     must NEVER run: they are plain C, allocate nothing and call no Go.
 *   - carina_plan_free() releases everything; it is called from
 *     slurm_spank_exit in the parent.
 *   - Every fd in the plan is opened with O_CLOEXEC, so nothing leaks into
 *     the user's program even on an error path.
 *
 * Go takes the constants below through cgo (C.CARINA_..., cgo/plan.go),
 * so there is no second copy: cgo/plan_test.go fails when a Go constant
 * is not taken from here or a constant here is not taken by Go.
 */
#ifndef CARINA_JOIN_H
#define CARINA_JOIN_H

#include <stddef.h>
#include <stdint.h>

#define CARINA_PLAN_VERSION 1
#define CARINA_ERR_MAX 1024
#define CARINA_PATH_MAX 4096

/* Namespaces are joined in index order: user first, then mount
 * (mount first fails with EPERM for an unprivileged task). User and mount
 * are always joined; net, ipc and uts only when the container has its own
 * (--container-unshare), i.e. when their fd is set. */
enum carina_ns {
	CARINA_NS_USER = 0,
	CARINA_NS_MNT = 1,
	CARINA_NS_NET = 2,
	CARINA_NS_IPC = 3,
	CARINA_NS_UTS = 4,
	CARINA_NS_COUNT = 5
};

struct carina_env {
	char *name;
	char *value;
};

/* How a joined task is confined, as podman exec confines a process of the
 * container: capability sets as bit masks (1 << CAP_x) and the container's
 * seccomp filter as a classic BPF program (struct sock_filter entries). */
struct carina_confine {
	int active;                      /* 1 when the sets below apply */
	uint64_t bounding, effective, permitted, inheritable, ambient;
	int no_new_privs;
	void *seccomp;                   /* struct sock_filter[seccomp_len], or NULL */
	unsigned short seccomp_len;
};

/* A step whose --[no-]container-remap-root differs from the running
 * container's it joins gets a user namespace of its own, nested in the
 * container's, that maps one uid and one gid: inside (what the task sees)
 * to outside (the task's ids in the container's namespace). */
struct carina_identity {
	int active;                      /* 1: nest a user namespace */
	unsigned int uid_inside, uid_outside, gid_inside, gid_outside;
};

struct carina_plan {
	int active;                      /* 1 when this step runs in a container */
	int ns_fd[CARINA_NS_COUNT];      /* -1 when unset */
	char workdir[CARINA_PATH_MAX];   /* chdir target inside the container */
	char error[CARINA_ERR_MAX];      /* kept error, reported from task_init */
	size_t env_count;
	struct carina_env *env;          /* image variables to set in each task */
	char *notice;                    /* printed on the job's stderr by local task 0, or NULL */
	struct carina_identity identity;
	struct carina_confine confine;
};

/* Before fork (Go may run). Each returns 0 on success, -1 on error. */
void carina_plan_reset(void);
int carina_plan_set_ns(int index, int fd);
int carina_plan_set_workdir(const char *dir);
void carina_plan_set_error(const char *msg);
int carina_plan_add_env(const char *name, const char *value);
int carina_plan_set_notice(const char *text);
int carina_plan_set_confine(uint64_t bounding, uint64_t effective, uint64_t permitted,
			    uint64_t inheritable, uint64_t ambient, int no_new_privs);
int carina_plan_set_seccomp(const void *prog, size_t bytes);
void carina_plan_set_identity(unsigned int uid_inside, unsigned int uid_outside, unsigned int gid_inside,
			      unsigned int gid_outside);
void carina_plan_activate(void);
void carina_plan_free(void);

/* After fork (C only). */
const struct carina_plan *carina_plan_get(void);
/* Joins the namespaces, changes directory, nests the step's own identity
 * when the plan has one, and takes on the container's confinement (bounding set, seccomp filter, capability sets, in the order
 * runc applies them). On failure writes a "carina: ..." message into err
 * and returns -1. Allocates nothing. */
int carina_plan_join(const struct carina_plan *plan, char *err, size_t errlen);

#endif
