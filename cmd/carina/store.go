package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/pull"
)

// storeGraph is the containers/storage graph root inside an image store
// directory (imagestore.GraphDir), as node.go names it.
func storeGraph(dir string) string { return imagestore.GraphDir(dir) }

// initImageStore creates the shared store once, under its lock, so that
// podman can open it as an image store before anything was pulled.
func (f nodeFlags) initImageStore(ctx context.Context, d plan.Dirs) error {
	if f.imageStore == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(storeGraph(f.imageStore), "overlay-images", "images.lock")); err == nil {
		return nil
	}
	unlock, err := imagestore.Lock(filepath.Join(f.imageStore, imagestore.LockFile))
	if err != nil {
		return err
	}
	defer unlock()
	return pull.Init(ctx, storeGraph(f.imageStore), filepath.Join(d.Run, "image-store"))
}

// Image formats of a shared store (the site's image_format).
const (
	formatSquashfs = "squashfs" // each image also kept as one squashfs file, started from it
	formatOverlay  = "overlay"  // layers only, read by podman as an additional image store
)

// checkImageFormat accepts the values of --image-format.
func checkImageFormat(f string) error {
	if f != formatSquashfs && f != formatOverlay {
		return fmt.Errorf("--image-format: want squashfs or overlay, not %q", f)
	}
	return nil
}

// imageStoreDir is where this node's podman finds images: the user's
// shared image store, or the node-local store.
func (f nodeFlags) imageStoreDir(d plan.Dirs) string {
	if f.imageStore != "" {
		return f.imageStore
	}
	return d.Store
}

// pullOnce pulls ref where this node's podman will find it, under the
// store's lock: with a shared store one node pulls while the others wait
// and then find the image there. The job's lease on the image is taken
// under the same lock, so gc can never remove it in between.
func (f nodeFlags) pullOnce(ctx context.Context, d plan.Dirs, s plan.Step) (image.Pulled, error) {
	dir := f.imageStoreDir(d)
	unlock, err := imagestore.Lock(filepath.Join(dir, imagestore.LockFile))
	if err != nil {
		return image.Pulled{}, err
	}
	defer unlock()
	runroot := d.RunRoot // the node-local store is podman's own
	if f.imageStore != "" {
		runroot = filepath.Join(d.Run, "image-store")
	}
	squash := ""
	if f.imageStore != "" && f.imageFormat == formatSquashfs {
		squash = dir
	}
	p, err := pull.Subordinate(ctx, pull.Request{Root: storeGraph(dir), RunRoot: runroot, Ref: f.image, Retry: *f.retry, SquashDir: squash}, nil)
	if err != nil {
		return image.Pulled{}, err
	}
	if err := imagestore.Lease(dir, p.ID, s.Node, s.JobID); err != nil {
		return image.Pulled{}, fmt.Errorf("recording that job %d uses image %.12s: %w", s.JobID, p.ID, err)
	}
	return p, nil
}
