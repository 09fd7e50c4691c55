/*
 * node.c - this node's name, from Slurm's daemons, never from the job.
 *
 * Contract:
 *   carina_slurmd_identity  runs in slurmd (S_CTX_SLURMD, root, from
 *                           slurm_spank_init, once at its start). It reads
 *                           slurmd's own node name (-N NAME on its command
 *                           line, else the short host name, which is what
 *                           slurmd uses then) and puts it in slurmd's
 *                           process environment as CARINA_SLURMD_NODENAME.
 *                           Every slurmstepd that slurmd starts, and the
 *                           job epilog, inherit that environment (measured:
 *                           slurmstepd's environ is slurmd's), and no user
 *                           can write it: the job's environment is a
 *                           separate array (spank_getenv).
 *   carina_node_name        slurmstepd (before fork) and the job epilog:
 *                           copies the name into buf. In the epilog
 *                           slurmd's own SLURMD_NODENAME is the fallback.
 * No Go here; nothing allocated that is not freed; single exit.
 *
 * Why not the job's SLURM_STEP_NODELIST or SLURMD_NODENAME: the user
 * owns the job's environment (a batch step keeps a forged
 * SLURM_STEP_NODELIST), and several slurmd on one host share a host name.
 */
#include "carina.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODE_ENV "CARINA_SLURMD_NODENAME"

/* The value of -N in slurmd's command line (NUL-separated), or NULL. */
static const char *nodename_arg(const char *argv, size_t len)
{
	const char *p = argv, *end = argv + len;

	while (p < end) {
		size_t n = strnlen(p, (size_t)(end - p));

		if (strcmp(p, "-N") == 0 && p + n + 1 < end)
			return p + n + 1;
		if (strncmp(p, "-N", 2) == 0 && n > 2)
			return p + 2;
		p += n + 1;
	}
	return NULL;
}

int carina_slurmd_identity(void)
{
	char argv[8192], name[256];
	const char *arg = NULL;
	ssize_t len = 0;
	int fd, rv = -1;

	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		len = read(fd, argv, sizeof(argv) - 1);
		if (close(fd) != 0)
			len = -1;
	}
	if (len > 0) {
		argv[len] = '\0';
		arg = nodename_arg(argv, (size_t)len);
	}
	if (arg != NULL) {
		if (strlen(arg) >= sizeof(name)) {
			slurm_error("carina: slurmd -N %s: node name too long", arg);
			goto out;
		}
		strcpy(name, arg);
	} else {
		char *dot;

		if (gethostname(name, sizeof(name)) != 0) {
			slurm_error("carina: gethostname: %s", strerror(errno));
			goto out;
		}
		name[sizeof(name) - 1] = '\0';
		dot = strchr(name, '.');
		if (dot != NULL)
			*dot = '\0';
	}
	if (setenv(NODE_ENV, name, 1) != 0) {
		slurm_error("carina: setenv %s: %s", NODE_ENV, strerror(errno));
		goto out;
	}
	rv = 0;
out:
	return rv;
}

int carina_node_name(char *buf, size_t len, int epilog)
{
	const char *v = getenv(NODE_ENV);

	if ((v == NULL || *v == '\0') && epilog)
		v = getenv("SLURMD_NODENAME");
	if (v == NULL || *v == '\0' || strlen(v) >= len)
		return -1;
	strcpy(buf, v);
	return 0;
}
