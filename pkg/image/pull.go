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
	"runtime"
	"strings"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/shortnames"
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
	Squash  string   `json:"squash,omitempty"` // its squashed root filesystem, when made
	// Entrypoint is the image's ENTRYPOINT (run with --container-entrypoint).
	Entrypoint []string `json:"entrypoint,omitempty"`
}

// Pull copies the registry image ref into st and returns its id and
// runtime configuration. registries.conf and policy.json are honoured
// through the default system context, the user's credentials through
// creds. Progress goes to progress.
func Pull(ctx context.Context, st storage.Store, ref string, progress io.Writer, r Retry, creds Credentials) (Pulled, error) {
	if transport, path, ok := IsLocal(ref); ok {
		return pullLocal(ctx, st, transport, path, progress)
	}
	if name, ok := strings.CutPrefix(ref, LocalStorePrefix); ok {
		return pullFromLocalStore(ctx, st, name, progress)
	}
	sys := &types.SystemContext{}
	// Pin the tag to a digest (a manifest request, no blob), and take the
	// image from the store when it is already there: a warm store fetches
	// no blob, and a tag moved meanwhile cannot mix two images.
	name, src, sys, err := pinSource(ctx, sys, ref, r, creds)
	if err != nil {
		return Pulled{}, err
	}
	if d, ok := src.DockerReference().(reference.Digested); ok {
		if imgs, err := st.ImagesByDigest(d.Digest()); err == nil && len(imgs) > 0 {
			return inspect(ctx, st, imgs[0].ID)
		}
	}
	var id string
	if err := r.Do(ctx, func() (err error) { id, err = copyInto(ctx, st, src, name.String(), sys, progress); return err }); err != nil {
		return Pulled{}, describe(src.DockerReference().String(), err)
	}
	// containers/image takes a single-platform image for any node; the
	// tasks would then fail one by one with "exec format error" (the
	// container's init is the host's own). Checked on the stored config,
	// which costs no request; a foreign image is not kept.
	c, err := ConfigOf(ctx, st, id)
	if err != nil {
		return Pulled{}, err
	}
	if err := samePlatform(src.DockerReference().String(), c.OS, c.Architecture); err != nil {
		_ = RemoveStored(st, id)
		return Pulled{}, err
	}
	return pulledOf(id, c), nil
}

// copyInto copies src into st under name, honouring policy.json, and
// returns the stored image's id.
func copyInto(ctx context.Context, st storage.Store, src types.ImageReference, name string,
	sys *types.SystemContext, progress io.Writer) (string, error) {
	dest, err := istorage.Transport.ParseStoreReference(st, name)
	if err != nil {
		return "", fmt.Errorf("naming %s in the store: %w", name, err)
	}
	policy, err := signature.DefaultPolicy(sys)
	if err != nil {
		return "", fmt.Errorf("reading policy.json: %w", err)
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		return "", fmt.Errorf("loading policy.json: %w", err)
	}
	defer func() { _ = pc.Destroy() }()
	if _, err := copy.Image(ctx, pc, dest, src, &copy.Options{
		ReportWriter:   progress,
		SourceCtx:      sys,
		DestinationCtx: sys,
	}); err != nil {
		return "", err
	}
	img, err := istorage.Transport.GetStoreImage(st, dest)
	if err != nil {
		return "", fmt.Errorf("finding %s in the store after the copy: %w", name, err)
	}
	return img.ID, nil
}

// Resolve pins ref to the manifest digest its tag names now
// (REPO@sha256:...); a digest reference is returned as it is, with no
// registry request. creds are the user's credentials.
func Resolve(ctx context.Context, ref string, r Retry, creds Credentials) (string, error) {
	_, src, _, err := pinSource(ctx, &types.SystemContext{}, ref, r, creds)
	if err != nil {
		return "", err
	}
	return src.DockerReference().String(), nil
}

