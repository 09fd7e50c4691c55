// Package pull brings images into image stores for the carina helper.
//
// A pull runs in a child, the hidden command Internal, that re-executes
// itself into a user namespace made from the user's subordinate ids (as
// rootless podman does), so that the layers' files keep their owners.
// Both ends of that command are here: Request.Args and ParseRequest its
// arguments, Run its work in the namespace (it prints image.Pulled as
// JSON), Subordinate and Init the side that starts it and reads the
// result. ToStore is `carina pull`, the pull into a shared store that srun
// and sbatch run on the submit host; FromSite finds a pinned image in the
// admin's site store, which is then not pulled at all.
package pull

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"go.podman.io/storage"
	"go.podman.io/storage/pkg/unshare"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
	"github.com/carina-hpc/carina/pkg/runas"
	"github.com/carina-hpc/carina/pkg/userstore"
)

// Internal is the hidden subcommand that pulls inside the user namespace.
const Internal = "__pull"

// Request is one run of Internal.
type Request struct {
	Root, RunRoot string // the store's graph root and a run root
	Ref           string // the image; "" with Init
	Init          bool   // only create the store (its lock files), pull nothing
	// GC: pull nothing; remove the unused images of the store whose graph
	// root is Root, least recently used first, until they take at most
	// KeepBytes (the node-local store's automatic gc, store_limit).
	GC        bool
	KeepBytes int64
	Retry     image.Retry
	SquashDir string   // also keep the image squashed in this image store (its carina/squash/)
	Site      bool     // and record it in that store's site index (an admin's store every user reads)
	AuthFiles []string // the user's credential files, in podman's order (regauth.Env.Files)
}

// Args is the command line of r, Internal first.
func (r Request) Args() []string {
	if r.Init {
		return []string{Internal, "--init", "--root", r.Root, "--runroot", r.RunRoot}
	}
	if r.GC {
		return []string{Internal, "--gc", "--keep-bytes", strconv.FormatInt(r.KeepBytes, 10), "--root", r.Root, "--runroot", r.RunRoot}
	}
	args := []string{Internal, "--root", r.Root, "--runroot", r.RunRoot,
		"--retries", strconv.Itoa(r.Retry.Attempts), "--retry-delay", r.Retry.Delay.String()}
	if r.SquashDir != "" {
		args = append(args, "--squash-dir", r.SquashDir)
	}
	if r.Site {
		args = append(args, "--site")
	}
	for _, f := range r.AuthFiles {
		args = append(args, "--auth-file", f)
	}
	return append(args, r.Ref)
}

