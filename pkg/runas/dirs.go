package runas

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// UserDir makes sure dir exists as a real directory owned by u with mode
// 0700, creating root-owned 0755 parents below base as needed.
//
// It works on directory descriptors from base down, never following a
// symbolic link (O_NOFOLLOW at every step), so nothing planted in the path
// (a symlink, a directory of another user) can point root elsewhere. A
// directory that exists already must be owned by u (the parents: by root);
// one pre-created by anyone else is refused, not adopted. A parent that
// others may write must be sticky, so that nobody can swap an entry of
// someone else's under it.
func UserDir(base, dir string, u User) error {
	rel, err := filepath.Rel(base, dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || !filepath.IsAbs(base) {
		return fmt.Errorf("directory %s is not below %s", dir, base)
	}
	if err := os.Mkdir(base, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating %s: %w", base, err)
	}
	// The site's base directory is a configured path: symbolic links in
	// it are the admin's. Everything below is opened without following.
	fd, err := unix.Open(base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", base, err)
	}
	defer func() { unix.Close(fd) }()
	if err := checkFD(fd, base, 0); err != nil {
		return err
	}
	parts := strings.Split(rel, "/")
	cur := base
	for i, name := range parts {
		cur = filepath.Join(cur, name)
		last := i == len(parts)-1
		owner, group, mode := uint32(0), uint32(0), uint32(0o755)
		if last {
			owner, group, mode = u.UID, u.GID, 0o700
		}
		next, err := ownedDirAt(fd, name, cur, owner, group, mode)
		if err != nil {
			return err
		}
		unix.Close(fd)
		fd = next
	}
	return nil
}

// ownedDirAt makes (or opens) the directory name below the directory
// parent, owned by uid with the given mode, and returns its descriptor.
//
// A new directory is made under a temporary name, given its owner and
// mode, and only then renamed into place (RENAME_NOREPLACE): several
// nodes making the same user's directory at once never see it half made
// (root's, before its chown) and take it for someone else's.
func ownedDirAt(parent int, name, path string, uid, gid, mode uint32) (int, error) {
	if err := makeDirAt(parent, name, path, uid, gid, mode); err != nil {
		return -1, err
	}
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return -1, fmt.Errorf("%s is not a directory (a symbolic link or a file was put there); refusing it", path)
		}
		return -1, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := checkFD(fd, path, uid); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

var tmpSeq atomic.Uint64

// makeDirAt creates name below parent unless something is there already.
func makeDirAt(parent int, name, path string, uid, gid, mode uint32) error {
	var st unix.Stat_t
	if err := unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return nil // checked by the caller once opened
	}
	tmp := fmt.Sprintf(".%s.carina-%d-%d-%d", name, os.Getpid(), time.Now().UnixNano(), tmpSeq.Add(1))
	if err := unix.Mkdirat(parent, tmp, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	fail := func(err error) error {
		_ = unix.Unlinkat(parent, tmp, unix.AT_REMOVEDIR)
		return err
	}
	fd, err := unix.Openat(parent, tmp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("opening %s: %w", path, err))
	}
	err = unix.Fchown(fd, int(uid), int(gid))
	if err == nil {
		err = unix.Fchmod(fd, mode)
	}
	unix.Close(fd)
	if err != nil {
		return fail(fmt.Errorf("preparing %s: %w", path, err))
	}
	if err := unix.Renameat2(parent, tmp, parent, name, unix.RENAME_NOREPLACE); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fail(nil) // another node made it meanwhile
		}
		return fail(fmt.Errorf("creating %s: %w", path, err))
	}
	return nil
}

// checkFD checks that the open directory fd is owned by uid and, when
// others may write to it, sticky.
func checkFD(fd int, path string, uid uint32) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	if st.Uid != uid {
		return fmt.Errorf("%s is owned by uid %d, not uid %d: made by someone else, refusing it", path, st.Uid, uid)
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return fmt.Errorf("%s may be written by others and is not sticky (mode %o)", path, st.Mode&0o7777)
	}
	return nil
}

// checkDir checks an existing directory by path (tests and diagnostics).
func checkDir(p string, uid uint32) error {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", p, err)
	}
	defer unix.Close(fd)
	return checkFD(fd, p, uid)
}
