package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"go.podman.io/storage"
	"go.podman.io/storage/pkg/unshare"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
)

// pullInternal is the hidden subcommand node up runs for the pull.
const pullInternal = "__pull"

// pullInUserNS re-executes itself into a user namespace made from the
// user's subordinate ids (unshare.MaybeReexecUsingUserNamespace returns in
// the child), pulls, and prints image.Pulled as JSON.
func pullInUserNS(args []string) error {
	fs := flag.NewFlagSet(pullInternal, flag.ContinueOnError)
	root := fs.String("root", "", "graph root")
	runroot := fs.String("runroot", "", "run root")
	initOnly := fs.Bool("init", false, "only create the store (its lock files), pull nothing")
	retry := retryFlags(fs)
	squashDir := fs.String("squash-dir", "", "also keep the image squashed in this image store (its carina/squash/)")
	site := fs.Bool("site", false, "record the image in the store's site index (an admin's store every user reads)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *root == "" || *runroot == "" || fs.NArg() != map[bool]int{true: 0, false: 1}[*initOnly] {
		return fmt.Errorf("%s: --root, --runroot and one image reference (or --init) are required", pullInternal)
	}
	unshare.MaybeReexecUsingUserNamespace(false)
	st, err := image.Store{GraphRoot: *root, RunRoot: *runroot, Driver: "overlay"}.Open()
	if err != nil {
		return err
	}
	defer func() { _, _ = st.Shutdown(false) }()
	if *initOnly {
		// Listing creates the image and layer stores with their lock
		// files, which podman needs to read the store as an image store.
		if _, err := st.Images(); err != nil {
			return fmt.Errorf("initialising the image store %s: %w", *root, err)
		}
		return nil
	}
	p, err := image.Pull(context.Background(), st, fs.Arg(0), os.Stderr, *retry)
	if err != nil {
		return err
	}
	if *squashDir != "" {
		target := imagestore.SquashFile(*squashDir, p.ID)
		if err := image.Squash(st, p.ID, target); err != nil {
			return err
		}
		p.Squash = target
		if *site {
			if err := recordSite(st, *squashDir, p); err != nil {
				return err
			}
		}
	}
	return json.NewEncoder(os.Stdout).Encode(p)
}

// recordSite adds a pulled and squashed image to a site store's index.
func recordSite(st storage.Store, dir string, p image.Pulled) error {
	img, err := st.Image(p.ID)
	if err != nil {
		return fmt.Errorf("finding image %.12s: %w", p.ID, err)
	}
	e := imagestore.SiteImage{ID: p.ID, Names: img.Names, Env: p.Env, Workdir: p.Workdir}
	for _, d := range img.Digests {
		e.Digests = append(e.Digests, d.String())
	}
	return imagestore.AddSite(dir, e)
}
