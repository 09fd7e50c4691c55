package image

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/oci/layout"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// Kinds of image file (Detect).
const (
	KindSquashfs      = "squashfs"
	KindOCIArchive    = "oci-archive"
	KindDockerArchive = "docker-archive"
)

// localTransports are the sources read from a filesystem every node sees.
var localTransports = []string{"oci-archive", "docker-archive", "oci", "file"}

// IsLocal splits TRANSPORT:/path for the local transports.
func IsLocal(src string) (transport, path string, ok bool) {
	for _, t := range localTransports {
		if p, found := strings.CutPrefix(src, t+":"); found && filepath.IsAbs(p) {
			return t, p, true
		}
	}
	return "", "", false
}

// ErrSquashfs marks a squashfs file: it is started as a root filesystem,
// not imported into the store.
var ErrSquashfs = errors.New("the image is a squashfs file")

// Detect tells a squashfs file from an OCI or docker archive by content.
func Detect(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	r := bufio.NewReader(f)
	magic, err := r.Peek(4)
	if err == nil && string(magic) == "hsqs" {
		return KindSquashfs, nil
	}
	tr := tar.NewReader(r)
	for i := 0; i < 10000; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("image %s is neither a squashfs file nor an image archive: %v", path, err)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "oci-layout", "index.json":
			return KindOCIArchive, nil
		case "manifest.json":
			return KindDockerArchive, nil
		}
	}
	return "", fmt.Errorf("image %s is a tar file holding no OCI layout and no docker manifest", path)
}

// LocalName is the name an image read from a file gets in the store. It
// changes whenever the file does (path, size, change time, inode), so a
// store never serves a stale import, and every node that sees the same
// file finds the same image.
func LocalName(path string, fi os.FileInfo) string {
	id := fmt.Sprintf("%d", fi.Size())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id = fmt.Sprintf("%d-%d-%d.%d-%d", st.Dev, st.Ino, fi.Size(), st.Ctim.Sec, st.Ctim.Nsec)
	}
	p := sha256.Sum256([]byte(path))
	v := sha256.Sum256([]byte(id))
	return fmt.Sprintf("localhost/carina-file/%s:%s", hex.EncodeToString(p[:])[:16], hex.EncodeToString(v[:])[:16])
}

// pullLocal imports an image archive or OCI layout into st, once per
// version of the file.
func pullLocal(ctx context.Context, st storage.Store, transport, path string, progress io.Writer) (Pulled, error) {
	if transport == "file" {
		kind, err := Detect(path)
		if err != nil {
			return Pulled{}, err
		}
		if kind == KindSquashfs {
			return Pulled{}, ErrSquashfs
		}
		transport = kind
	}
	stamp := path
	if transport == "oci" {
		stamp = filepath.Join(path, "index.json")
	}
	fi, err := os.Stat(stamp)
	if err != nil {
		return Pulled{}, fmt.Errorf("image %s: %w", path, errors.Unwrap(err))
	}
	sys := &types.SystemContext{}
	name := LocalName(path, fi)
	if img, err := st.Image(name); err == nil {
		return inspect(ctx, st, img.ID)
	}
	src, err := localReference(transport, path)
	if err != nil {
		return Pulled{}, fmt.Errorf("image %s: %w", path, err)
	}
	id, err := copyInto(ctx, st, src, name, sys, progress)
	if err != nil {
		return Pulled{}, fmt.Errorf("importing %s: %w", path, err)
	}
	return inspect(ctx, st, id)
}

func localReference(transport, path string) (types.ImageReference, error) {
	switch transport {
	case KindOCIArchive:
		return archive.ParseReference(path)
	case KindDockerArchive:
		return dockerarchive.ParseReference(path)
	case "oci":
		return layout.ParseReference(path)
	}
	return nil, fmt.Errorf("unknown image transport %q", transport)
}

// LocalStorePrefix names an image in the user's own podman store on the
// submit host (containers-storage:IMAGE). srun copies it into the shared
// store and pins it as containers-storage:IMAGE@<image id>; nodes then
// take that id from the shared store and never see the user's own store.
const LocalStorePrefix = "containers-storage:"

func pullFromLocalStore(ctx context.Context, st storage.Store, name string, progress io.Writer) (Pulled, error) {
	sys := &types.SystemContext{}
	if n, id, ok := strings.Cut(name, "@"); ok && len(id) == 64 && strings.Trim(id, "0123456789abcdef") == "" {
		if _, err := st.Image(id); err != nil {
			return Pulled{}, fmt.Errorf("image %s (%.12s) is not in the image store; srun copies it there from your podman store", n, id)
		}
		return inspect(ctx, st, id)
	}
	opts, err := storage.DefaultStoreOptions()
	if err != nil {
		return Pulled{}, fmt.Errorf("reading your storage configuration: %w", err)
	}
	own, err := storage.GetStore(opts)
	if err != nil {
		return Pulled{}, fmt.Errorf("opening your podman store %s: %w", opts.GraphRoot, err)
	}
	defer func() { _, _ = own.Shutdown(false) }()
	src, err := istorage.Transport.ParseStoreReference(own, name)
	if err != nil {
		return Pulled{}, fmt.Errorf("image %s in your podman store: %w", name, err)
	}
	if _, err := src.NewImageSource(ctx, sys); err != nil {
		return Pulled{}, fmt.Errorf("image %s is not in your podman store (%s)", name, opts.GraphRoot)
	}
	sum := sha256.Sum256([]byte(name))
	id, err := copyInto(ctx, st, src, "localhost/carina-local/"+hex.EncodeToString(sum[:])[:16]+":latest", sys, progress)
	if err != nil {
		return Pulled{}, fmt.Errorf("copying %s from your podman store: %w", name, err)
	}
	return inspect(ctx, st, id)
}
