package image

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.podman.io/image/v5/docker/reference"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"

	"github.com/carina-hpc/carina/pkg/safetext"
)

// StoredLayer is one layer of a stored image.
type StoredLayer struct {
	ID     string `json:"id"`      // the containers/storage layer id
	DiffID string `json:"diff_id"` // digest of the uncompressed layer
	Size   int64  `json:"size"`    // uncompressed bytes
}

// StoredImage is an image in a store, as the listing commands show it.
type StoredImage struct {
	ID      string
	Names   []string // as stored: fully qualified REPO:TAG or REPO@DIGEST
	Digest  string   // the manifest digest
	Digests []string // every manifest digest the image is known by
	Created time.Time
	Size    int64         // layers and metadata (storage.Store.ImageSize)
	Layers  []StoredLayer // base first
}

// ListStored lists the images of st, with their layers and sizes.
func ListStored(st storage.Store) ([]StoredImage, error) {
	images, err := st.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	layers, err := st.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	byID := make(map[string]*storage.Layer, len(layers))
	for i := range layers {
		byID[layers[i].ID] = &layers[i]
	}
	out := make([]StoredImage, 0, len(images))
	for _, img := range images {
		s, err := storedImage(st, img, byID)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func storedImage(st storage.Store, img storage.Image, layers map[string]*storage.Layer) (StoredImage, error) {
	s := StoredImage{ID: img.ID, Names: img.Names, Digest: string(img.Digest), Created: img.Created}
	for _, d := range img.Digests {
		s.Digests = append(s.Digests, string(d))
	}
	size, err := st.ImageSize(img.ID)
	if err != nil {
		return StoredImage{}, fmt.Errorf("reading the size of image %.12s: %w", img.ID, err)
	}
	s.Size = size
	seen := map[string]bool{}
	for id := img.TopLayer; id != "" && !seen[id]; {
		seen[id] = true
		l, ok := layers[id]
		if !ok {
			return StoredImage{}, fmt.Errorf("image %.12s: layer %.12s is missing", img.ID, id)
		}
		n := l.UncompressedSize
		if l.UncompressedDigest == "" || n < 0 {
			if n, err = st.DiffSize("", l.ID); err != nil {
				return StoredImage{}, fmt.Errorf("image %.12s: sizing layer %.12s: %w", img.ID, l.ID, err)
			}
		}
		s.Layers = append(s.Layers, StoredLayer{ID: l.ID, DiffID: string(l.UncompressedDigest), Size: n})
		id = l.Parent
	}
	for i, j := 0, len(s.Layers)-1; i < j; i, j = i+1, j-1 {
		s.Layers[i], s.Layers[j] = s.Layers[j], s.Layers[i]
	}
	return s, nil
}

// DisplayNames lists the names an image answers to: its REPO:TAG names,
// then REPO@DIGEST for each repository it is stored under and each of its
// manifest digests (as podman's RepoDigests).
func DisplayNames(img StoredImage) []string {
	var tags, digests []string
	seen := map[string]bool{}
	add := func(list *[]string, n string) {
		if !seen[n] {
			seen[n] = true
			*list = append(*list, n)
		}
	}
	for _, n := range img.Names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			add(&tags, n) // keep what we cannot parse, as it is
			continue
		}
		if t, ok := named.(reference.Tagged); ok {
			add(&tags, named.Name()+":"+t.Tag())
		}
		if d, ok := named.(reference.Digested); ok {
			add(&digests, named.Name()+"@"+d.Digest().String())
		}
		for _, d := range img.Digests {
			add(&digests, named.Name()+"@"+d)
		}
	}
	sort.Strings(digests)
	return append(tags, digests...)
}

