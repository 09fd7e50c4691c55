// Package option validates and normalises the values users give to
// carina's srun/sbatch/salloc options. It is pure: no I/O.
package option

import (
	"fmt"
	"strings"

	"go.podman.io/image/v5/docker/reference"
)

// Image is a validated --container-image value.
type Image struct {
	Ref string // normalised registry reference, e.g. docker.io/library/debian:12
}

// ParseImage validates a --container-image value. Accepted forms:
// a registry reference (REPO[:TAG][@DIGEST], docker.io implied), the same
// with a docker:// prefix, and pyxis's REGISTRY#IMAGE form.
func ParseImage(v string) (Image, error) {
	orig := v
	if v == "" {
		return Image{}, fmt.Errorf("--container-image: empty value")
	}
	if strings.ContainsAny(v, " \t\n\r") {
		return Image{}, fmt.Errorf("--container-image=%q: image references contain no white space", orig)
	}
	if strings.HasPrefix(v, "/") || strings.HasPrefix(v, ".") {
		return Image{}, fmt.Errorf("--container-image=%q: image files are not supported yet; give a registry reference", orig)
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
	return Image{Ref: named.String()}, nil
}

// Pinned checks that pin is ref's repository fixed to a digest
// (REPO@sha256:...), as `carina resolve` prints it, and returns it.
func Pinned(pin string, img Image) (string, error) {
	named, err := reference.ParseNormalizedNamed(pin)
	if err != nil {
		return "", fmt.Errorf("pinned image %q: %v", pin, err)
	}
	want, err := reference.ParseNormalizedNamed(img.Ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %v", img.Ref, err)
	}
	d, ok := named.(reference.Digested)
	if !ok || named.Name() != want.Name() {
		return "", fmt.Errorf("pinned image %q is not %s at a digest", pin, want.Name())
	}
	if err := d.Digest().Validate(); err != nil {
		return "", fmt.Errorf("pinned image %q: %v", pin, err)
	}
	return named.String(), nil
}