// pinSource resolves ref (a short name through registries.conf: aliases,
// then the unqualified-search registries in order, docker.io when none is
// configured, as pyxis users expect) and pins the first candidate that
// exists to its digest. It returns the candidate's name, the pinned
// source and sys with the user's credentials for its registry.
func pinSource(ctx context.Context, sys *types.SystemContext, ref string, r Retry, creds Credentials) (reference.Named, types.ImageReference, *types.SystemContext, error) {
	cands, err := candidates(sys, ref)
	if err != nil {
		return nil, nil, nil, err
	}
	var lastErr error
	for _, c := range cands {
		csys, from, err := creds.withCredentials(sys, c)
		if err != nil {
			return nil, nil, nil, err
		}
		var src types.ImageReference
		err = r.Do(ctx, func() (err error) { src, err = pinned(ctx, csys, c); return err })
		if err == nil {
			return c, src, csys, nil
		}
		if denied(err) {
			return nil, nil, nil, creds.deniedError(c, from, err)
		}
		lastErr = describe(c.String(), err)
		if !strings.Contains(lastErr.Error(), "not found in its registry") {
			break // only a missing image sends us on to the next registry
		}
	}
	if len(cands) > 1 {
		return nil, nil, nil, fmt.Errorf("%w (short name %s, tried %d registries)", lastErr, ref, len(cands))
	}
	return nil, nil, nil, lastErr
}

// candidates lists the fully qualified names ref may stand for.
func candidates(sys *types.SystemContext, ref string) ([]reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", ref, err)
	}
	if !shortnames.IsShortName(ref) {
		return []reference.Named{reference.TagNameOnly(named)}, nil
	}
	mode := types.ShortNameModePermissive // never prompt: tasks have no terminal
	s := *sys
	s.ShortNameMode = &mode
	res, err := shortnames.Resolve(&s, ref)
	if err != nil {
		if strings.Contains(err.Error(), "no unqualified-search registries are defined") ||
			strings.Contains(err.Error(), "no containers-registries.conf(5) was found") {
			return []reference.Named{reference.TagNameOnly(named)}, nil
		}
		return nil, fmt.Errorf("resolving the short name %s: %w", ref, err)
	}
	out := make([]reference.Named, 0, len(res.PullCandidates))
	for _, c := range res.PullCandidates {
		out = append(out, reference.TagNameOnly(c.Value))
	}
	return out, nil
}

// pinned returns a source reference fixed to the manifest digest that
// named resolves to now.
func pinned(ctx context.Context, sys *types.SystemContext, named reference.Named) (types.ImageReference, error) {
	if _, ok := named.(reference.Digested); ok {
		return docker.NewReference(named)
	}
	tagged, err := docker.NewReference(named)
	if err != nil {
		return nil, err
	}
	d, err := docker.GetDigest(ctx, sys, tagged)
	if err != nil {
		return nil, err
	}
	byDigest, err := reference.WithDigest(reference.TrimNamed(named), d)
	if err != nil {
		return nil, err
	}
	return docker.NewReference(byDigest)
}

// inspect reads the runtime configuration of a stored image.
func inspect(ctx context.Context, st storage.Store, id string) (Pulled, error) {
	c, err := ConfigOf(ctx, st, id)
	if err != nil {
		return Pulled{}, err
	}
	return pulledOf(id, c), nil
}

// pulledOf is the stored image id with its runtime configuration c.
func pulledOf(id string, c StoredConfig) Pulled {
	return Pulled{ID: id, Env: c.Env, Workdir: c.Workdir, Entrypoint: c.Entrypoint}
}

// denied reports whether the registry refused a request for want of
// (right) credentials.
func denied(err error) bool {
	var unauth docker.ErrUnauthorizedForCredentials
	if errors.As(err, &unauth) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"unauthorized", "authentication required", "denied", "StatusCode: 401", "StatusCode: 403"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// describe turns a containers/image error into one line a user can act on.
// HEAD requests carry no error body, so the status code is all there is.
func describe(ref string, err error) error {
	msg := err.Error()
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("no image found in"):
		return fmt.Errorf("image %s has no entry for %s/%s in its manifest list: %w", ref, runtime.GOOS, runtime.GOARCH, err)
	case denied(err):
		return fmt.Errorf("image %s: access denied by the registry (check auth.json and the image name): %w", ref, err)
	case has("manifest unknown", "name unknown", "not found", "StatusCode: 404"):
		return fmt.Errorf("image %s not found in its registry", ref)
	case has("connection refused", "no such host", "i/o timeout", "network is unreachable", "no route to host"):
		return fmt.Errorf("image %s: registry unreachable: %w", ref, err)
	}
	return fmt.Errorf("pulling %s: %w", ref, err)
}
