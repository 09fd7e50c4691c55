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
	// The file outlives its process when the pause process died another
	// way, and pids wrap (32768 here): the pid may now be any process of
	// the user's, even this helper (seen in CI: an epilog's helper killed
	// itself). Only podman's pause process (catatonit -P) is ended.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && isPause(cmdline) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("ending pause process %d: %w", pid, err)
		}
	}
	if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", f, err)
	}
	return nil
}

// isPause reports whether a /proc/PID/cmdline is podman's pause process:
// catatonit run with -P.
func isPause(cmdline []byte) bool {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	return len(args) >= 2 && filepath.Base(args[0]) == "catatonit" && args[1] == "-P"
}
