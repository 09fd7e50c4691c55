package main

// Runs in: srun, sbatch, salloc, as the user, on the submit host, before
// any allocation (local and allocator slurm_spank_init_post_opt). Must
// not: leave the job half-made (every error stops the command here with
// one carina: line). It may read what the user names (environment files,
// mount sources): it runs with the user's own rights.

import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/envfile"
	"github.com/carina-hpc/carina/pkg/jobpin"
	"github.com/carina-hpc/carina/pkg/mounts"
	"github.com/carina-hpc/carina/pkg/option"
	"github.com/carina-hpc/carina/pkg/regauth"
	"github.com/carina-hpc/carina/pkg/request"
	"github.com/carina-hpc/carina/pkg/runas"
)

// The pinned image travels from srun/sbatch/salloc to the nodes, and from a
// job to its nested sruns, in these two variables of the job environment.
const (
	envResolvedFrom = "CARINA_RESOLVED_FROM" // the normalised reference the user gave
	envResolved     = "CARINA_RESOLVED"      // that reference at its digest
)

// slurmPrefix: a second name for each variable carina hands to the
// steps. Slurm passes a step every SLURM_* variable of the submitting
// environment even under --export=NONE (measured with srun and sbatch,
// Slurm 22.05), so under this name the settings and the pin reach the
// steps of an `sbatch --export=NONE` job too. SLURM_SPANK_ is the part of
// Slurm's names it leaves to SPANK plugins.
const slurmPrefix = "SLURM_SPANK_"

// setJobVar sets a variable carina hands to the steps, in this command's
// environment, under its own name (the tasks see it so) and under
// slurmPrefix (the nodes read that one first). Both are set, so a nested
// command never passes on the copy its job got from sbatch or salloc.
func setJobVar(name, value string) error {
	for _, n := range []string{name, slurmPrefix + name} {
		if err := os.Setenv(n, value); err != nil {
			return fmt.Errorf("setting %s: %w", n, err)
		}
	}
	return nil
}

// getJobVar reads a variable carina handed to the steps from an
// environment: its copy under slurmPrefix first (the one --export cannot
// drop), else its own name; "" when neither is set.
func getJobVar(lookup func(string) (string, bool), name string) string {
	if v, ok := lookup(slurmPrefix + name); ok {
		return v
	}
	v, _ := lookup(name)
	return v
}

// carinaSubmit validates the options and pins the image (before any
// allocation). A failure stops the command with one carina: line.
//
//export carinaSubmit
func carinaSubmit() C.int {
	if err := submit(); err != nil {
		log.Error(request.Prefixed(err.Error()))
		return -1
	}
	return 0
}

// submit runs in srun, sbatch and salloc, as the user, before allocation:
// it computes the step's settings (rejecting contradictions here, before
// any node work), pins the image to its digest once for the whole job and,
// when this host can write the user's shared image store, pulls it there
// with progress on the terminal, so that the nodes find it and fetch
// nothing. The settings travel to the nodes in CARINA_SPEC (setJobVar).
func submit() error {
	c := currentConfig()
	cwd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	spec, err := buildSpec(cwd, home, c)
	if err != nil {
		return err
	}
	if !spec.Active() {
		// A step that runs in no container (no image and no name, or a
		// step of a containerised job run outside it) says so, with the
		// options it ignored: its nodes see those forwarded, accept them,
		// and fail closed on any other (step.go).
		stray := option.Stray(recordedFlags())
		none, err := option.EncodeSpec(option.Spec{Ignored: stray})
		if err != nil {
			return err
		}
		if err := setJobVar(envSpec, none); err != nil {
			return err
		}
		if len(stray) > 0 {
			log.Info("carina: ignoring " + strings.Join(stray, ", ") + ": no --container-image or --container-name")
		}
		return nil
	}
	// The nodes check the mounts again, as the user, with the same code.
	if _, _, err := mounts.Check(c, spec.Mounts); err != nil {
		return err
	}
	// A directory where the save goes would fail only after the job ran
	// (as the user, this host sees the path the first node writes).
	if fi, err := os.Stat(spec.Save); spec.Save != "" && err == nil && fi.IsDir() {
		return fmt.Errorf("--container-save=%s: the target is a directory; name a file", spec.Save)
	}
	js, err := option.EncodeSpec(spec)
	if err != nil {
		return err
	}
	if spec.Image != "" {
		if err := pinImage(c, spec.Image, cwd); err != nil {
			return err
		}
	}
	return setJobVar(envSpec, js)
}

// buildSpec computes the step's settings from the options (the command
// line's over those inherited from the job's sbatch or salloc), their
// environment defaults, an environment file and the site's defaults.
func buildSpec(cwd, home string, c config.Config) (option.Spec, error) {
	load := func(v string) (option.EnvFile, error) { return envfile.ForOption(v, cwd, home, c.EnvironmentsDir) }
	flags := option.Effective(recordedFlags(), inheritedFlags(os.LookupEnv))
	return option.Build(flags, os.Getenv, cwd, load, option.Defaults{
		MountHome: c.MountHome, RemapRoot: c.RemapRoot, Writable: c.Writable, Entrypoint: c.Entrypoint})
}

