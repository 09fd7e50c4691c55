package userstore

import (
	"context"
	"fmt"
	"io"
	"time"

	"go.podman.io/storage"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
	"github.com/carina-hpc/carina/pkg/safetext"
)

// Inspected is what `carina inspect` prints. The JSON form is stable;
// its fields are:
//
//	id, names, size, created, last_used, in_use, leases   as in imagestore.Row
//	digest        string    the manifest digest the image was pulled by
//	digests       [string]  every manifest digest it is known by
//	env           [string]  NAME=VALUE from the image's configuration
//	workdir       string    its working directory ("" when unset)
//	entrypoint    [string]  its entrypoint ([] when unset)
//	cmd           [string]  its command ([] when unset)
//	user          string    its user ("" when unset)
//	labels        {string}  its labels ({} when none)
//	os, architecture  string
//	layers        [object]  base first: id (storage layer id), diff_id
//	                        (uncompressed digest), size (uncompressed bytes)
type Inspected struct {
	imagestore.Row
	Digest  string   `json:"digest"`
	Digests []string `json:"digests"`
	image.StoredConfig
	Layers []image.StoredLayer `json:"layers"`
}

// storeImage is a stored image with its bookkeeping.
type storeImage struct {
	image.StoredImage
	lastUsed time.Time
	leases   []string
	// container: a container of the store is made from the image
	container bool
}

func (s storeImage) row() imagestore.Row {
	return imagestore.NewRow(s.ID, image.DisplayNames(s.StoredImage), s.Size, s.Created, s.lastUsed, s.leases)
}

// readStore lists the images of st with their bookkeeping from dir.
func readStore(st storage.Store, dir string) ([]storeImage, error) {
	stored, err := image.ListStored(st)
	if err != nil {
		return nil, err
	}
	// In a node-local store podman's own containers sit beside the
	// images: an image a container is made from is in use as well.
	ctrs, err := st.Containers()
	if err != nil {
		return nil, fmt.Errorf("listing the store's containers: %w", err)
	}
	byCtr := map[string]bool{}
	for _, c := range ctrs {
		byCtr[c.ImageID] = true
	}
	out := make([]storeImage, 0, len(stored))
	for _, s := range stored {
		last, err := imagestore.LastUsed(dir, s.ID)
		if err != nil {
			return nil, err
		}
		leases, err := imagestore.Leases(dir, s.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, storeImage{StoredImage: s, lastUsed: last, leases: leases, container: byCtr[s.ID]})
	}
	return out, nil
}

// List is the images listing, most recently used first.
func List(st storage.Store, dir string) ([]imagestore.Row, error) {
	images, err := readStore(st, dir)
	if err != nil {
		return nil, err
	}
	order := gcImages(images)
	imagestore.GCOrder(order)
	byID := map[string]storeImage{}
	for _, s := range images {
		byID[s.ID] = s
	}
	rows := make([]imagestore.Row, 0, len(order))
	for i := len(order) - 1; i >= 0; i-- {
		rows = append(rows, byID[order[i].ID].row())
	}
	return rows, nil
}

func gcImages(images []storeImage) []imagestore.Image {
	out := make([]imagestore.Image, 0, len(images))
	for _, s := range images {
		im := imagestore.Image{ID: s.ID, Size: s.Size, Created: s.Created, LastUsed: s.lastUsed, InUse: len(s.leases) > 0 || s.container}
		for _, l := range s.Layers {
			im.Layers = append(im.Layers, imagestore.Layer{ID: l.ID, Size: l.Size})
		}
		out = append(out, im)
	}
	return out
}

// Inspect describes the image query names (a name, an id or an id prefix).
func Inspect(ctx context.Context, st storage.Store, dir, query string) (Inspected, error) {
	images, err := image.ListStored(st)
	if err != nil {
		return Inspected{}, err
	}
	img, err := image.FindStored(images, query)
	if err != nil {
		return Inspected{}, err
	}
	cfg, err := image.ConfigOf(ctx, st, img.ID)
	if err != nil {
		return Inspected{}, err
	}
	last, err := imagestore.LastUsed(dir, img.ID)
	if err != nil {
		return Inspected{}, err
	}
	leases, err := imagestore.Leases(dir, img.ID)
	if err != nil {
		return Inspected{}, err
	}
	out := Inspected{
		Row:          storeImage{StoredImage: img, lastUsed: last, leases: leases}.row(),
		Digest:       img.Digest,
		Digests:      nonNil(img.Digests),
		StoredConfig: cfg,
		Layers:       img.Layers,
	}
	out.Env, out.Entrypoint, out.Cmd = nonNil(cfg.Env), nonNil(cfg.Entrypoint), nonNil(cfg.Cmd)
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.Layers == nil {
		out.Layers = []image.StoredLayer{}
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Remove removes the images queries name, refusing those in use unless
// force, and prints the id of each on w. Each failure is reported on errw;
// the error sums them up.
func Remove(st storage.Store, dir string, queries []string, force bool, w, errw io.Writer) error {
	images, err := image.ListStored(st)
	if err != nil {
		return err
	}
	var errs []error
	removed := map[string]bool{}
	for _, q := range queries {
		err := func() error {
			img, err := image.FindStored(images, q)
			if err != nil {
				return err
			}
			if removed[img.ID] {
				return nil
			}
			leases, err := imagestore.Leases(dir, img.ID)
			if err != nil {
				return err
			}
			if len(leases) > 0 && !force {
				return fmt.Errorf("image %s (%s) is in use by %d job lease(s) (%s); --force removes it anyway",
					q, safetext.Escape(imagestore.ShortID(img.ID)), len(leases), safetext.Escape(leases[0]))
			}
			if err := image.RemoveStored(st, img.ID); err != nil {
				return err
			}
			removed[img.ID] = true
			if err := imagestore.Forget(dir, img.ID); err != nil {
				return err
			}
			_, err = fmt.Fprintln(w, safetext.Escape(img.ID))
			return err
		}()
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	for _, err := range errs {
		fmt.Fprintf(errw, "carina: %v\n", err)
	}
	return fmt.Errorf("%d of %d images not removed", len(errs), len(queries))
}

// Collect removes (or with dryRun only lists) the unused images, least
// recently used first, until the store meets keep.
func Collect(st storage.Store, dir string, keep imagestore.Keep, dryRun bool) (imagestore.GCReport, error) {
	images, err := readStore(st, dir)
	if err != nil {
		return imagestore.GCReport{Removed: []imagestore.GCRow{}}, err
	}
	byID := map[string]storeImage{}
	for _, s := range images {
		byID[s.ID] = s
	}
	plan := imagestore.PlanGC(gcImages(images), keep)
	r := imagestore.GCReport{DryRun: dryRun, Removed: []imagestore.GCRow{}, BeforeBytes: plan.Before,
		AfterBytes: plan.Before, ImagesLeft: len(images)}
	for i, im := range plan.Remove {
		if !dryRun {
			if err := image.RemoveStored(st, im.ID); err != nil {
				return r, err
			}
			if err := imagestore.Forget(dir, im.ID); err != nil {
				return r, err
			}
		}
		r.Removed = append(r.Removed, imagestore.GCRow{Row: byID[im.ID].row(), Freed: plan.Freed[i]})
		r.AfterBytes -= plan.Freed[i]
		r.FreedBytes += plan.Freed[i]
		r.ImagesLeft--
	}
	return r, nil
}
