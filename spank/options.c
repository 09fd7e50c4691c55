/*
 * options.c - the pyxis-compatible option table and its callbacks. Runs
 * in srun/sbatch/salloc and in slurmstepd before fork.
 *
 * Contract:
 *   - carina_register_options() registers every option explicitly (Slurm
 *     22.05 does not offer a global spank_options table to sbatch/salloc).
 *   - A callback only records what the user typed: it copies optarg (the
 *     pointer does not stay valid) and stores it under the option's index.
 *     Flags without an argument record "1". The meaning (defaults, the
 *     environment, contradictions) is decided in Go (pkg/option), which
 *     reads the values back with carina_opt_count/carina_opt_value.
 *   - Slurm may call a callback twice with the same value: a repeat is
 *     accepted. Every distinct value is kept: a nested srun sees the
 *     options its job's sbatch/salloc was given (Slurm replays them from
 *     the environment) besides its own command line, and only Go can tell
 *     the two apart (pkg/option: the command line wins; two different
 *     command-line values are an error).
 *   - carina_opts_free() releases every copy (slurm_spank_exit).
 */
#include "carina.h"

#include <stdlib.h>
#include <string.h>

#define MAX_VALUES 64

static struct spank_option table[CARINA_OPT_COUNT] = {
	[CARINA_OPT_IMAGE] = { "container-image", "[USER@][REGISTRY#]IMAGE[:TAG]|PATH",
		"[carina] run the step inside a container of IMAGE (a registry image or a squashfs/archive path)",
		1, CARINA_OPT_IMAGE, carina_opt_cb },
	[CARINA_OPT_MOUNTS] = { "container-mounts", "SRC[:DST[:FLAGS]][,SRC:DST...]",
		"[carina] bind mount[s] inside the container; flags joined by \"+\", e.g. \"ro+rprivate\"; SRC may be tmpfs",
		1, CARINA_OPT_MOUNTS, carina_opt_cb },
	[CARINA_OPT_WORKDIR] = { "container-workdir", "PATH",
		"[carina] working directory inside the container", 1, CARINA_OPT_WORKDIR, carina_opt_cb },
	[CARINA_OPT_NAME] = { "container-name", "NAME[:auto|create|exec|no_exec]",
		"[carina] name the container so that later steps of the job can use it", 1, CARINA_OPT_NAME, carina_opt_cb },
	[CARINA_OPT_SAVE] = { "container-save", "PATH",
		"[carina] save the container's filesystem as a squashfs file when the step ends", 1, CARINA_OPT_SAVE,
		carina_opt_cb },
	[CARINA_OPT_MOUNT_HOME] = { "container-mount-home", NULL,
		"[carina] bind mount the user's home directory", 0, CARINA_OPT_MOUNT_HOME, carina_opt_cb },
	[CARINA_OPT_NO_MOUNT_HOME] = { "no-container-mount-home", NULL,
		"[carina] do not bind mount the user's home directory", 0, CARINA_OPT_NO_MOUNT_HOME, carina_opt_cb },
	[CARINA_OPT_REMAP_ROOT] = { "container-remap-root", NULL,
		"[carina] be uid 0 inside the container (no privilege on the host)", 0, CARINA_OPT_REMAP_ROOT,
		carina_opt_cb },
	[CARINA_OPT_NO_REMAP_ROOT] = { "no-container-remap-root", NULL,
		"[carina] keep your own uid inside the container", 0, CARINA_OPT_NO_REMAP_ROOT, carina_opt_cb },
	[CARINA_OPT_ENTRYPOINT] = { "container-entrypoint", NULL,
		"[carina] run the image's entrypoint when the container starts", 0, CARINA_OPT_ENTRYPOINT, carina_opt_cb },
	[CARINA_OPT_NO_ENTRYPOINT] = { "no-container-entrypoint", NULL,
		"[carina] do not run the image's entrypoint", 0, CARINA_OPT_NO_ENTRYPOINT, carina_opt_cb },
	[CARINA_OPT_ENTRYPOINT_LOG] = { "container-entrypoint-log", NULL,
		"[carina] print the entrypoint's output", 0, CARINA_OPT_ENTRYPOINT_LOG, carina_opt_cb },
	[CARINA_OPT_WRITABLE] = { "container-writable", NULL,
		"[carina] make the container filesystem writable", 0, CARINA_OPT_WRITABLE, carina_opt_cb },
	[CARINA_OPT_READONLY] = { "container-readonly", NULL,
		"[carina] make the container filesystem read-only", 0, CARINA_OPT_READONLY, carina_opt_cb },
	[CARINA_OPT_ENV] = { "container-env", "NAME[,NAME...]",
		"[carina] host variables that override the image's values", 1, CARINA_OPT_ENV, carina_opt_cb },
	[CARINA_OPT_UNSHARE] = { "container-unshare", "NS[,NS...]",
		"[carina] give the container its own namespaces: net, ipc, uts", 1, CARINA_OPT_UNSHARE, carina_opt_cb },
	[CARINA_OPT_ENVIRONMENT] = { "environment", "NAME|PATH",
		"[carina] take container settings from a TOML environment file", 1, CARINA_OPT_ENVIRONMENT,
		carina_opt_cb },
};

