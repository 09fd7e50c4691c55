package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/carina-hpc/carina/pkg/image"
)

// resolveCmd prints the digest-pinned form of an image reference. srun and
// sbatch run it once per job, so every node runs the same bytes even if
// the tag moves meanwhile.
func resolveCmd(args []string) error {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: carina resolve IMAGE")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	pinned, err := image.Resolve(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Println(pinned)
	return nil
}

// pullCmd pulls an image into a shared image store, showing progress: srun
// and sbatch run it before the tasks launch when the submit host can write
// the user's store, so that the nodes find the image there.
func pullCmd(args []string) error {
	fs := flag.NewFlagSet("pull", flag.ContinueOnError)
	store := fs.String("store", "", "the image store directory (the site's image_store for this user)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *store == "" || fs.NArg() != 1 {
		return fmt.Errorf("usage: carina pull --store DIR IMAGE")
	}
	resetOOMScore()
	if sqsh, err := squashfsPath(fs.Arg(0)); err != nil || sqsh != "" {
		return err // a squashfs file is mounted by the nodes, not imported
	}
	runroot, err := os.MkdirTemp("", "carina-pull-")
	if err != nil {
		return fmt.Errorf("making a temporary run root: %w", err)
	}
	defer os.RemoveAll(runroot)
	unlock, err := lock(filepath.Join(*store, "pull.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	fmt.Fprintf(os.Stderr, "carina: pulling %s into %s\n", fs.Arg(0), *store)
	start := time.Now()
	p, err := pullAsSubordinate(context.Background(), sharedGraph(*store), runroot, fs.Arg(0), os.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "carina: %s ready (image %.12s) in %.1fs\n", fs.Arg(0), p.ID, time.Since(start).Seconds())
	return nil
}
