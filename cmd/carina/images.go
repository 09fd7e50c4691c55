package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.podman.io/storage"
	"go.podman.io/storage/pkg/unshare"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
	"github.com/carina-hpc/carina/pkg/runas"
	"github.com/carina-hpc/carina/pkg/safetext"
)

// The store commands (images, inspect, rmi, gc) open a user's image store
// as __pull does: as the user, inside a user namespace made from the
// user's subordinate ids, with a temporary run root. rmi and gc hold the
// store's lock (DIR/pull.lock) while they modify it; images and inspect
// take no lock (containers/storage's own locks keep their reads coherent).

// imagesCmd lists the images of a store, most recently used first (gc
// removes from the bottom). JSON: a list of imagestore.Row.
func imagesCmd(args []string) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	dir := fs.String("store", "", "the image store directory")
	format := fs.String("format", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() != 0 || (*format != "table" && *format != "json") {
		return errors.New("usage: carina images --store DIR [--format table|json]")
	}
	return withStore(*dir, false, []string{"--format", *format}, func(st storage.Store, dir string) error {
		rows, err := listRows(st, dir)
		if err != nil {
			return err
		}
		if *format == "json" {
			return imagestore.WriteJSON(os.Stdout, rows)
		}
		return imagestore.WriteTable(os.Stdout, rows, time.Now())
	})
}

// inspectOutput is what `carina inspect` prints. The JSON form is stable;
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
type inspectOutput struct {
	imagestore.Row
	Digest  string   `json:"digest"`
	Digests []string `json:"digests"`
	image.StoredConfig
	Layers []image.StoredLayer `json:"layers"`
}

func inspectCmd(args []string) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	dir := fs.String("store", "", "the image store directory")
	format := fs.String("format", "json", "json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() != 1 || *format != "json" {
		return errors.New("usage: carina inspect --store DIR [--format json] IMAGE")
	}
	return withStore(*dir, false, []string{"--format", *format, fs.Arg(0)}, func(st storage.Store, dir string) error {
		out, err := inspectImage(context.Background(), st, dir, fs.Arg(0))
		if err != nil {
			return err
		}
		return imagestore.WriteJSON(os.Stdout, out)
	})
}

func rmiCmd(args []string) error {
	fs := flag.NewFlagSet("rmi", flag.ContinueOnError)
	dir := fs.String("store", "", "the image store directory")
	force := fs.Bool("force", false, "remove images even while jobs use them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() == 0 {
		return errors.New("usage: carina rmi --store DIR [--force] IMAGE...")
	}
	again := append([]string{"--force=" + strconv.FormatBool(*force)}, fs.Args()...)
	return withStore(*dir, true, again, func(st storage.Store, dir string) error {
		return removeImages(st, dir, fs.Args(), *force, os.Stdout, os.Stderr)
	})
}

func gcCmd(args []string) error {
	fs := flag.NewFlagSet("gc", flag.ContinueOnError)
	dir := fs.String("store", "", "the image store directory")
	keepBytes := fs.String("keep-bytes", "", "leave at most this many bytes of images (e.g. 50G; default 0)")
	keepN := fs.Int("keep", -1, "leave at most this many images")
	dryRun := fs.Bool("dry-run", false, "only print what would be removed")
	format := fs.String("format", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() != 0 || (*format != "table" && *format != "json") ||
		(*keepBytes != "" && *keepN >= 0) || *keepN < -1 {
		return errors.New("usage: carina gc --store DIR [--keep-bytes N | --keep N] [--dry-run] [--format table|json]")
	}
	keep := imagestore.Keep{Bytes: -1, Images: *keepN}
	switch {
	case *keepBytes != "":
		n, err := imagestore.ParseBytes(*keepBytes)
		if err != nil {
			return fmt.Errorf("--keep-bytes: %w", err)
		}
		keep.Bytes = n
	case *keepN < 0:
		keep.Bytes = 0 // no bound given: remove every unused image
	}
	again := []string{"--keep-bytes", *keepBytes, "--keep", strconv.Itoa(*keepN),
		"--dry-run=" + strconv.FormatBool(*dryRun), "--format", *format}
	return withStore(*dir, !*dryRun, again, func(st storage.Store, dir string) error {
		report, gcErr := collect(st, dir, keep, *dryRun)
		if gcErr != nil && len(report.Removed) == 0 {
			return gcErr
		}
		// Print what was removed, even when a later removal failed.
		var err error
		if *format == "json" {
			err = imagestore.WriteJSON(os.Stdout, report)
		} else {
			err = imagestore.WriteGCTable(os.Stdout, report, time.Now())
		}
		return errors.Join(gcErr, err)
	})
}

// withStore opens the image store dir as its user, inside the user's
// namespace, and runs fn on it; with modify it holds the store's lock.
// args are the command's arguments after --store, for running it again.
func withStore(dir string, modify bool, args []string, fn func(storage.Store, string) error) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("image store %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("image store %s is not a directory", dir)
	}
	if err := asStoreOwner(dir, fi, args); err != nil {
		return err
	}
	// Returns in the child, inside the user namespace; the parent exits
	// with the child's status.
	unshare.MaybeReexecUsingUserNamespace(false)
	runroot, err := os.MkdirTemp("", "carina-store-")
	if err != nil {
		return fmt.Errorf("making a temporary run root: %w", err)
	}
	defer os.RemoveAll(runroot)
	if modify {
		unlock, err := imagestore.Lock(filepath.Join(dir, imagestore.LockFile))
		if err != nil {
			return err
		}
		defer unlock()
	}
	st, err := image.Store{GraphRoot: storeGraph(dir), RunRoot: runroot, Driver: "overlay"}.Open()
	if err != nil {
		return err
	}
	defer func() { _, _ = st.Shutdown(false) }()
	return fn(st, dir)
}