static struct {
	char *values[MAX_VALUES];
	int count;
} state[CARINA_OPT_COUNT];

int carina_register_options(spank_t sp)
{
	int i;

	for (i = 0; i < CARINA_OPT_COUNT; i++) {
		if (spank_option_register(sp, &table[i]) != ESPANK_SUCCESS) {
			slurm_error("carina: cannot register --%s", table[i].name);
			return -1;
		}
	}
	return 0;
}

int carina_opt_cb(int val, const char *optarg, int remote)
{
	const char *v;
	char *copy;
	int i;

	(void)remote;
	if (val < 0 || val >= CARINA_OPT_COUNT)
		return -1;
	v = table[val].has_arg ? optarg : "1";
	if (v == NULL || v[0] == '\0') {
		slurm_error("carina: --%s: argument required", table[val].name);
		return -1;
	}
	for (i = 0; i < state[val].count; i++) {
		if (strcmp(state[val].values[i], v) == 0)
			return 0; /* Slurm called us again with the same value */
	}
	if (state[val].count >= MAX_VALUES) {
		slurm_error("carina: --%s given more than %d times", table[val].name, MAX_VALUES);
		return -1;
	}
	copy = strdup(v);
	if (copy == NULL) {
		slurm_error("carina: --%s: out of memory", table[val].name);
		return -1;
	}
	state[val].values[state[val].count++] = copy;
	return 0;
}

const char *carina_opt_name(int opt)
{
	return (opt >= 0 && opt < CARINA_OPT_COUNT) ? table[opt].name : NULL;
}

int carina_opt_has_arg(int opt)
{
	return (opt >= 0 && opt < CARINA_OPT_COUNT) ? table[opt].has_arg : 0;
}

int carina_opt_count(int opt)
{
	return (opt >= 0 && opt < CARINA_OPT_COUNT) ? state[opt].count : 0;
}

const char *carina_opt_value(int opt, int i)
{
	if (opt < 0 || opt >= CARINA_OPT_COUNT || i < 0 || i >= state[opt].count)
		return NULL;
	return state[opt].values[i];
}

int carina_opts_any(void)
{
	int i;

	for (i = 0; i < CARINA_OPT_COUNT; i++) {
		if (state[i].count > 0)
			return 1;
	}
	return 0;
}

void carina_opts_free(void)
{
	int i, j;

	for (i = 0; i < CARINA_OPT_COUNT; i++) {
		for (j = 0; j < state[i].count; j++) {
			free(state[i].values[j]);
			state[i].values[j] = NULL;
		}
		state[i].count = 0;
	}
}
