package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// requireRootOwned is whether ParseArgs requires the configuration file to
// be owned by root and not writable by group or others. The plugin runs as
// root in slurmd and slurmstepd, and the file names the binaries it runs:
// only root may be able to change it. Tests turn the check off to load
// files they own.
var requireRootOwned = true

// maxFileSize bounds what is read of a configuration file.
const maxFileSize = 1 << 20

// readFile reads a configuration file, checking what it is on the opened
// file itself: a regular file and, with ownerCheck, root's alone.
func readFile(path string, ownerCheck bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("config %s: not a regular file", path)
	}
	if ownerCheck {
		if err := checkOwner(path, fi); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, unwrapPath(err))
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("config %s: larger than %d bytes", path, maxFileSize)
	}
	return data, nil
}

// checkOwner requires fi to be owned by uid 0 and not writable by group
// or others.
func checkOwner(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("config %s: must be owned by root and not writable by group or others", path)
	}
	return nil
}

// unwrapPath drops the path from an *fs.PathError (the message names it).
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
