package runas

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// UserDir makes sure dir exists as a real directory owned by u with mode
// 0700, creating root-owned 0755 parents below base as needed. It refuses
// symbolic links and directories owned by anyone else, so a user cannot
// point root at another user's files.
func UserDir(base, dir string, u User) error {
	rel, err := filepath.Rel(base, dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("directory %s is not below %s", dir, base)
	}
	if err := rootDir(base); err != nil {
		return err
	}
	parts := strings.Split(rel, "/")
	cur := base
	for _, p := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, p)
		if err := rootDir(cur); err != nil {
			return err
		}
	}
	return ownedDir(dir, u)
}

// rootDir ensures a root-owned directory that is not a symlink.
func rootDir(p string) error {
	if err := os.Mkdir(p, 0o755); err != nil && !os.IsExist(err) {
		return fmt.Errorf("creating %s: %w", p, err)
	}
	return checkDir(p, 0)
}

func ownedDir(p string, u User) error {
	if err := os.Mkdir(p, 0o700); err != nil {
		if !os.IsExist(err) {
			return fmt.Errorf("creating %s: %w", p, err)
		}
		return checkDir(p, u.UID)
	}
	if err := os.Lchown(p, int(u.UID), int(u.GID)); err != nil {
		return fmt.Errorf("chown %s: %w", p, err)
	}
	if err := os.Chmod(p, 0o700); err != nil {
		return fmt.Errorf("chmod %s: %w", p, err)
	}
	return checkDir(p, u.UID)
}

func checkDir(p string, uid uint32) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("checking %s: %w", p, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", p)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != uid {
		return fmt.Errorf("%s is not owned by uid %d", p, uid)
	}
	return nil
}
