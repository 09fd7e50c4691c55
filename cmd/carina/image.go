package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/node"
	"github.com/carina-hpc/carina/pkg/pull"
	"github.com/carina-hpc/carina/pkg/regauth"
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
	pinned, err := image.Resolve(ctx, fs.Arg(0), *retry, ownCredentials())
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
	format := fs.String("image-format", node.FormatSquashfs, "squashfs or overlay: how the store keeps images")
	site := fs.Bool("site", false, "fill a site store (an admin's, as root): every user's jobs may start from it")
	siteStore := fs.String("site-store", "", "the site's store: an image it holds is not pulled again")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := node.CheckImageFormat(*format); err != nil {
		return err
	}
	if *store == "" || fs.NArg() != 1 {
		return fmt.Errorf("usage: carina pull --store DIR IMAGE")
	}
	node.ResetOOMScore()
	pin, err := pull.ToStore(context.Background(), pull.Options{Store: *store, Ref: fs.Arg(0), Retry: *retry,
		Squash: *format == node.FormatSquashfs, Site: *site, SiteStore: *siteStore, AuthFiles: ownCredentials()}, os.Stderr)
	if pin != "" {
		fmt.Println(pin)
	}
	return err
}

// ownCredentials are the credential files of the user running carina, as
// podman finds them from this process's environment.
func ownCredentials() []string {
	home := ""
	if u, err := user.Current(); err == nil {
		home = u.HomeDir
	}
	return regauth.FromEnv(os.Getenv, home).OnThisHost()
}

// retryFlags adds --retries and --retry-delay (the site's pull_retries and
// pull_retry_delay) to fs.
func retryFlags(fs *flag.FlagSet) *image.Retry {
	r := image.DefaultRetry
	fs.IntVar(&r.Attempts, "retries", r.Attempts, "tries in all for transient registry errors")
	fs.DurationVar(&r.Delay, "retry-delay", r.Delay, "first wait between tries (doubles, plus jitter)")
	return &r
}
