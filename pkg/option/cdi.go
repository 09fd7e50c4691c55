package option

import (
	"fmt"
	"regexp"
)

// CDI names (the Container Device Interface's qualified device names,
// VENDOR/CLASS=NAME, as podman's --device takes them). The grammar is the
// CDI specification's, with every part ending in a letter or digit as
// the CDI library podman uses requires, and each part at most 127
// characters:
//
//	VENDOR  a domain-like name: letters, digits, '.', '-', '_', starting with a letter
//	CLASS   letters, digits, '-', '_', starting with a letter
//	NAME    letters, digits, '_', '.', ':', '-', starting with a letter or digit
var (
	cdiKindRE   = regexp.MustCompile(`^` + cdiVendor + `/` + cdiClass + `$`)
	cdiDeviceRE = regexp.MustCompile(`^` + cdiVendor + `/` + cdiClass + `=` + cdiName + `$`)
)

const (
	cdiVendor = `[A-Za-z](?:[A-Za-z0-9._-]{0,125}[A-Za-z0-9])?`
	cdiClass  = `[A-Za-z](?:[A-Za-z0-9_-]{0,125}[A-Za-z0-9])?`
	cdiName   = `[A-Za-z0-9](?:[A-Za-z0-9_.:-]{0,125}[A-Za-z0-9])?`
)

// CheckCDIKind checks a CDI device kind, VENDOR/CLASS such as
// nvidia.com/gpu (the site's [gpu] cdi_kind).
func CheckCDIKind(kind string) error {
	if !cdiKindRE.MatchString(kind) {
		return fmt.Errorf("%q: want a CDI device kind VENDOR/CLASS such as nvidia.com/gpu", kind)
	}
	return nil
}

// CheckCDIDevice checks a fully qualified CDI device name,
// VENDOR/CLASS=NAME such as nvidia.com/gpu=0 (an environment file's
// devices). Host paths (/dev/nvidia0) are no CDI names and are refused.
func CheckCDIDevice(dev string) error {
	if !cdiDeviceRE.MatchString(dev) {
		return fmt.Errorf("device %q: want a CDI device name VENDOR/CLASS=NAME such as nvidia.com/gpu=0 "+
			"(host paths are not taken)", dev)
	}
	return nil
}
