package main

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
	"github.com/carina-hpc/carina/pkg/option"
	"github.com/carina-hpc/carina/pkg/runas"
)

// The pinned image travels from srun/sbatch/salloc to the nodes, and from a
// job to its nested sruns, in these two variables of the job environment.
const (
	envResolvedFrom = "CARINA_RESOLVED_FROM" // the normalised reference the user gave
	envResolved     = "CARINA_RESOLVED"      // that reference at its digest
)

// submit runs in srun, sbatch and salloc, as the user, before allocation:
// it computes the step's settings (rejecting contradictions here, before
// any node work), pins the image to its digest once for the whole job and,
// when this host can write the user's shared image store, pulls it there
// with progress on the terminal, so that the nodes find it and fetch
// nothing. The settings travel to the nodes in CARINA_SPEC.
func submit() error {
	c := currentConfig()
	cwd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	spec, err := buildSpec(os.LookupEnv, cwd, home, c)
	if err != nil {
		return err
	}
	if !spec.Active() {
		// A step of a containerised job run outside the container: no
		// settings may reach its nodes.
		if err := os.Unsetenv(envSpec); err != nil {
			return fmt.Errorf("clearing %s: %w", envSpec, err)
		}
		if stray := option.Stray(recordedFlags()); len(stray) > 0 {
			log.Info("carina: ignoring " + strings.Join(stray, ", ") + ": no --container-image or --container-name")
		}
		return nil
	}
	if err := checkMounts(c, spec); err != nil {
		return err
	}
	if spec.Image != "" {
		if err := pinImage(c, spec.Image, cwd); err != nil {
			return err
		}
	}
	js, err := marshalSpec(spec)
	if err != nil {
		return err
	}
	return os.Setenv(envSpec, js)
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
	pin, err := resolve(c, img)
	if err != nil {
		return err
	}
	store := submitStore(c)
	if store == "" && img.Transport == option.LocalStore {
		return fmt.Errorf("image %s: an image from your podman store is copied at submit into your shared image store, "+
			"which this host cannot write", img.Source())
	}
	if store != "" {
		out, err := runas.Cmd{Path: c.Helper, Args: append(append([]string{"pull", "--store", store}, c.PullArgs()...), pin),
			Self: true, Timeout: c.HelperLimit, Progress: os.Stderr}.Output(context.Background())
		if err != nil {
			return err
		}
		if img.Transport == option.LocalStore {
			// Pinned to the image id it got in the shared store.
			if pin, err = option.Pinned(strings.TrimSpace(string(out)), img); err != nil {
				return err
			}
		}
	}
	if err := os.Setenv(envResolvedFrom, img.Source()); err != nil {
		return fmt.Errorf("setting %s: %w", envResolvedFrom, err)
	}
	return os.Setenv(envResolved, pin)
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
	out, err := runas.Cmd{Path: c.Helper, Args: append(append([]string{"resolve"}, c.RetryArgs()...), img.Ref), Self: true,
		Timeout: 2 * time.Minute}.Output(context.Background())
	if err != nil {
		return "", err
	}
	return option.Pinned(strings.TrimSpace(string(out)), img)
}

// inherited returns the pinned form of img that the environment carries
// (set by the sbatch or salloc of this job), or "".
func inherited(img option.Image) string {
	return inheritedFrom(img, os.Getenv(envResolvedFrom), os.Getenv(envResolved))
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
// it, else "" (the nodes then pull, once, themselves).
func submitStore(c config.Config) string {
	u, err := user.Current()
	if err != nil {
		return ""
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return ""
	}
	dir := c.ImageStoreFor(uint32(uid), u.Username)
	if dir == "" {
		return ""
	}
	var st syscall.Stat_t
	if syscall.Stat(dir, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR || uint64(st.Uid) != uid ||
		unix.Access(dir, unix.W_OK) != nil {
		return ""
	}
	return dir
}
