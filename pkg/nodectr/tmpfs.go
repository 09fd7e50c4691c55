package nodectr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/carina-hpc/carina/pkg/plan"
)

// A tmpfs whose options podman's --tmpfs refuses (huge=, nr_inodes=,
// noatime, ...: "unknown mount option", podman 4.3) is mounted by carina
// in podman's user and mount namespace, where podman itself runs (as
// squashfs mounts the root filesystem), and bound into the container at
// its target. The mount lives as long as the container: Teardown unmounts
// it, and it goes with the pause process at the end of the job at the
// latest.

// TmpfsDir holds the mount points of container name's own tmpfs mounts.
func TmpfsDir(d plan.Dirs, name string) string {
	return filepath.Join(d.Run, "tmpfs", name)
}

// MountTmpfs mounts a tmpfs with opts (mount(8) syntax) for container name
// and returns the --volume value that binds it at target. The pause
// process must exist already (a podman command ran before): a mount made
// before it starts would be lost.
func MountTmpfs(ctx context.Context, p Podman, d plan.Dirs, name string, target, opts string) (string, error) {
	sum := sha256.Sum256([]byte(target))
	dir := filepath.Join(TmpfsDir(d, name), hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("making the mount point of the tmpfs at %s: %w", target, err)
	}
	if err := p.Unshare(ctx, "mount", "-t", "tmpfs", "-o", opts, "carina-tmpfs", dir); err != nil {
		_ = os.Remove(dir)
		return "", fmt.Errorf("mounting the tmpfs at %s with %s: %w", target, opts, err)
	}
	return dir + ":" + target, nil
}

// UnmountTmpfs undoes MountTmpfs for every tmpfs of container name.
func UnmountTmpfs(ctx context.Context, p Podman, d plan.Dirs, name string) {
	dir := TmpfsDir(d, name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		mnt := filepath.Join(dir, e.Name())
		_ = p.Unshare(ctx, "umount", mnt)
		_ = os.Remove(mnt)
	}
	_ = os.Remove(dir)
}
