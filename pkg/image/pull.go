// Package image pulls images with containers/image into the
// containers/storage store that the node's podman reads. It runs only in
// the carina helper, as the job user, inside a user namespace made from
// the user's subordinate ids (the same mapping rootless podman uses), never
// in the SPANK plugin.
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// Store names the containers/storage store to pull into. It must match the
// --root/--runroot/--storage-driver that podman is given.
type Store struct {
	GraphRoot, RunRoot, Driver string
}

// Open opens the store, keeping the driver options of storage.conf.
func (s Store) Open() (storage.Store, error) {
	opts, err := storage.DefaultStoreOptions()
	if err != nil {
		return nil, fmt.Errorf("reading storage configuration: %w", err)
	}
	opts.GraphRoot, opts.RunRoot, opts.GraphDriverName = s.GraphRoot, s.RunRoot, s.Driver
	opts.ImageStore = ""
	st, err := storage.GetStore(opts)
	if err != nil {
		return nil, fmt.Errorf("opening image store %s: %w", s.GraphRoot, err)
	}
	return st, nil
}

// Pulled is an image now present in the store.
type Pulled struct {
	ID      string   `json:"id"`
	Env     []string `json:"env"`
	Workdir string   `json:"workdir"`
}

// Pull copies the registry image ref into st and returns its id and
// runtime configuration. registries.conf, policy.json and auth.json are
// honoured through the default system context. Progress goes to progress.
func Pull(ctx context.Context, st storage.Store, ref string, progress io.Writer) (Pulled, error) {
	src, err := docker.ParseReference("//" + ref)
	if err != nil {
		return Pulled{}, fmt.Errorf("parsing %s: %w", ref, err)
	}
	dest, err := istorage.Transport.ParseStoreReference(st, ref)
	if err != nil {
		return Pulled{}, fmt.Errorf("naming %s in the store: %w", ref, err)
	}
	sys := &types.SystemContext{}
	policy, err := signature.DefaultPolicy(sys)
	if err != nil {
		return Pulled{}, fmt.Errorf("reading policy.json: %w", err)
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		return Pulled{}, fmt.Errorf("loading policy.json: %w", err)
	}
	defer func() { _ = pc.Destroy() }()
	if _, err := copy.Image(ctx, pc, dest, src, &copy.Options{
		ReportWriter:   progress,
		SourceCtx:      sys,
		DestinationCtx: sys,
	}); err != nil {
		return Pulled{}, describe(ref, err)
	}
	img, err := istorage.Transport.GetStoreImage(st, dest)
	if err != nil {
		return Pulled{}, fmt.Errorf("finding %s in the store after the pull: %w", ref, err)
	}
	return inspect(ctx, st, img.ID, sys)
}

// inspect reads the runtime configuration of a stored image.
func inspect(ctx context.Context, st storage.Store, id string, sys *types.SystemContext) (Pulled, error) {
	ref, err := istorage.Transport.ParseStoreReference(st, "@"+id)
	if err != nil {
		return Pulled{}, fmt.Errorf("naming image %s: %w", id, err)
	}
	src, err := ref.NewImage(ctx, sys)
	if err != nil {
		return Pulled{}, fmt.Errorf("opening image %s: %w", id, err)
	}
	defer src.Close()
	cfg, err := src.OCIConfig(ctx)
	if err != nil {
		return Pulled{}, fmt.Errorf("reading the configuration of image %s: %w", id, err)
	}
	return Pulled{ID: id, Env: cfg.Config.Env, Workdir: cfg.Config.WorkingDir}, nil
}

// describe turns a containers/image error into one line a user can act on.
func describe(ref string, err error) error {
	msg := err.Error()
	var unauth docker.ErrUnauthorizedForCredentials
	switch {
	case errors.As(err, &unauth) || strings.Contains(msg, "unauthorized") || strings.Contains(msg, "authentication required"):
		return fmt.Errorf("image %s: access denied by the registry (check auth.json or the image name): %w", ref, err)
	case strings.Contains(msg, "manifest unknown") || strings.Contains(msg, "name unknown") || strings.Contains(msg, "not found"):
		return fmt.Errorf("image %s not found in its registry", ref)
	case strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") ||
		strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "network is unreachable"):
		return fmt.Errorf("image %s: registry unreachable: %w", ref, err)
	}
	return fmt.Errorf("pulling %s: %w", ref, err)
}