// pinImage pins the image once per job (CARINA_RESOLVED) and pre-pulls it.
func pinImage(c config.Config, value, cwd string) error {
	img, err := option.ParseImage(value, cwd)
	if err != nil {
		return err
	}
	if inherited(img) != "" {
		return nil // a step of a job that already pinned this image
	}
	pin, err := jobPinned(c, img)
	if err != nil {
		return err
	}
	store, why := submitStore(c)
	if store == "" && img.Transport == option.LocalStore {
		return fmt.Errorf("image %s: an image from your podman store is copied at submit into your shared image store, "+
			"which this host cannot write", img.Source())
	}
	if why != "" && img.Transport == option.Registry {
		fmt.Fprintf(os.Stderr, "carina: %s; the nodes pull %s themselves, without progress here\n", why, img.Source())
	}
	if store != "" {
		rep, err := runas.Cmd{Path: c.Helper, Self: true, Timeout: c.HelperLimit, Progress: os.Stderr}.Call(context.Background(),
			request.Request{Kind: request.KindPull, Site: c, Auth: submitAuth(), Pull: &request.Pull{Store: store, Image: pin}})
		if err != nil {
			return err
		}
		if img.Transport == option.LocalStore {
			// Pinned to the image id it got in the shared store.
			if pin, err = option.Pinned(rep.Image, img); err != nil {
				return err
			}
		}
	}
	if err := setJobVar(envResolvedFrom, img.Source()); err != nil {
		return err
	}
	return setJobVar(envResolved, pin)
}

// jobPinned pins img once per job: a step inside an allocation (srun in
// an salloc or a batch script) reuses the digest an earlier step of the
// job pinned the same reference to (pkg/jobpin, in the user's cache
// directory), so it runs the same bytes and asks no registry. Where the
// pins cannot be kept, the step says so and resolves by itself.
func jobPinned(c config.Config, img option.Image) (string, error) {
	job := os.Getenv("SLURM_JOB_ID")
	if img.Transport != option.Registry || job == "" {
		return resolve(c, img)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		fmt.Fprintf(os.Stderr, "carina: cannot keep job %s's image pins (%v); each step resolves %s by itself\n", job, err, img.Source())
		return resolve(c, img)
	}
	var resolveErr error
	pin, _, err := jobpin.Pin(jobpin.Dir(cache), job, img.Source(), func() (string, error) {
		p, err := resolve(c, img)
		resolveErr = err
		return p, err
	})
	switch {
	case resolveErr != nil:
		return "", resolveErr
	case err != nil && pin != "":
		fmt.Fprintf(os.Stderr, "carina: %v; later steps of job %s resolve %s again\n", err, job, img.Source())
		return pin, nil
	case err != nil:
		fmt.Fprintf(os.Stderr, "carina: %v; this step resolves %s by itself\n", err, img.Source())
		return resolve(c, img)
	}
	return pin, nil
}

// resolve pins a registry image to its digest with the helper; a file
// must exist and be readable here (the nodes read the same path).
func resolve(c config.Config, img option.Image) (string, error) {
	if img.Transport == option.LocalStore {
		return img.Source(), nil // pinned when copied (submit)
	}
	if img.Transport != option.Registry {
		f, err := os.Open(img.Ref)
		if err != nil {
			return "", fmt.Errorf("image %s: %w", img.Ref, errors.Unwrap(err))
		}
		f.Close()
		return img.Source(), nil
	}
	rep, err := runas.Cmd{Path: c.Helper, Self: true, Timeout: 2 * time.Minute}.Call(context.Background(),
		request.Request{Kind: request.KindResolve, Site: c, Auth: submitAuth(), Resolve: &request.Resolve{Image: img.Ref}})
	if err != nil {
		return "", err
	}
	return option.Pinned(rep.Image, img)
}

// submitAuth places the user's registry credentials from this command's
// environment (the user's own process), as podman would find them here.
func submitAuth() *regauth.Env {
	home := ""
	if u, err := user.Current(); err == nil {
		home = u.HomeDir
	}
	e := regauth.FromEnv(os.Getenv, home)
	return &e
}

// inherited returns the pinned form of img that the environment carries
// (set by the sbatch or salloc of this job), or "".
func inherited(img option.Image) string {
	return inheritedFrom(img, getJobVar(os.LookupEnv, envResolvedFrom), getJobVar(os.LookupEnv, envResolved))
}

func inheritedFrom(img option.Image, from, pin string) string {
	if from != img.Source() || pin == "" {
		return ""
	}
	p, err := option.Pinned(pin, img)
	if err != nil {
		return ""
	}
	return p
}

// submitStore is the user's shared image store when this host can write
// it, else "" (the nodes then pull, once, themselves) and, when the site
// has a shared store that this host cannot use, why, for the user's
// terminal. A user's directory not made yet is no fault: the nodes' root
// side makes it at the user's first job, whose nodes then pull, once.
func submitStore(c config.Config) (dir, why string) {
	u, err := user.Current()
	if err != nil {
		return "", ""
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return "", ""
	}
	if dir = c.ImageStoreFor(uint32(uid), u.Username); dir == "" {
		return "", ""
	}
	base := c.ImageStoreBase()
	if _, err := os.Stat(base); err != nil {
		return "", fmt.Sprintf("the shared image store %s is not visible on this host (%v)", base, errors.Unwrap(err))
	}
	var st syscall.Stat_t
	err = syscall.Stat(dir, &st)
	switch {
	case errors.Is(err, syscall.ENOENT):
		return "", ""
	case err != nil:
		return "", fmt.Sprintf("your image store %s cannot be used from this host (%v)", dir, err)
	case st.Mode&syscall.S_IFMT != syscall.S_IFDIR || uint64(st.Uid) != uid:
		return "", fmt.Sprintf("your image store %s cannot be used from this host (not a directory of yours)", dir)
	case unix.Access(dir, unix.W_OK) != nil:
		return "", fmt.Sprintf("your image store %s cannot be used from this host (not writable here)", dir)
	}
	return dir, ""
}
