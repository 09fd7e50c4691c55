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
	"github.com/carina-hpc/carina/pkg/squashfs"
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
	resetOOMScore()
	if img, ok := fromSite(*siteStore, fs.Arg(0)); ok {
		fmt.Fprintf(os.Stderr, "carina: %s is in the site image store (image %.12s)\n", fs.Arg(0), img.ID)
		return nil
	}
	if *site && *format != formatSquashfs {
		return fmt.Errorf("--site needs --image-format squashfs: users read a site store's squashfs files only")
	}
	if sqsh, err := squashfs.Path(fs.Arg(0)); err != nil || sqsh != "" {
		return err // a squashfs file is mounted by the nodes, not imported
	}
	runroot, err := os.MkdirTemp("", "carina-pull-")
	if err != nil {
		return fmt.Errorf("making a temporary run root: %w", err)
	}
	defer os.RemoveAll(runroot)
	unlock, err := imagestore.Lock(filepath.Join(*store, imagestore.LockFile))
	if err != nil {
		return err
	}
	defer unlock()
	// Said only when there is work to see: a warm image (already in the
	// store) is checked in well under half a second, silently.
	start := time.Now()
	announce := time.AfterFunc(500*time.Millisecond, func() {
		fmt.Fprintf(os.Stderr, "carina: pulling %s into %s\n", fs.Arg(0), *store)
	})
	squash := ""
	if *format == formatSquashfs {
		squash = *store
	}
	var extra []string
	if *site {
		extra = append(extra, "--site")
	}
	p, err := pullAsSubordinate(context.Background(), storeGraph(*store), runroot, fs.Arg(0), os.Stderr, *retry, squash, extra...)
	quiet := announce.Stop()
	if err != nil {
		return err
	}
	if err := imagestore.Touch(*store, p.ID); err != nil {
		return fmt.Errorf("recording the use of image %.12s: %w", p.ID, err)
	}
	if !quiet {
		fmt.Fprintf(os.Stderr, "carina: %s ready (image %.12s) in %.1fs\n", fs.Arg(0), p.ID, time.Since(start).Seconds())
	}
	if strings.HasPrefix(fs.Arg(0), image.LocalStorePrefix) {
		fmt.Println(fs.Arg(0) + "@" + p.ID) // the pin: this image as copied
	}
	return nil
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