// asStoreOwner runs the command again as the owner of dir when real root
// runs it on a user's store, and exits with its status: files that root
// rewrote would no longer be readable by the user and their podman. The
// owner's process gets no terminal and no descriptor of root's, and what
// it prints reaches root's terminal escaped (runas.Cmd.Stream); Ctrl-C
// and the like end it.
func asStoreOwner(dir string, fi os.FileInfo, args []string) error {
	if os.Geteuid() != 0 || unshare.GetRootlessUID() != 0 || os.Getenv(unshare.UsernsEnvName) != "" {
		return nil // not root, or already the user inside their namespace
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || sys.Uid == 0 {
		return nil
	}
	pw, err := user.LookupId(strconv.FormatUint(uint64(sys.Uid), 10))
	if err != nil {
		return fmt.Errorf("image store %s: looking up its owner: %w", dir, err)
	}
	gid, err := strconv.ParseUint(pw.Gid, 10, 32)
	if err != nil {
		return fmt.Errorf("image store %s: group of its owner %s: %w", dir, pw.Username, err)
	}
	u, err := runas.Lookup(sys.Uid, uint32(gid))
	if err != nil {
		return fmt.Errorf("image store %s: %w", dir, err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the carina binary: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	cmd := runas.Cmd{Path: self, Args: append([]string{os.Args[1], "--store", dir}, args...), As: u}
	code, err := cmd.Stream(ctx, os.Stdout, os.Stderr)
	if err == nil {
		os.Exit(code)
	}
	return fmt.Errorf("running %s as %s, the owner of %s: %w", os.Args[1], u.Name, dir, err)
}

// storeImage is a stored image with its bookkeeping.
type storeImage struct {
	image.StoredImage
	lastUsed time.Time
	leases   []string
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
		out = append(out, storeImage{StoredImage: s, lastUsed: last, leases: leases})
	}
	return out, nil
}

// listRows is the images listing, most recently used first.
func listRows(st storage.Store, dir string) ([]imagestore.Row, error) {
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
		im := imagestore.Image{ID: s.ID, Size: s.Size, Created: s.Created, LastUsed: s.lastUsed, InUse: len(s.leases) > 0}
		for _, l := range s.Layers {
			im.Layers = append(im.Layers, imagestore.Layer{ID: l.ID, Size: l.Size})
		}
		out = append(out, im)
	}
	return out
}

func inspectImage(ctx context.Context, st storage.Store, dir, query string) (inspectOutput, error) {
	images, err := image.ListStored(st)
	if err != nil {
		return inspectOutput{}, err
	}
	img, err := image.FindStored(images, query)
	if err != nil {
		return inspectOutput{}, err
	}
	cfg, err := image.ConfigOf(ctx, st, img.ID)
	if err != nil {
		return inspectOutput{}, err
	}
	last, err := imagestore.LastUsed(dir, img.ID)
	if err != nil {
		return inspectOutput{}, err
	}
	leases, err := imagestore.Leases(dir, img.ID)
	if err != nil {
		return inspectOutput{}, err
	}
	out := inspectOutput{
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

// removeImages removes the images queries name, refusing those in use
// unless force. Each failure is reported on errw; the error sums them up.
func removeImages(st storage.Store, dir string, queries []string, force bool, w, errw io.Writer) error {
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

// collect removes (or with dryRun only lists) the unused images, least
// recently used first, until the store meets keep.
func collect(st storage.Store, dir string, keep imagestore.Keep, dryRun bool) (imagestore.GCReport, error) {
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
