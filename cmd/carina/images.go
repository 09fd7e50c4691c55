package main

// The store commands, images, inspect, rmi and gc: their flags and their
// output. pkg/userstore opens the store, as its owner when root runs them,
// and does the work.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"time"

	"go.podman.io/storage"
	"go.podman.io/storage/pkg/unshare"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/imagestore"
	"github.com/carina-hpc/carina/pkg/userstore"
)

// imagesCmd lists the images of a store, most recently used first (gc
// removes from the bottom). JSON: a list of imagestore.Row.
func imagesCmd(args []string) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	dir := storeFlag(fs)
	format := fs.String("format", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || (*format != "table" && *format != "json") {
		return errors.New("usage: carina images [--store DIR] [--format table|json]")
	}
	if err := defaultStore(dir); err != nil {
		return err
	}
	return userstore.With(*dir, false, "images", []string{"--format", *format}, func(st storage.Store, dir string) error {
		rows, err := userstore.List(st, dir)
		if err != nil {
			return err
		}
		if *format == "json" {
			return imagestore.WriteJSON(os.Stdout, rows)
		}
		return imagestore.WriteTable(os.Stdout, rows, time.Now())
	})
}

// inspectCmd prints an image as userstore.Inspected, in JSON.
func inspectCmd(args []string) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	dir := storeFlag(fs)
	format := fs.String("format", "json", "json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *format != "json" {
		return errors.New("usage: carina inspect [--store DIR] [--format json] IMAGE")
	}
	if err := defaultStore(dir); err != nil {
		return err
	}
	return userstore.With(*dir, false, "inspect", []string{"--format", *format, fs.Arg(0)}, func(st storage.Store, dir string) error {
		out, err := userstore.Inspect(context.Background(), st, dir, fs.Arg(0))
		if err != nil {
			return err
		}
		return imagestore.WriteJSON(os.Stdout, out)
	})
}

func rmiCmd(args []string) error {
	fs := flag.NewFlagSet("rmi", flag.ContinueOnError)
	dir := storeFlag(fs)
	force := fs.Bool("force", false, "remove images even while jobs use them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: carina rmi [--store DIR] [--force] IMAGE...")
	}
	if err := defaultStore(dir); err != nil {
		return err
	}
	again := append([]string{"--force=" + strconv.FormatBool(*force)}, fs.Args()...)
	return userstore.With(*dir, true, "rmi", again, func(st storage.Store, dir string) error {
		return userstore.Remove(st, dir, fs.Args(), *force, os.Stdout, os.Stderr)
	})
}

func gcCmd(args []string) error {
	fs := flag.NewFlagSet("gc", flag.ContinueOnError)
	dir := storeFlag(fs)
	keepBytes := fs.String("keep-bytes", "", "leave at most this many bytes of images (e.g. 50G; default 0)")
	keepN := fs.Int("keep", -1, "leave at most this many images")
	dryRun := fs.Bool("dry-run", false, "only print what would be removed")
	format := fs.String("format", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || (*format != "table" && *format != "json") ||
		(*keepBytes != "" && *keepN >= 0) || *keepN < -1 {
		return errors.New("usage: carina gc [--store DIR] [--keep-bytes N | --keep N] [--dry-run] [--format table|json]")
	}
	if err := defaultStore(dir); err != nil {
		return err
	}
	keep, err := imagestore.KeepFor(*keepBytes, *keepN)
	if err != nil {
		return fmt.Errorf("--keep-bytes: %w", err)
	}
	again := []string{"--keep-bytes", *keepBytes, "--keep", strconv.Itoa(*keepN),
		"--dry-run=" + strconv.FormatBool(*dryRun), "--format", *format}
	return userstore.With(*dir, !*dryRun, "gc", again, func(st storage.Store, dir string) error {
		report, gcErr := userstore.Collect(st, dir, keep, *dryRun)
		if gcErr != nil && len(report.Removed) == 0 {
			return gcErr
		}
		// Print what was removed, even when a later removal failed.
		var err error
		if *format == "json" {
			err = imagestore.WriteJSON(os.Stdout, report)
		} else {
			err = imagestore.WriteGCTable(os.Stdout, report, time.Now())
		}
		return errors.Join(gcErr, err)
	})
}

// storeFlag adds --store to fs; without it the commands work on the
// user's own shared image store (defaultStore).
func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", "", "the image store directory (default: yours, from the site's image_store)")
}

// defaultStore fills an empty --store with the calling user's shared
// image store, as the site configuration (config.DefaultFile) names it.
func defaultStore(dir *string) error {
	if *dir != "" {
		return nil
	}
	// In the store's user namespace (the commands re-execute there) the
	// caller is uid 0; the uid it came from is the one that counts.
	uid := unshare.GetRootlessUID()
	if uid == 0 {
		return errors.New("root has no image store of its own: --store DIR names the user's store to work on")
	}
	// The owner check ran in the parent, before the re-execution; in the
	// namespace root's files show as the overflow uid.
	c, err := config.ParseFile(config.DefaultFile, os.Getuid() == uid)
	if err != nil {
		return fmt.Errorf("finding your image store (give --store DIR): %w", err)
	}
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return fmt.Errorf("finding your image store (give --store DIR): %w", err)
	}
	if *dir = c.ImageStoreFor(uint32(uid), u.Username); *dir == "" {
		return fmt.Errorf("the site configuration %s sets no shared image_store; give --store DIR", config.DefaultFile)
	}
	return nil
}
