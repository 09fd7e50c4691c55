package runas

import (
	"os"
	"os/exec"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// fdMu serialises startClean: the close-on-exec flags it lends are
// process-wide.
var fdMu sync.Mutex

// startClean starts cmd so that it inherits no descriptor above 2.
//
// Go marks its own descriptors close-on-exec but does not close others in
// the child, and Slurm's processes hold inheritable ones (slurmstepd's
// log, its sockets, a task's PMI descriptor). Go offers no hook between
// fork and exec for close_range, so every inheritable descriptor above 2
// is marked close-on-exec for the moment of the start and given its flag
// back once the child has exec'ed (Start returns only then): a descriptor
// slurmstepd means its tasks to inherit is still inheritable for them.
func startClean(cmd *exec.Cmd) error {
	fdMu.Lock()
	defer fdMu.Unlock()
	lent := lendCloexec()
	defer func() {
		for _, fd := range lent {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
		}
	}()
	return cmd.Start()
}

// lendCloexec sets FD_CLOEXEC on every descriptor above 2 that lacks it
// and returns those descriptors.
func lendCloexec() []int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var lent []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue // closed meanwhile (the directory's own descriptor), or already close-on-exec
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err == nil {
			lent = append(lent, fd)
		}
	}
	return lent
}
