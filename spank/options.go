package main

/*
#include "carina.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/option"
)

// envSpec carries the effective settings (option.Spec as JSON) from srun,
// sbatch or salloc to the nodes, in the job's environment. The submit side
// computes it once; the nodes check it again (mount policy) as root.
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

// effectiveFlags are the options of this command over those a nested srun
// inherits from its job's sbatch or salloc (read with lookup). Slurm
// replays the inherited ones through the option callbacks too, so the
// recorded values mix both: an inherited value that the command line
// contradicts is dropped here, and an inherited option the callbacks did
// not see (slurmstepd, or a command that does not replay) is added.
func effectiveFlags(lookup func(string) (string, bool)) option.Flags {
	f := recordedFlags()
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
	for name, v := range inherited {
		own := option.Without(f[name], v)
		switch {
		case len(own) > 0 && !option.Accumulates(name):
			f[name] = own // this command's value wins
		case len(f[option.OtherHalf(name)]) > 0 && inherited[option.OtherHalf(name)] == "":
			// This command gave the other half of the pair: given on the
			// command line, either half hides both inherited ones.
			delete(f, name)
		case len(f[name]) == 0:
			f[name] = []string{v}
		}
	}
	return f
}

// buildSpec computes the step's settings from the options, their
// environment defaults (read with getenv), an environment file and the
// site's defaults. lookup reads the environment (the submitter's, or the
// job's in slurmstepd).
func buildSpec(lookup func(string) (string, bool), cwd, home string, c config.Config) (option.Spec, error) {
	load := func(v string) (option.EnvFile, error) { return loadEnvironment(v, cwd, home, c) }
	getenv := func(n string) string { v, _ := lookup(n); return v }
	return option.Build(effectiveFlags(lookup), getenv, cwd, load, option.Defaults{
		MountHome: c.MountHome, RemapRoot: c.RemapRoot, Writable: c.Writable, Entrypoint: c.Entrypoint})
}

// checkMounts applies the site's mount policy to the bind mounts' sources
// (after following symbolic links) and rejects sources that do not exist.
func checkMounts(c config.Config, s option.Spec) error {
	for _, m := range s.Mounts {
		if m.Tmpfs {
			continue
		}
		real, err := filepath.EvalSymlinks(m.Source)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("--container-mounts: source %s does not exist", m.Source)
		} else if err != nil {
			return fmt.Errorf("--container-mounts: source %s: %w", m.Source, err)
		}
		if err := c.CheckMountSource(real); err != nil {
			return fmt.Errorf("--container-mounts: %w", err)
		}
	}
	return nil
}

// nodeMounts are the mounts a node container gets: the site's defaults,
// then the user's home (--container-mount-home), then the user's own
// mounts; a later mount on the same target wins.
func nodeMounts(c config.Config, s option.Spec, home string) ([]option.Mount, error) {
	var out []option.Mount
	for _, d := range c.DefaultMounts {
		ms, err := option.ParseMounts(d, "/")
		if err != nil {
			return nil, fmt.Errorf("site default mount %q: %w", d, err)
		}
		for _, m := range ms {
			out = option.AddMount(out, m)
		}
	}
	if s.MountHome && filepath.IsAbs(home) {
		if st, err := os.Stat(home); err == nil && st.IsDir() {
			out = option.AddMount(out, option.Mount{Source: home, Target: home})
		}
	}
	for _, m := range s.Mounts {
		out = option.AddMount(out, m)
	}
	return out, nil
}

func marshalSpec(s option.Spec) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encoding the settings: %w", err)
	}
	return string(b), nil
}
