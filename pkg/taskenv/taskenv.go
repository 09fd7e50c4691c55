// Package taskenv decides which variables a task gets inside the
// container. It is pure. The rule, lowest to highest precedence:
//
//  1. the task's own environment as Slurm builds it (what srun exported),
//     less the host's locale unless named in --container-env
//     (HostLocaleToDrop);
//  2. the image's variables (PATH and friends) override it, and the site's
//     [env] (carina.toml: an injected host stack's variables) the image's;
//  3. an environment file's [env] variables override the image's;
//  4. a variable named in --container-env keeps the host's value over
//     both, when the host has it set;
//  5. per-task variables that Slurm, PMI/PMIx and MPI set for each task
//     (SLURM_PROCID, PMIX_RANK, CUDA_VISIBLE_DEVICES, ...) are always the
//     task's own: neither the image nor a file can set them.
package taskenv

import (
	"sort"
	"strings"
)

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

// Build applies the rule: it returns the variables to set in every task
// (rows 2-5; row 1 is the task's environment itself). image is the
// image's NAME=VALUE list, file the environment file's variables,
// hostWins the --container-env names and hostHas tells whether the job's
// environment sets a variable.
func Build(image []string, file map[string]string, hostWins []string, hostHas func(string) bool) []Var {
	keep := map[string]bool{}
	for _, n := range hostWins {
		if hostHas(n) {
			keep[n] = true
		}
	}
	vars := FromImage(image)
	idx := map[string]int{}
	for i, v := range vars {
		idx[v.Name] = i
	}
	names := make([]string, 0, len(file))
	for n := range file {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == "" || PerTask(n) {
			continue
		}
		if i, ok := idx[n]; ok {
			vars[i].Value = file[n]
			continue
		}
		idx[n] = len(vars)
		vars = append(vars, Var{n, file[n]})
	}
	out := vars[:0]
	for _, v := range vars {
		if !keep[v.Name] {
			out = append(out, v)
		}
	}
	return out
}

// WithSite adds the site's variables (carina.toml [env]) after the
// image's NAME=VALUE list, so that they win over the image's and are
// treated like them (per-task names dropped). Sorted, so equal settings
// give equal lists.
func WithSite(image []string, site map[string]string) []string {
	if len(site) == 0 {
		return image
	}
	names := make([]string, 0, len(site))
	for n := range site {
		names = append(names, n)
	}
	sort.Strings(names)
	out := append([]string(nil), image...)
	for _, n := range names {
		out = append(out, n+"="+site[n])
	}
	return out
}

// PrependPath puts dir first in the PATH among vars; when vars set no
// PATH, the task's own (hostPath) is extended.
func PrependPath(vars []Var, dir, hostPath string) []Var {
	for i := range vars {
		if vars[i].Name == "PATH" {
			vars[i].Value = dir + ":" + vars[i].Value
			return vars
		}
	}
	if hostPath == "" {
		hostPath = "/usr/local/bin:/usr/bin:/bin"
	}
	return append(vars, Var{"PATH", dir + ":" + hostPath})
}

// localeNames are the host's locale variables (POSIX's LANG and LC_*, and
// GNU's LANGUAGE).
var localeNames = []string{"LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_TIME", "LC_COLLATE",
	"LC_MONETARY", "LC_MESSAGES", "LC_PAPER", "LC_NAME", "LC_ADDRESS", "LC_TELEPHONE", "LC_MEASUREMENT",
	"LC_IDENTIFICATION"}

// HostLocaleToDrop lists the locale variables to remove from the task's
// own environment (row 1): as in pyxis, the host's locale does not enter
// the container unless named in --container-env (hostWins), so an image
// without the host's locales prints no "Setting locale failed". A locale
// the image or a file sets (in vars) is set by the join instead.
func HostLocaleToDrop(vars []Var, hostWins []string) []string {
	keep := map[string]bool{}
	for _, n := range hostWins {
		keep[n] = true
	}
	for _, v := range vars {
		keep[v.Name] = true
	}
	var out []string
	for _, n := range localeNames {
		if !keep[n] {
			out = append(out, n)
		}
	}
	return out
}
