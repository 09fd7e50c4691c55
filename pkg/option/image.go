// Package option validates and normalises the values users give to
// carina's srun/sbatch/salloc options. It is pure: no I/O.
package option

import (
	"fmt"
	"path/filepath"
	"strings"

	"go.podman.io/image/v5/docker/reference"
)

// Transports a --container-image value can name.
const (
	Registry      = "docker"             // a registry reference (the default)
	OCIArchive    = "oci-archive"        // oci-archive:PATH, a tar of an OCI layout
	DockerArchive = "docker-archive"     // docker-archive:PATH, a `docker save` tar
	OCILayout     = "oci"                // oci:DIR, an OCI layout directory
	File          = "file"               // ./PATH or /PATH: a squashfs or an archive, told apart by content
	LocalStore    = "containers-storage" // containers-storage:IMAGE, the user's own podman store on the submit host
)

// Image is a validated --container-image value.
type Image struct {
	Transport string
	Ref       string // normalised registry reference, or an absolute clean path
	Short     bool   // a registry reference without a registry, resolved by registries.conf
}

// Source is the form the helper takes: the registry reference as it is,
// or TRANSPORT:/absolute/path.
func (i Image) Source() string {
	if i.Transport == Registry {
		return i.Ref
	}
	return i.Transport + ":" + i.Ref
}

// ParseImage validates a --container-image value. Accepted forms: a
// registry reference (REPO[:TAG][@DIGEST], docker.io implied), the same
// with a docker:// prefix, pyxis's REGISTRY#IMAGE form, a file path
// starting with "/" or "." (a squashfs or an image archive), and
// oci-archive:PATH, docker-archive:PATH and oci:DIR. Relative paths are
// taken against cwd, which must then be absolute.
func ParseImage(v, cwd string) (Image, error) {
	orig := v
	if v == "" {
		return Image{}, fmt.Errorf("--container-image: empty value")
	}
	if strings.ContainsAny(v, " \t\n\r") {
		return Image{}, fmt.Errorf("--container-image=%q: image references contain no white space", orig)
	}
	if strings.IndexByte(v, 0) >= 0 {
		return Image{}, fmt.Errorf("--container-image=%q: a NUL byte", orig)
	}
	if name, ok := strings.CutPrefix(v, LocalStore+":"); ok {
		if name == "" || strings.ContainsAny(name, "@") && !strings.Contains(name, "@sha256:") {
			return Image{}, fmt.Errorf("--container-image=%q: want containers-storage:IMAGE", orig)
		}
		return Image{Transport: LocalStore, Ref: name}, nil
	}
	for _, t := range []string{OCIArchive, DockerArchive, OCILayout} {
		if p, ok := strings.CutPrefix(v, t+":"); ok {
			return localImage(orig, t, p, cwd)
		}
	}
	if strings.HasPrefix(v, "/") || strings.HasPrefix(v, ".") {
		return localImage(orig, File, v, cwd)
	}
	v = strings.TrimPrefix(v, "docker://")
	if reg, img, ok := strings.Cut(v, "#"); ok {
		if reg == "" || img == "" || strings.Contains(img, "#") {
			return Image{}, fmt.Errorf("--container-image=%q: want REGISTRY#IMAGE", orig)
		}
		v = reg + "/" + img
	}
	named, err := reference.ParseNormalizedNamed(v)
	if err != nil {
		return Image{}, fmt.Errorf("--container-image=%q: not a valid image reference: %v", orig, err)
	}
	named = reference.TagNameOnly(named)
	if IsShortName(v) {
		// Kept short: the helper resolves it through registries.conf
		// (aliases, unqualified-search registries; docker.io if none).
		return Image{Transport: Registry, Ref: reference.FamiliarString(named), Short: true}, nil
	}
	return Image{Transport: Registry, Ref: named.String()}, nil
}

// IsShortName reports whether a registry reference names no registry
// ("debian:12", "nvidia/cuda"): its first path component has no '.' or
// ':' and is not "localhost".
func IsShortName(ref string) bool {
	first, _, ok := strings.Cut(ref, "/")
	if !ok {
		return true
	}
	return !strings.ContainsAny(first, ".:") && first != "localhost"
}

func localImage(orig, transport, p, cwd string) (Image, error) {
	if p == "" {
		return Image{}, fmt.Errorf("--container-image=%q: no path", orig)
	}
	if strings.Contains(p, ":") {
		return Image{}, fmt.Errorf("--container-image=%q: image paths with ':' are not supported", orig)
	}
	if !filepath.IsAbs(p) {
		if !filepath.IsAbs(cwd) {
			return Image{}, fmt.Errorf("--container-image=%q: a relative path needs the submit directory", orig)
		}
		p = filepath.Join(cwd, p)
	}
	return Image{Transport: transport, Ref: filepath.Clean(p)}, nil
}

// Pinned checks that pin is ref's repository fixed to a digest
// (REPO@sha256:...), as `carina resolve` prints it, and returns it.
func Pinned(pin string, img Image) (string, error) {
	if img.Transport == LocalStore {
		// Imported at submit into the shared store: pinned to that image id.
		id, ok := strings.CutPrefix(pin, img.Source()+"@")
		if !ok || len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
			return "", fmt.Errorf("pinned image %q is not %s at an image id", pin, img.Source())
		}
		return pin, nil
	}
	if img.Transport != Registry {
		// A file is its own pin: nodes name what they import from it by
		// the file's identity (pkg/image).
		if pin != img.Source() {
			return "", fmt.Errorf("pinned image %q is not %s", pin, img.Source())
		}
		return pin, nil
	}
	named, err := reference.ParseNormalizedNamed(pin)
	if err != nil {
		return "", fmt.Errorf("pinned image %q: %v", pin, err)
	}
	want, err := reference.ParseNormalizedNamed(img.Ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %v", img.Ref, err)
	}
	d, ok := named.(reference.Digested)
	if !ok || !img.Short && named.Name() != want.Name() {
		return "", fmt.Errorf("pinned image %q is not %s at a digest", pin, want.Name())
	}
	if err := d.Digest().Validate(); err != nil {
		return "", fmt.Errorf("pinned image %q: %v", pin, err)
	}
	return named.String(), nil
}
