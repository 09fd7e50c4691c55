// Package mounts decides the bind mounts of a node container and checks
// them against the site's policy. It runs in the helper, as the job user,
// and in srun/sbatch/salloc, as the user, for an early error: root never
// opens, stats or resolves a path a user named.
//
// A user's mount source is resolved once (symbolic links followed, as the
// user) to the path that is checked and then handed to podman, and the
// identity (device, inode) of what was checked is kept: Verify compares it
// with what the started container has at the target, so a path swapped
// between the check and the mount is caught, not mounted.
package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/option"
)

// Checked is a bind mount whose source was resolved and checked.
type Checked struct {
	Mount    option.Mount
	Dev, Ino uint64
}

// Check resolves and checks the user's bind mounts (tmpfs mounts pass as
// they are): each source must exist and, once its symbolic links are
// followed, satisfy the site's allowed and denied prefixes.
func Check(c config.Config, ms []option.Mount) ([]option.Mount, []Checked, error) {
	out := make([]option.Mount, 0, len(ms))
	var checked []Checked
	for _, m := range ms {
		if m.Tmpfs {
			out = append(out, m)
			continue
		}
		ck, err := resolve(m)
		if err != nil {
			return nil, nil, err
		}
		if err := c.CheckMountSource(ck.Mount.Source); err != nil {
			return nil, nil, fmt.Errorf("--container-mounts: %w", err)
		}
		out = append(out, ck.Mount)
		checked = append(checked, ck)
	}
	return out, checked, nil
}

// resolve opens the source (following links, with the caller's rights),
// reads back the path the kernel resolved and keeps the object's identity.
func resolve(m option.Mount) (Checked, error) {
	fd, err := unix.Open(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return Checked{}, fmt.Errorf("--container-mounts: source %s does not exist", m.Source)
	} else if err != nil {
		return Checked{}, fmt.Errorf("--container-mounts: source %s: %w", m.Source, err)
	}
	defer unix.Close(fd)
	real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return Checked{}, fmt.Errorf("--container-mounts: resolving %s: %w", m.Source, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Checked{}, fmt.Errorf("--container-mounts: source %s: %w", m.Source, err)
	}
	m.Source = real
	if err := m.Validate(); err != nil {
		return Checked{}, fmt.Errorf("--container-mounts: source %s resolves to %s: %w", m.Source, real, err)
	}
	return Checked{Mount: m, Dev: st.Dev, Ino: st.Ino}, nil
}

// RootHome is root's home directory, where the user's home is mounted
// when the user is root inside (--container-remap-root), as enroot does.
const RootHome = "/root"

// HomeTarget is where --container-mount-home puts the user's home (home,
// from passwd) inside the container: at its own path, or at /root for a
// user remapped to root; "" when it is not mounted.
func HomeTarget(s option.Spec, home string) string {
	switch {
	case !s.MountHome || !filepath.IsAbs(home):
		return ""
	case s.RemapRoot:
		return RootHome
	}
	return home
}

// ForNode is the list of mounts a node container gets: the site's
// defaults, then the user's home (--container-mount-home; home is the
// passwd entry's), then the step's own mounts, checked; a later mount on
// the same target wins. The checked ones are returned for Verify.
func ForNode(c config.Config, s option.Spec, home string) ([]option.Mount, []Checked, error) {
	var out []option.Mount
	for _, d := range c.DefaultMounts {
		ms, err := option.ParseMounts(d, "/")
		if err != nil {
			return nil, nil, fmt.Errorf("site default mount %q: %w", d, err)
		}
		for _, m := range ms {
			out = option.AddMount(out, m)
		}
	}
	if t := HomeTarget(s, home); t != "" {
		if st, err := os.Stat(home); err == nil && st.IsDir() {
			out = option.AddMount(out, option.Mount{Source: home, Target: t})
		}
	}
	own, checked, err := Check(c, s.Mounts)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range own {
		out = option.AddMount(out, m)
	}
	// Keep only the checks whose mount survived (a later one may replace
	// an earlier on the same target).
	var kept []Checked
	for _, ck := range checked {
		for _, m := range out {
			if m.Target == ck.Mount.Target && m.Source == ck.Mount.Source && !m.Tmpfs {
				kept = append(kept, ck)
				break
			}
		}
	}
	return out, kept, nil
}

// Verify checks that the running container whose process is pid has, at
// each checked mount's target, the very object that was checked.
func Verify(pid int, checked []Checked) error {
	for _, ck := range checked {
		p := fmt.Sprintf("/proc/%d/root%s", pid, ck.Mount.Target)
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return fmt.Errorf("--container-mounts: checking %s in the container: %w", ck.Mount.Target, err)
		}
		if st.Dev != ck.Dev || st.Ino != ck.Ino {
			return fmt.Errorf("--container-mounts: %s changed between the check and the mount (it is not what was checked); refusing it",
				ck.Mount.Source)
		}
	}
	return nil
}
