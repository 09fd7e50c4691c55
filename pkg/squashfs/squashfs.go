// Package squashfs starts containers from squashfs files: a user's
// --container-image=PATH.sqsh (pyxis's form), a shared store's squashed
// image, a site store's. The file is mounted read-only with squashfuse
// inside podman's user and mount namespaces, the only place where a
// rootless mount is seen by podman, and given to podman as the root
// filesystem with a throw-away writable overlay on top. It runs only in
// the carina helper, as the job user.
package squashfs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/taskenv"
)

// Unsharer runs a command in podman's user and mount namespaces
// (nodectr.Podman, podman unshare).
type Unsharer interface {
	Unshare(ctx context.Context, args ...string) error
}

// Path returns the path when src names a squashfs file (pyxis's
// --container-image=/path/image.sqsh), else "".
func Path(src string) (string, error) {
	transport, path, ok := image.IsLocal(src)
	if !ok || transport != "file" {
		return "", nil
	}
	kind, err := image.Detect(path)
	if err != nil {
		return "", err
	}
	if kind != image.KindSquashfs {
		return "", nil
	}
	return path, nil
}

// MountPoint is where the root filesystem of container name is mounted.
func MountPoint(d plan.Dirs, name string) string {
	return filepath.Join(d.Run, "squash", name)
}

// Mount mounts the squashfs file at path for container name and returns
// the --rootfs value: the mount, with a throw-away writable overlay on top.
// The pause process must exist already: podman was run before this (a
// mount made before it would be lost).
func Mount(ctx context.Context, u Unsharer, d plan.Dirs, name, path string) (string, error) {
	mnt := MountPoint(d, name)
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return "", fmt.Errorf("making the mount point %s: %w", mnt, err)
	}
	if err := u.Unshare(ctx, "squashfuse", "-o", "ro", path, mnt); err != nil {
		_ = os.Remove(mnt)
		return "", fmt.Errorf("mounting %s: %w", path, err)
	}
	return mnt + ":O", nil
}

// Unmount undoes Mount; the squashfuse process then ends.
func Unmount(ctx context.Context, u Unsharer, d plan.Dirs, name string) {
	mnt := MountPoint(d, name)
	if _, err := os.Stat(mnt); err != nil {
		return
	}
	_ = u.Unshare(ctx, "umount", mnt)
	_ = os.Remove(mnt)
}

// KillLeftovers ends any squashfuse of this runtime directory that an
// interrupted run left behind, before the pause process goes.
func KillLeftovers(d plan.Dirs) {
	mark := filepath.Join(d.Run, "squash") + "/"
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && filepath.Base(args[0]) == "squashfuse" && strings.Contains(string(b), mark) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// RootfsConfig reads the environment and working directory of the
// squashfs root filesystem that process pid (the container's init) runs
// on, the way enroot writes them: KEY=VALUE lines in /etc/environment and
// a `cd "DIR"` line in /etc/rc.
func RootfsConfig(pid int) image.Pulled {
	return rootfsConfig(fmt.Sprintf("/proc/%d/root", pid))
}

func rootfsConfig(root string) image.Pulled {
	p := image.Pulled{Workdir: "/"}
	if f, err := os.Open(filepath.Join(root, "etc/environment")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
			name, val, ok := strings.Cut(line, "=")
			if !ok || name == "" || strings.HasPrefix(name, "#") {
				continue
			}
			p.Env = append(p.Env, name+"="+strings.Trim(val, `"'`))
		}
		f.Close()
	}
	if len(taskenv.FromImage(p.Env)) == 0 {
		p.Env = append(p.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/rc")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if rest, ok := strings.CutPrefix(line, "cd "); ok {
				if dir := strings.Trim(strings.Fields(rest + " ")[0], `"'`); filepath.IsAbs(dir) {
					p.Workdir = filepath.Clean(dir)
				}
				break
			}
		}
	}
	return p
}

// OwnRoot gives the container's "/" to the owner of the image's other
// files. Podman's throw-away overlay over a --rootfs (the ":O") gets an
// upper directory that, under --userns=keep-id, it chowns to the user's
// uid number counted in its own namespace, which is another uid inside the
// container (measured: "/" owned by 1000 for user 1001), so that
// --container-writable could not create a file in "/". Everything else
// of the image is the user's (squashfuse runs as uid 0 of podman's
// namespace, which is the user), as under pyxis; now "/" is too. The
// chown goes through the container's own root (/proc/PID/root of its
// init), so the overlay records it; changing the upper directory behind
// the overlay's back is not seen by its permission checks (measured).
func OwnRoot(ctx context.Context, u Unsharer, pid int) error {
	if err := u.Unshare(ctx, "chown", "0:0", fmt.Sprintf("/proc/%d/root/", pid)); err != nil {
		return fmt.Errorf("giving the container's / to its user: %w", err)
	}
	return nil
}
