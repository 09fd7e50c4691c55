/*
 * dispatch.c - the only file holding SPANK_PLUGIN and the Slurm entry
 * points; each switches on spank_context() and hands the work on.
 *
 * Contract, per entry point:
 *   slurm_spank_init           every context; Go: parse plugstack args.
 *                              slurmd: record its node name for its
 *                              slurmstepds and epilogs (node.c).
 *   slurm_spank_init_post_opt  srun/sbatch/salloc (local, allocator): Go
 *                              validates the options and pins the image
 *                              to its digest before allocation.
 *                              slurmstepd (remote, root, before fork): Go
 *                              starts or finds the node container as the
 *                              user and fills the join plan.
 *   slurm_spank_task_init      the forked task, as the user: C ONLY
 *                              (task.c). Go must never run after fork.
 *   slurm_spank_task_exit      slurmstepd (root, the parent), per task exit:
 *                              Go saves the container (--container-save)
 *                              when the step's last local task has ended.
 *   slurm_spank_exit           slurmstepd: frees the plan; C only.
 *   slurm_spank_job_epilog     root, once per node per job, in its own
 *                              short-lived process: Go removes the job's
 *                              containers as the user; never fails the node.
 * A job that uses no container costs one environment lookup per hook.
 */
#include "carina.h"
#include "_cgo_export.h"
#include "../cgo/join.h"

SPANK_PLUGIN(carina, 1);

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	spank_context_t ctx = spank_context();

	if (carinaInit((int)ctx, ac, av) != 0)
		return -1;
	switch (ctx) {
	case S_CTX_LOCAL:
	case S_CTX_ALLOCATOR:
	case S_CTX_REMOTE:
		return carina_register_options(sp);
	case S_CTX_SLURMD:
		return carina_slurmd_identity();
	default:
		return 0;
	}
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	/* Go decides whether the job uses carina: options, their
	 * CARINA_CONTAINER_* / PYXIS_CONTAINER_* environment defaults, an
	 * environment file, or (remote) the spec the submit side computed. */
	switch (spank_context()) {
	case S_CTX_LOCAL:
	case S_CTX_ALLOCATOR:
		return carinaSubmit();
	case S_CTX_REMOTE:
		return carinaNodeUp(sp);
	default:
		return 0;
	}
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	return carina_task_init(sp);
}

int slurm_spank_task_exit(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	if (spank_context() != S_CTX_REMOTE || !carina_plan_get()->active)
		return 0;
	return carinaTaskExit(sp);
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	(void)sp;
	(void)ac;
	(void)av;
	if (spank_context() == S_CTX_REMOTE)
		carina_plan_free();
	carina_opts_free();
	return 0;
}

int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
	/* slurm_spank_init is not called in the job script context: the
	 * plugstack arguments arrive here. */
	return carinaJobEpilog(sp, ac, av);
}
