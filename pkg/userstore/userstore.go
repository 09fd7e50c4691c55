// Package userstore does the work of the store commands (carina images,
// inspect, rmi, gc) on a user's image store.
//
// A store is opened as __pull opens it: as its user, inside a user
// namespace made from the user's subordinate ids, with a temporary run
// root. rmi and gc hold the store's lock (DIR/pull.lock) while they modify
// it; images and inspect take no lock (containers/storage's own locks keep
// their reads coherent). Real root running a command on a user's store
// runs it again as the store's owner (runas.Cmd.Stream: no terminal and no
// descriptor of root's), since files root rewrote would no longer be
// readable by the user and their podman.
package userstore

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"go.podman.io/storage"
	"go.podman.io/storage/pkg/unshare"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
	"github.com/carina-hpc/carina/pkg/runas"
)

// With opens the image store dir as its user, inside the user's
// namespace, and runs fn on it; with modify it holds the store's lock.
// verb and args are the command and its arguments after --store, for
// running it again: in root's process, and in the process that enters the
// user namespace, With does not return but exits with the status of the
// command run again.
func With(dir string, modify bool, verb string, args []string, fn func(st storage.Store, dir string) error) error {
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
	if err := asOwner(dir, fi, append([]string{verb, "--store", dir}, args...)); err != nil {
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
	st, err := image.Store{GraphRoot: imagestore.GraphDir(dir), RunRoot: runroot, Driver: "overlay"}.Open()
	if err != nil {
		return err
	}
	defer func() { _, _ = st.Shutdown(false) }()
	return fn(st, dir)
}

// Owner is the user a store command on the store dir (fi) must run as
// when real root runs it: the store's owner; ok is false when the command
// runs on as it is (not root, already the user inside their namespace, or
// a store of root's).
func Owner(dir string, fi os.FileInfo) (u runas.User, ok bool, err error) {
	if os.Geteuid() != 0 || unshare.GetRootlessUID() != 0 || os.Getenv(unshare.UsernsEnvName) != "" {
		return runas.User{}, false, nil
	}
	sys, isStat := fi.Sys().(*syscall.Stat_t)
	if !isStat || sys.Uid == 0 {
		return runas.User{}, false, nil
	}
	pw, err := user.LookupId(strconv.FormatUint(uint64(sys.Uid), 10))
	if err != nil {
		return runas.User{}, false, fmt.Errorf("image store %s: looking up its owner: %w", dir, err)
	}
	gid, err := strconv.ParseUint(pw.Gid, 10, 32)
	if err != nil {
		return runas.User{}, false, fmt.Errorf("image store %s: group of its owner %s: %w", dir, pw.Username, err)
	}
	u, err = runas.Lookup(sys.Uid, uint32(gid))
	if err != nil {
		return runas.User{}, false, fmt.Errorf("image store %s: %w", dir, err)
	}
	return u, true, nil
}

// asOwner runs this helper again with args as the owner of dir when real
// root runs it on a user's store, and exits with its status. The owner's
// process gets no terminal and no descriptor of root's, what it prints
// reaches root's terminal escaped (runas.Cmd.Stream), and SIGINT, SIGTERM
// and SIGHUP end it.
func asOwner(dir string, fi os.FileInfo, args []string) error {
	u, ok, err := Owner(dir, fi)
	if err != nil || !ok {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the carina binary: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	code, err := runas.Cmd{Path: self, Args: args, As: u}.Stream(ctx, os.Stdout, os.Stderr)
	if err == nil {
		os.Exit(code)
	}
	return fmt.Errorf("running %s as %s, the owner of %s: %w", args[0], u.Name, dir, err)
}
