package nodectr

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// PausePidFile is where rootless podman records its per-user pause process
// (catatonit holding the user namespace) for a given XDG_RUNTIME_DIR.
func PausePidFile(runDir string) string {
	return filepath.Join(runDir, "libpod", "tmp", "pause.pid")
}

// KillPause ends the pause process of runDir, if any. It ignores SIGTERM,
// so SIGKILL is used. It is only called when no container of the user is
// left on the node, so that no process of the user outlives the job.
func KillPause(runDir string) error {
	f := PausePidFile(runDir)
	b, err := os.ReadFile(f)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", f, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("%s holds no pid", f)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("ending pause process %d: %w", pid, err)
	}
	if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", f, err)
	}
	return nil
}
