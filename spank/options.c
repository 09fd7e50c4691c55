/*
 * options.c - option callbacks. Runs in srun/sbatch/salloc and in
 * slurmstepd before fork. Slurm may call a callback twice with the same
 * value (and optarg does not stay valid): copy it, accept a repeat, reject
 * a different second value.
 */
#include "carina.h"

#include <stdlib.h>
#include <string.h>

static char *image;

const char *carina_opt_image(void)
{
	return image;
}

int carina_opt_image_cb(int val, const char *optarg, int remote)
{
	(void)val;
	(void)remote;
	if (optarg == NULL || optarg[0] == '\0') {
		slurm_error("carina: --container-image: empty value");
		return -1;
	}
	if (image != NULL) {
		if (strcmp(image, optarg) == 0)
			return 0;
		slurm_error("carina: --container-image given twice with different values (%s, %s)", image, optarg);
		return -1;
	}
	image = strdup(optarg);
	if (image == NULL) {
		slurm_error("carina: --container-image: out of memory");
		return -1;
	}
	return 0;
}
