//go:build !cgo

package confine

const withLibseccomp = false
