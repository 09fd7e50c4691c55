package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
)

// resolveCmd prints the digest-pinned form of an image reference. srun and
// sbatch run it once per job, so every node runs the same bytes even if
// the tag moves meanwhile.
func resolveCmd(args []string) error {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	retry := retryFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: carina resolve IMAGE")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	pinned, err := image.Resolve(ctx, fs.Arg(0), *retry)
	if err != nil {
		return err
	}
	fmt.Println(pinned)
	return nil
}

// pullOpts are the settings of one pull into an image store.
type pullOpts struct {
	store, format, siteStore string
	site                     bool // fill a site store (an admin's)
	retry                    image.Retry
}

// pullCmd pulls an image into a shared image store, showing progress: srun
// and sbatch run it before the tasks launch when the submit host can write
// the user's store, so that the nodes find the image there.
func pullCmd(args []string) error {
	fs := flag.NewFlagSet("pull", flag.ContinueOnError)
	store := fs.String("store", "", "the image store directory (the site's image_store for this user)")
	retry := retryFlags(fs)
	format := fs.String("image-format", formatSquashfs, "squashfs or overlay: how the store keeps images")
	site := fs.Bool("site", false, "fill a site store (an admin's, as root): every user's jobs may start from it")
	siteStore := fs.String("site-store", "", "the site's store: an image it holds is not pulled again")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkImageFormat(*format); err != nil {
		return err
	}
	if *store == "" || fs.NArg() != 1 {
		return fmt.Errorf("usage: carina pull --store DIR IMAGE")
	}
	pin, err := pullInto(fs.Arg(0), pullOpts{store: *store, format: *format, siteStore: *siteStore, site: *site, retry: *retry})
	if err != nil {
		return err
	}
	if pin != "" {
		fmt.Println(pin)
	}
	return nil
}

// pullInto pulls ref into an image store with progress on stderr; the pin
// it returns is set for an image copied from the user's podman store.
func pullInto(ref string, o pullOpts) (string, error) {
	resetOOMScore()
	if img, ok := fromSite(o.siteStore, ref); ok {
		fmt.Fprintf(os.Stderr, "carina: %s is in the site image store (image %.12s)\n", ref, img.ID)
		return "", nil
	}
	if o.site && o.format != formatSquashfs {
		return "", fmt.Errorf("--site needs --image-format squashfs: users read a site store's squashfs files only")
	}
	if sqsh, err := squashfsPath(ref); err != nil || sqsh != "" {
		return "", err // a squashfs file is mounted by the nodes, not imported
	}
	runroot, err := os.MkdirTemp("", "carina-pull-")
	if err != nil {
		return "", fmt.Errorf("making a temporary run root: %w", err)
	}
	defer os.RemoveAll(runroot)
	unlock, err := imagestore.Lock(filepath.Join(o.store, imagestore.LockFile))
	if err != nil {
		return "", err
	}
	defer unlock()
	// Said only when there is work to see: a warm image (already in the
	// store) is checked in well under half a second, silently.
	start := time.Now()
	announce := time.AfterFunc(500*time.Millisecond, func() {
		fmt.Fprintf(os.Stderr, "carina: pulling %s into %s\n", ref, o.store)
	})
	squash := ""
	if o.format == formatSquashfs {
		squash = o.store
	}
	var extra []string
	if o.site {
		extra = append(extra, "--site")
	}
	p, err := pullAsSubordinate(context.Background(), storeGraph(o.store), runroot, ref, os.Stderr, o.retry, squash, extra...)
	quiet := announce.Stop()
	if err != nil {
		return "", err
	}
	if err := imagestore.Touch(o.store, p.ID); err != nil {
		return "", fmt.Errorf("recording the use of image %.12s: %w", p.ID, err)
	}
	if !quiet {
		fmt.Fprintf(os.Stderr, "carina: %s ready (image %.12s) in %.1fs\n", ref, p.ID, time.Since(start).Seconds())
	}
	if strings.HasPrefix(ref, image.LocalStorePrefix) {
		return ref + "@" + p.ID, nil // the pin: this image as copied
	}
	return "", nil
}

// retryFlags adds --retries and --retry-delay (the site's pull_retries and
// pull_retry_delay) to fs.
func retryFlags(fs *flag.FlagSet) *image.Retry {
	r := image.DefaultRetry
	fs.IntVar(&r.Attempts, "retries", r.Attempts, "tries in all for transient registry errors")
	fs.DurationVar(&r.Delay, "retry-delay", r.Delay, "first wait between tries (doubles, plus jitter)")
	return &r
}

// retryArgs passes r on to another carina command.
func retryArgs(r image.Retry) []string {
	return []string{"--retries", strconv.Itoa(r.Attempts), "--retry-delay", r.Delay.String()}
}
