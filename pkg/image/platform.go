package image

import (
	"fmt"
	"runtime"
)

// samePlatform says whether an image for os/arch runs here; an image that
// names neither is taken as this node's, as podman does.
func samePlatform(ref, os, arch string) error {
	if (os == "" || os == runtime.GOOS) && (arch == "" || arch == runtime.GOARCH) {
		return nil
	}
	return fmt.Errorf("image %s is built for %s/%s, and this node runs %s/%s: use an image (or a manifest list entry) for %s/%s",
		ref, orUnset(os), orUnset(arch), runtime.GOOS, runtime.GOARCH, runtime.GOOS, runtime.GOARCH)
}

func orUnset(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
