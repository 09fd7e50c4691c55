package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/runas"
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
	return runPullHelper(ctx, nil, nil, "--init", "--root", storeGraph(f.imageStore), "--runroot", filepath.Join(d.Run, "image-store"))
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
	p, err := pullAsSubordinate(ctx, storeGraph(dir), runroot, f.image, nil, *f.retry, squash)
	if err != nil {
		return image.Pulled{}, err
	}
	if err := imagestore.Lease(dir, p.ID, s.Node, s.JobID); err != nil {
		return image.Pulled{}, fmt.Errorf("recording that job %d uses image %.12s: %w", s.JobID, p.ID, err)
	}
	return p, nil
}

// pullAsSubordinate runs the pull in a child that re-executes into a user
// namespace built from the user's subordinate ids, as rootless podman does.
func pullAsSubordinate(ctx context.Context, graph, runroot, ref string, progress io.Writer, r image.Retry, squashDir string, extra ...string) (image.Pulled, error) {
	var out bytes.Buffer
	args := append([]string{"--root", graph, "--runroot", runroot}, retryArgs(r)...)
	if squashDir != "" {
		args = append(args, "--squash-dir", squashDir)
	}
	args = append(args, extra...)
	if err := runPullHelper(ctx, &out, progress, append(args, ref)...); err != nil {
		return image.Pulled{}, err
	}
	var p image.Pulled
	if err := json.Unmarshal(out.Bytes(), &p); err != nil || p.ID == "" {
		return image.Pulled{}, fmt.Errorf("pull of %s: unreadable result", ref)
	}
	return p, nil
}

// runPullHelper runs the hidden pull command (which enters the user
// namespace) with args; its standard output goes to out.
func runPullHelper(ctx context.Context, out *bytes.Buffer, progress io.Writer, args ...string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the carina binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, append([]string{pullInternal}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if progress != nil {
		cmd.Stderr = io.MultiWriter(progress, &stderr)
	}
	if out != nil {
		cmd.Stdout = out
	}
	if err := cmd.Run(); err != nil {
		if l := runas.LastCarinaLine(stderr.String()); l != "" {
			return errors.New(strings.TrimSpace(strings.TrimPrefix(l, "carina:")))
		}
		return fmt.Errorf("%s failed: %v: %s", pullInternal, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// pinnedDigest is the manifest digest of a registry reference pinned as
// REPO@sha256:..., or "".
func pinnedDigest(src string) string {
	if _, _, local := image.IsLocal(src); local || strings.HasPrefix(src, image.LocalStorePrefix) {
		return ""
	}
	if _, d, ok := strings.Cut(src, "@"); ok && strings.HasPrefix(d, "sha256:") {
		return d
	}
	return ""
}

// fromSite looks the pinned image up in the site store, if the site has one.
func fromSite(siteStore, src string) (imagestore.SiteImage, bool) {
	d := pinnedDigest(src)
	if siteStore == "" || d == "" {
		return imagestore.SiteImage{}, false
	}
	img, ok, err := imagestore.FindSite(siteStore, d)
	return img, ok && err == nil
}
