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
	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/runas"
)

// sharedGraph is the containers/storage graph root inside a shared store.
func sharedGraph(dir string) string { return filepath.Join(dir, "storage") }

// initImageStore creates the shared store once, under its lock, so that
// podman can open it as an image store before anything was pulled.
func (f nodeFlags) initImageStore(ctx context.Context, d plan.Dirs) error {
	if f.imageStore == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(sharedGraph(f.imageStore), "overlay-images", "images.lock")); err == nil {
		return nil
	}
	unlock, err := lock(filepath.Join(f.imageStore, "pull.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	return runPullHelper(ctx, nil, nil, "--init", "--root", sharedGraph(f.imageStore), "--runroot", filepath.Join(d.Run, "image-store"))
}

// pullOnce pulls ref where this node's podman will find it. With a shared
// store, a lock on the shared filesystem makes one node pull while the
// others wait and then find the image already there.
func (f nodeFlags) pullOnce(ctx context.Context, d plan.Dirs) (image.Pulled, error) {
	if f.imageStore == "" {
		return pullAsSubordinate(ctx, d.Graph, d.RunRoot, f.image, nil)
	}
	unlock, err := lock(filepath.Join(f.imageStore, "pull.lock"))
	if err != nil {
		return image.Pulled{}, err
	}
	defer unlock()
	return pullAsSubordinate(ctx, sharedGraph(f.imageStore), filepath.Join(d.Run, "image-store"), f.image, nil)
}

// pullAsSubordinate runs the pull in a child that re-executes into a user
// namespace built from the user's subordinate ids, as rootless podman does.
func pullAsSubordinate(ctx context.Context, graph, runroot, ref string, progress io.Writer) (image.Pulled, error) {
	var out bytes.Buffer
	if err := runPullHelper(ctx, &out, progress, "--root", graph, "--runroot", runroot, ref); err != nil {
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