// FindStored picks the image query names among images: a full id, a
// stored name, a name as users write it (alpine, alpine:3,
// REPO@sha256:..., resolved like pull does, or matching the end of a
// stored repository: debian finds registry.example/debian:latest), or a
// unique id prefix.
func FindStored(images []StoredImage, query string) (StoredImage, error) {
	if query == "" {
		return StoredImage{}, errors.New("empty image name")
	}
	for _, img := range images {
		if img.ID == query {
			return img, nil
		}
	}
	matchers := []func(StoredImage) bool{
		func(img StoredImage) bool { return contains(img.Names, query) },
	}
	if named, err := reference.ParseNormalizedNamed(query); err == nil {
		repoOnly := reference.IsNameOnly(named)
		named = reference.TagNameOnly(named)
		matchers = append(matchers,
			func(img StoredImage) bool { return nameMatches(img, named, false, false) },
			func(img StoredImage) bool { return nameMatches(img, named, true, false) })
		if repoOnly {
			// Pinned images are stored under REPO@DIGEST only: a bare
			// repository then names its one image.
			matchers = append(matchers,
				func(img StoredImage) bool { return nameMatches(img, named, false, true) },
				func(img StoredImage) bool { return nameMatches(img, named, true, true) })
		}
	}
	matchers = append(matchers, func(img StoredImage) bool {
		return isHex(query) && strings.HasPrefix(img.ID, query)
	})
	for _, m := range matchers {
		var found []StoredImage
		for _, img := range images {
			if m(img) {
				found = append(found, img)
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		}
		ids := make([]string, len(found))
		for i, f := range found {
			ids[i] = safetext.Escape(f.ID[:min(12, len(f.ID))]) // the store's user wrote it
		}
		return StoredImage{}, fmt.Errorf("image name %q is ambiguous: it matches images %s", query, strings.Join(ids, ", "))
	}
	return StoredImage{}, fmt.Errorf("image %q is not in the store", query)
}

// nameMatches tells whether one of img's names is want (normalised, with
// a tag or a digest), or with suffix set, ends with want's familiar path (a
// short name for a local registry's image). With anyVersion the tag or
// digest need not match.
func nameMatches(img StoredImage, want reference.Named, suffix, anyVersion bool) bool {
	repoOK := func(n reference.Named) bool {
		if !suffix {
			return n.Name() == want.Name()
		}
		short := reference.FamiliarName(want)
		return n.Name() != want.Name() && strings.HasSuffix(n.Name(), "/"+short)
	}
	wd, wantDigest := want.(reference.Digested)
	wt, _ := want.(reference.Tagged)
	for _, s := range img.Names {
		n, err := reference.ParseNormalizedNamed(s)
		switch {
		case err != nil || !repoOK(n):
			continue
		case anyVersion:
			return true
		case wantDigest:
			if d, ok := n.(reference.Digested); ok && d.Digest() == wd.Digest() {
				return true
			}
			if contains(img.Digests, wd.Digest().String()) {
				return true
			}
		case wt != nil:
			if t, ok := n.(reference.Tagged); ok && t.Tag() == wt.Tag() {
				return true
			}
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// StoredConfig is the runtime configuration of a stored image.
type StoredConfig struct {
	Env          []string          `json:"env"`
	Workdir      string            `json:"workdir"`
	Entrypoint   []string          `json:"entrypoint"`
	Cmd          []string          `json:"cmd"`
	User         string            `json:"user"`
	Labels       map[string]string `json:"labels"`
	OS           string            `json:"os"`
	Architecture string            `json:"architecture"`
}

// ConfigOf reads the runtime configuration of the stored image id.
func ConfigOf(ctx context.Context, st storage.Store, id string) (StoredConfig, error) {
	ref, err := istorage.Transport.ParseStoreReference(st, "@"+id)
	if err != nil {
		return StoredConfig{}, fmt.Errorf("naming image %.12s: %w", id, err)
	}
	img, err := ref.NewImage(ctx, &types.SystemContext{})
	if err != nil {
		return StoredConfig{}, fmt.Errorf("opening image %.12s: %w", id, err)
	}
	defer img.Close()
	cfg, err := img.OCIConfig(ctx)
	if err != nil {
		return StoredConfig{}, fmt.Errorf("reading the configuration of image %.12s: %w", id, err)
	}
	c := cfg.Config
	return StoredConfig{
		Env: c.Env, Workdir: c.WorkingDir, Entrypoint: c.Entrypoint, Cmd: c.Cmd, User: c.User,
		Labels: c.Labels, OS: cfg.OS, Architecture: cfg.Architecture,
	}, nil
}

// RemoveStored deletes the image id and the layers no other image uses.
func RemoveStored(st storage.Store, id string) error {
	if _, err := st.DeleteImage(id, true); err != nil {
		return fmt.Errorf("removing image %.12s: %w", id, err)
	}
	return nil
}
