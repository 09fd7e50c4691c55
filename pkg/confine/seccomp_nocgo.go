//go:build !cgo

package confine

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Compile needs libseccomp, through cgo; the helper is always built with
// it (Makefile). This build can only say so.
func Compile(*specs.LinuxSeccomp) ([]byte, error) {
	return nil, errors.New("this carina was built without cgo and cannot compile seccomp profiles")
}
