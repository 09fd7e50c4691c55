package main

// Runs in: srun, sbatch, salloc (submit, as the user), after the C option
// callbacks recorded their values. Must not: run in slurmstepd; read any
// file. It only reads back what options.c recorded.

/*
#include "carina.h"
*/
import "C"

import (
	"strings"

	"github.com/carina-hpc/carina/pkg/option"
)

// envSpec carries the effective settings (option.Spec as JSON) from srun,
// sbatch or salloc to the nodes, in the job's environment. The submit side
// computes it once; the nodes decode it strictly and never rebuild it.
const envSpec = "CARINA_SPEC"

// recordedFlags reads back what the C option callbacks recorded.
func recordedFlags() option.Flags {
	f := option.Flags{}
	for i := 0; i < int(C.CARINA_OPT_COUNT); i++ {
		name := C.GoString(C.carina_opt_name(C.int(i)))
		for j := 0; j < int(C.carina_opt_count(C.int(i))); j++ {
			f[name] = append(f[name], C.GoString(C.carina_opt_value(C.int(i), C.int(j))))
		}
	}
	return f
}

// spankEnvPrefix names the variables in which Slurm hands the options of
// an sbatch or salloc to the steps of its job (and to the nested sruns,
// whose environment holds them).
const spankEnvPrefix = "SLURM_SPANK__SLURM_SPANK_OPTION_carina_"

// inheritedFlags are the options this command inherits from its job's
// sbatch or salloc, read with lookup.
func inheritedFlags(lookup func(string) (string, bool)) map[string]string {
	inherited := map[string]string{}
	for i := 0; i < int(C.CARINA_OPT_COUNT); i++ {
		name := C.GoString(C.carina_opt_name(C.int(i)))
		v, ok := lookup(spankEnvPrefix + strings.ReplaceAll(name, "-", "_"))
		if !ok {
			continue
		}
		if C.carina_opt_has_arg(C.int(i)) == 0 {
			v = "1"
		} else if v == "" {
			continue
		}
		inherited[name] = v
	}
	return inherited
}
