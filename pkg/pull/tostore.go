package pull

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
	"github.com/carina-hpc/carina/pkg/squashfs"
)

// Options are those of `carina pull`.
type Options struct {
	Store     string // the image store directory (the site's image_store for this user)
	Ref       string
	Retry     image.Retry
	Squash    bool     // the store keeps each image also as a squashfs file (image_format squashfs)
	Site      bool     // fill a site store (an admin's): every user's jobs may start from it
	SiteStore string   // the site's store: an image it holds is not pulled again
	AuthFiles []string // the user's credential files, in podman's order (regauth.Env.Files)
}

// announceAfter is how long a pull runs before it is announced: a warm
// image (already in the store) is checked in well under half a second,
// silently. (A variable for the tests.)
var announceAfter = 500 * time.Millisecond

// ToStore pulls o.Ref into the shared store o.Store under the store's
// lock, with progress and one "carina:" line when it starts and when it is
// done on log, and records its use. An image the site store holds, or a
// squashfs file (mounted by the nodes, not imported), is not pulled. It
// returns the pin to print for an image copied from the user's own podman
// store (containers-storage:NAME@ID), else "".
func ToStore(ctx context.Context, o Options, log io.Writer) (string, error) {
	log = &lockedWriter{w: log} // the announcement and the child's progress
	if img, ok := FromSite(o.SiteStore, o.Ref); ok {
		fmt.Fprintf(log, "carina: %s is in the site image store (image %.12s)\n", o.Ref, img.ID)
		return "", nil
	}
	if o.Site && !o.Squash {
		return "", fmt.Errorf("--site needs --image-format squashfs: users read a site store's squashfs files only")
	}
	if sqsh, err := squashfs.Path(o.Ref); err != nil || sqsh != "" {
		return "", err
	}
	runroot, err := os.MkdirTemp("", "carina-pull-")
	if err != nil {
		return "", fmt.Errorf("making a temporary run root: %w", err)
	}
	defer os.RemoveAll(runroot)
	unlock, err := imagestore.Lock(filepath.Join(o.Store, imagestore.LockFile))
	if err != nil {
		return "", err
	}
	defer unlock()
	start := time.Now()
	announce := time.AfterFunc(announceAfter, func() {
		fmt.Fprintf(log, "carina: pulling %s into %s\n", o.Ref, o.Store)
	})
	r := Request{Root: imagestore.GraphDir(o.Store), RunRoot: runroot, Ref: o.Ref, Retry: o.Retry, Site: o.Site, AuthFiles: o.AuthFiles}
	if o.Squash {
		r.SquashDir = o.Store
	}
	p, err := Subordinate(ctx, r, log)
	quiet := announce.Stop()
	if err != nil {
		return "", err
	}
	if err := imagestore.Touch(o.Store, p.ID); err != nil {
		return "", fmt.Errorf("recording the use of image %.12s: %w", p.ID, err)
	}
	if !quiet {
		fmt.Fprintf(log, "carina: %s ready (image %.12s) in %.1fs\n", o.Ref, p.ID, time.Since(start).Seconds())
	}
	if strings.HasPrefix(o.Ref, image.LocalStorePrefix) {
		return o.Ref + "@" + p.ID, nil // the pin: this image as copied
	}
	return "", nil
}

// lockedWriter serialises writes from the announcement's timer and the
// copy of the child's progress.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
