package nodectr

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PausePidFile is where rootless podman records its per-user pause process
// (catatonit holding the user namespace) for a given XDG_RUNTIME_DIR.
func PausePidFile(runDir string) string {
	return filepath.Join(runDir, "libpod", "tmp", "pause.pid")
}

// KillPause ends the pause processes of runDir: the one pause.pid names,
// and any other podman started for runDir (pausesOf), once the removed
// containers' cleanup is done (awaitCleanup). They ignore SIGTERM, so
// SIGKILL is used. It is only called when no container of the user is
// left on the node, so that no process of the user outlives the job.
func KillPause(runDir string) error {
	awaitCleanup(runDir, cleanupLimit)
	pids := pausesOf("/proc", os.Getuid(), runDir)
	f := PausePidFile(runDir)
	b, err := os.ReadFile(f)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading %s: %w", f, err)
	default:
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			return fmt.Errorf("%s holds no pid", f)
		}
		// The file outlives its process when the pause process died
		// another way, and pids wrap (32768 here): the pid may now be any
		// process of the user's, even this helper (seen in CI: an epilog's
		// helper killed itself). Only podman's pause process (catatonit
		// -P) is ended.
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && isPause(cmdline) {
			pids = append(pids, pid)
		}
	}
	for _, p := range pids {
		if err := syscall.Kill(p, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("ending pause process %d: %w", p, err)
		}
	}
	if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", f, err)
	}
	return nil
}

// cleanupLimit bounds KillPause's wait for the removed containers' conmon
// and podman cleanup processes.
const cleanupLimit = 15 * time.Second

// awaitCleanup waits, at most limit, until no conmon or podman process of
// the user runs for runDir. When a container is removed, its conmon runs
// `podman container cleanup` (podman's exit command) after podman rm has
// returned; that podman starts a pause process again when it finds none,
// so the pause process is ended only once they are gone.
func awaitCleanup(runDir string, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for len(procsOf("/proc", os.Getuid(), runDir, isCleanup)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// isCleanup reports whether a /proc/PID/cmdline is conmon or podman.
func isCleanup(cmdline []byte) bool {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	base := filepath.Base(args[0])
	return base == "conmon" || base == "podman"
}

// pausesOf lists the pause processes of uid that podman started for
// runDir (their environment holds XDG_RUNTIME_DIR=runDir), besides the one
// pause.pid names: two podman commands that find no pause process at the
// same moment each start one, and only one pid lands in the file; the
// other would outlive the job (seen in CI: a catatonit -P left after a
// job's epilog).
func pausesOf(proc string, uid int, runDir string) []int {
	return procsOf(proc, uid, runDir, isPause)
}

// procsOf lists the processes of uid (but this one) whose command line
// matches and whose environment holds XDG_RUNTIME_DIR=runDir (none when
// /proc cannot be listed).
func procsOf(proc string, uid int, runDir string, match func(cmdline []byte) bool) []int {
	want := "XDG_RUNTIME_DIR=" + runDir
	pids, _ := userProcs(proc, uid, func(dir string) bool {
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !match(cmdline) {
			return false
		}
		environ, err := os.ReadFile(filepath.Join(dir, "environ"))
		return err == nil && slices.Contains(strings.Split(string(environ), "\x00"), want)
	})
	return pids
}

// isPause reports whether a /proc/PID/cmdline is podman's pause process:
// catatonit run with -P.
func isPause(cmdline []byte) bool {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	return len(args) >= 2 && filepath.Base(args[0]) == "catatonit" && args[1] == "-P"
}
