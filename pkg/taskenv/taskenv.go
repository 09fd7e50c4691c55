// Package taskenv decides which image variables a task gets. It is pure.
//
// Rule: the image's variables apply inside the container (PATH and
// friends), except the per-task variables that Slurm, PMI/PMIx and MPI set
// for each task: those are always the task's own, never overwritten.
package taskenv

import "strings"

// Var is one environment variable.
type Var struct{ Name, Value string }

// perTaskPrefixes and perTaskNames are never taken from the image.
var perTaskPrefixes = []string{"SLURM_", "SLURMD_", "PMI_", "PMIX_", "OMPI_", "MPIR_", "CARINA_INTERNAL_"}

var perTaskNames = map[string]bool{
	"CUDA_VISIBLE_DEVICES": true,
	"ROCR_VISIBLE_DEVICES": true,
	"GPU_DEVICE_ORDINAL":   true,
	"HOME":                 true, // the user's, not the image author's
	"HOSTNAME":             true,
}

// PerTask reports whether name is a per-task variable.
func PerTask(name string) bool {
	if perTaskNames[name] {
		return true
	}
	for _, p := range perTaskPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// FromImage turns the image's NAME=VALUE list into the variables to set in
// each task, dropping per-task and malformed entries. Later duplicates win.
func FromImage(env []string) []Var {
	idx := map[string]int{}
	var out []Var
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" || PerTask(name) {
			continue
		}
		if i, dup := idx[name]; dup {
			out[i].Value = val
			continue
		}
		idx[name] = len(out)
		out = append(out, Var{name, val})
	}
	return out
}
