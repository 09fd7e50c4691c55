package nodectr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/carina-hpc/carina/pkg/plan"
)

// Joined tasks are not in the container's pid namespace (a task joins
// only its user and mount namespaces, and those it unshares): removing or
// stopping the container does not end them. Slurm normally has, but a task
// whose slurmstepd was killed is an orphan no one tracks, and it would run
// on in the job's container filesystem after the job. The job epilog ends
// them first, by the mount namespace they share with the container's init.

// EndJoined sends SIGKILL to every process of this user (the helper's uid)
// in the mount namespace of the container name, whose init its state file
// in d.Run names (the very process, by its start time), and returns the
// number killed. A container with no state or no running init has none.
func EndJoined(d plan.Dirs, name string) (int, error) {
	b, err := os.ReadFile(filepath.Join(d.Run, name+".json"))
	if err != nil {
		return 0, nil
	}
	var c plan.Container
	if json.Unmarshal(b, &c) != nil || c.Pid <= 0 || c.Start == 0 || ProcessStart(c.Pid) != c.Start {
		return 0, nil
	}
	return killInMountNS("/proc", c.Pid, os.Getuid())
}

// killInMountNS kills the processes of uid, as proc lists them, whose
// mount namespace is that of pid (pid itself included: the container is
// being removed or stopped).
func killInMountNS(proc string, pid, uid int) (int, error) {
	want, err := os.Readlink(filepath.Join(proc, strconv.Itoa(pid), "ns", "mnt"))
	if err != nil {
		return 0, fmt.Errorf("reading the mount namespace of the container's init %d: %w", pid, err)
	}
	pids, err := userProcs(proc, uid, func(dir string) bool {
		ns, err := os.Readlink(filepath.Join(dir, "ns", "mnt"))
		return err == nil && ns == want // else gone meanwhile, or elsewhere
	})
	if err != nil {
		return 0, err
	}
	killed := 0
	var errs []error
	for _, n := range pids {
		if err := syscall.Kill(n, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("ending process %d: %w", n, err))
			continue
		}
		killed++
	}
	return killed, errors.Join(errs...)
}

// userProcs lists the processes of uid, as proc lists them, but this one,
// whose /proc directory keep accepts.
func userProcs(proc string, uid int, keep func(dir string) bool) ([]int, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == os.Getpid() {
			continue
		}
		dir := filepath.Join(proc, e.Name())
		var st syscall.Stat_t
		if syscall.Stat(dir, &st) != nil || int(st.Uid) != uid || !keep(dir) {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// ProcessStart is the start time of pid (field 22 of /proc/PID/stat, in
// clock ticks since boot), which tells a process from a later one that
// got its pid; 0 when pid does not run.
func ProcessStart(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; count from its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0
	}
	return n
}