// ParseRequest reads the arguments of Internal (those after its name).
func ParseRequest(args []string) (Request, error) {
	r := Request{Retry: image.DefaultRetry}
	fs := flag.NewFlagSet(Internal, flag.ContinueOnError)
	fs.StringVar(&r.Root, "root", "", "graph root")
	fs.StringVar(&r.RunRoot, "runroot", "", "run root")
	fs.BoolVar(&r.Init, "init", false, "only create the store (its lock files), pull nothing")
	fs.BoolVar(&r.GC, "gc", false, "pull nothing: remove unused images until the store meets --keep-bytes")
	fs.Int64Var(&r.KeepBytes, "keep-bytes", 0, "with --gc, the bytes of images the store keeps at most")
	fs.IntVar(&r.Retry.Attempts, "retries", r.Retry.Attempts, "tries in all for transient registry errors")
	fs.DurationVar(&r.Retry.Delay, "retry-delay", r.Retry.Delay, "first wait between tries (doubles, plus jitter)")
	fs.StringVar(&r.SquashDir, "squash-dir", "", "also keep the image squashed in this image store (its carina/squash/)")
	fs.BoolVar(&r.Site, "site", false, "record the image in the store's site index (an admin's store every user reads)")
	fs.Func("auth-file", "a credential file to read, in order (repeatable)", func(v string) error {
		r.AuthFiles = append(r.AuthFiles, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return Request{}, err
	}
	want := 1
	if r.Init || r.GC {
		want = 0
	}
	if r.Root == "" || r.RunRoot == "" || fs.NArg() != want || (r.Init && r.GC) || (r.GC && r.KeepBytes < 0) {
		return Request{}, fmt.Errorf("%s: --root, --runroot and one image reference (or --init, or --gc) are required", Internal)
	}
	r.Ref = fs.Arg(0)
	return r, nil
}

// Run does r in the child: it re-executes itself into the user namespace
// (unshare.MaybeReexecUsingUserNamespace returns in the child; the parent
// exits with its status) and pulls, with progress on progress.
func Run(ctx context.Context, r Request, progress io.Writer) (image.Pulled, error) {
	unshare.MaybeReexecUsingUserNamespace(false)
	st, err := image.Store{GraphRoot: r.Root, RunRoot: r.RunRoot, Driver: "overlay"}.Open()
	if err != nil {
		return image.Pulled{}, err
	}
	defer func() { _, _ = st.Shutdown(false) }()
	if r.Init {
		// Listing creates the image and layer stores with their lock
		// files, which podman needs to read the store as an image store.
		if _, err := st.Images(); err != nil {
			return image.Pulled{}, fmt.Errorf("initialising the image store %s: %w", r.Root, err)
		}
		return image.Pulled{}, nil
	}
	if r.GC {
		// The image store directory holds the graph root and carina's
		// bookkeeping (imagestore.GraphDir).
		rep, err := userstore.Collect(st, filepath.Dir(r.Root), imagestore.Keep{Bytes: r.KeepBytes, Images: -1}, false)
		if err != nil {
			return image.Pulled{}, err
		}
		return image.Pulled{}, json.NewEncoder(os.Stdout).Encode(rep)
	}
	p, err := image.Pull(ctx, st, r.Ref, progress, r.Retry, image.Credentials(r.AuthFiles))
	if err != nil {
		return image.Pulled{}, err
	}
	if r.SquashDir != "" {
		target := imagestore.SquashFile(r.SquashDir, p.ID)
		if err := image.Squash(st, p.ID, target); err != nil {
			return image.Pulled{}, err
		}
		p.Squash = target
		if r.Site {
			if err := recordSite(st, r.SquashDir, p); err != nil {
				return image.Pulled{}, err
			}
		}
	}
	return p, nil
}

// recordSite adds a pulled and squashed image to a site store's index.
func recordSite(st storage.Store, dir string, p image.Pulled) error {
	img, err := st.Image(p.ID)
	if err != nil {
		return fmt.Errorf("finding image %.12s: %w", p.ID, err)
	}
	e := imagestore.SiteImage{ID: p.ID, Names: img.Names, Env: p.Env, Workdir: p.Workdir}
	for _, d := range img.Digests {
		e.Digests = append(e.Digests, d.String())
	}
	return imagestore.AddSite(dir, e)
}

// Subordinate runs the pull r in a child of this helper, inside the user
// namespace, and returns what it pulled; the child's progress goes to
// progress when set.
func Subordinate(ctx context.Context, r Request, progress io.Writer) (image.Pulled, error) {
	var out bytes.Buffer
	if err := runChild(ctx, &out, progress, r.Args()); err != nil {
		return image.Pulled{}, explainFull(err, "pulling "+r.Ref, r.Root)
	}
	var p image.Pulled
	if err := json.Unmarshal(out.Bytes(), &p); err != nil || p.ID == "" {
		return image.Pulled{}, fmt.Errorf("pull of %s: unreadable result", r.Ref)
	}
	return p, nil
}

// Collect runs the gc r (r.GC) in a child inside the user namespace and
// returns what it removed. The caller holds the store's lock.
func Collect(ctx context.Context, r Request) (imagestore.GCReport, error) {
	var out bytes.Buffer
	r.GC = true
	if err := runChild(ctx, &out, nil, r.Args()); err != nil {
		return imagestore.GCReport{}, err
	}
	var rep imagestore.GCReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return rep, fmt.Errorf("gc of %s: unreadable result", r.Root)
	}
	return rep, nil
}

// Init creates the store at root, in a child inside the user namespace,
// so that podman can open it as an image store before anything was pulled.
func Init(ctx context.Context, root, runroot string) error {
	return explainFull(runChild(ctx, nil, nil, Request{Root: root, RunRoot: runroot, Init: true}.Args()), "creating the image store", root)
}

// runChild runs this binary with args; its standard output goes to out.
// Its error is the child's "carina:" line, when it printed one.
func runChild(ctx context.Context, out *bytes.Buffer, progress io.Writer, args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the carina binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if progress != nil {
		// The child's own "carina:" error line is the caller's to report
		// (it comes back as the error): the user sees it once.
		cmd.Stderr = io.MultiWriter(&withoutErrorLines{w: progress}, &stderr)
	}
	if out != nil {
		cmd.Stdout = out
	}
	if err := cmd.Run(); err != nil {
		// containers/storage unpacks layers in a child of its own, whose
		// "no space left on device" reaches only this standard error:
		// the error that comes back says "unpacking failed".
		full := strings.Contains(strings.ToLower(stderr.String()), noSpace)
		if l := runas.LastCarinaLine(stderr.String()); l != "" {
			err = errors.New(strings.TrimSpace(strings.TrimPrefix(l, "carina:")))
		} else {
			err = fmt.Errorf("%s failed: %v: %s", Internal, err, strings.TrimSpace(stderr.String()))
		}
		if full {
			return &storeFullError{err: err}
		}
		return err
	}
	return nil
}

// noSpace is how ENOSPC reads in an error's text (mksquashfs capitalises it).
var noSpace = syscall.ENOSPC.Error()

// storeFullError is a child's failure on a store whose filesystem is full.
type storeFullError struct{ err error }

func (e *storeFullError) Error() string { return e.err.Error() }
func (e *storeFullError) Unwrap() error { return e.err }

// explainFull turns a failure on a full store into one line that says so,
// naming the store and the size of its filesystem, and what to do; any
// other error is returned as it is.
func explainFull(err error, what, root string) error {
	var full *storeFullError
	if !errors.As(err, &full) {
		return err
	}
	// What was written is gone again by now (the failed layer, a partial
	// squashfs): the filesystem's size is what tells.
	size := ""
	var fs syscall.Statfs_t
	if syscall.Statfs(root, &fs) == nil {
		size = " on its " + imagestore.HumanBytes(int64(fs.Blocks)*fs.Bsize) + " filesystem"
	}
	return fmt.Errorf("%s: the image store %s ran out of space (no space left on device%s): "+
		"remove images with carina gc or carina rmi, or ask your site for room", what, filepath.Dir(root), size)
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

// FromSite looks the pinned image src up in the site store siteStore, if
// the site has one.
func FromSite(siteStore, src string) (imagestore.SiteImage, bool) {
	d := pinnedDigest(src)
	if siteStore == "" || d == "" {
		return imagestore.SiteImage{}, false
	}
	img, ok, err := imagestore.FindSite(siteStore, d)
	return img, ok && err == nil
}

// withoutErrorLines copies whole lines to w, but those that start with
// "carina: ": the child's error, which its caller reports.
type withoutErrorLines struct {
	w    io.Writer
	part []byte
}

func (d *withoutErrorLines) Write(b []byte) (int, error) {
	d.part = append(d.part, b...)
	for {
		i := bytes.IndexByte(d.part, '\n')
		if i < 0 {
			break
		}
		line := d.part[:i+1]
		if !bytes.HasPrefix(line, []byte("carina: ")) {
			if _, err := d.w.Write(line); err != nil {
				return len(b), err
			}
		}
		d.part = d.part[i+1:]
	}
	if len(d.part) > 64<<10 { // a line that never ends: pass it on
		_, err := d.w.Write(d.part)
		d.part = d.part[:0]
		return len(b), err
	}
	return len(b), nil
}
