package runas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/carina-hpc/carina/pkg/safetext"
)

// Bounds on what Stream copies from a helper; the rest is read and
// dropped.
const (
	maxStreamOut = 64 << 20 // the largest listing of a store is far below
	maxStreamErr = 1 << 20
)

// Stream runs the command, as Output does, for a caller that shows the
// helper's output as it comes: root running a store command (carina
// images, gc...) as the store's owner on root's own terminal. The helper
// then runs as the user with nothing of root's:
//
//   - no terminal: its own session (so no controlling terminal to push
//     input into with TIOCSTI, or to change), stdin from /dev/null, and
//     its stdout and stderr are pipes that this process reads, never the
//     caller's descriptors, whatever they are (the attack on runuser,
//     CVE-2016-2779; Linux 6.2 can turn TIOCSTI off with
//     dev.tty.legacy_tiocsti=0, but carina does not count on it);
//   - no other descriptor: every descriptor above 2 of this process is
//     marked close-on-exec first (CloseInheritedOnExec), so that none
//     that it inherited reaches the helper;
//   - no control characters on the terminal: the user may take the helper
//     over (it is their process to ptrace), so what it prints is copied
//     through safetext.Writer, at most maxStreamOut bytes of stdout and
//     maxStreamErr of stderr.
//
// It returns the helper's exit status. The error is set when the helper
// could not run, was killed (by a signal, or when ctx ended) or printed
// more than the bounds allow; it does not start with "carina:".
func (c Cmd) Stream(ctx context.Context, stdout, stderr io.Writer) (int, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	CloseInheritedOnExec()
	cmd, devnull, err := c.command(ctx)
	if err != nil {
		return -1, err
	}
	defer devnull.Close()
	out := newBoundedCopy(stdout, maxStreamOut)
	errOut := newBoundedCopy(stderr, maxStreamErr)
	cmd.Stdout, cmd.Stderr = out, errOut
	runErr := cmd.Run()
	copyErr := errors.Join(out.close("standard output"), errOut.close("standard error"))
	if ctx.Err() != nil {
		return -1, fmt.Errorf("stopped: %w", context.Cause(ctx))
	}
	var exit *exec.ExitError
	code := 0
	switch {
	case runErr == nil:
	case errors.As(runErr, &exit) && exit.ExitCode() >= 0:
		code = exit.ExitCode()
	default:
		return -1, errors.Join(runErr, copyErr)
	}
	return code, copyErr
}

// boundedCopy escapes what it is given onto w, up to limit bytes of input;
// it drops the rest (so that the helper is not blocked) and says so once
// closed.
type boundedCopy struct {
	mu      sync.Mutex
	w       *safetext.Writer
	left    int64
	limit   int64
	dropped bool
	failed  error
}

func newBoundedCopy(w io.Writer, limit int64) *boundedCopy {
	return &boundedCopy{w: safetext.NewWriter(w), left: limit, limit: limit}
}

func (b *boundedCopy) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := int64(len(p))
	if n > b.left {
		p, b.dropped = p[:b.left], true
	}
	b.left -= int64(len(p))
	if len(p) > 0 && b.failed == nil {
		// A caller's writer that fails (a closed pipe) ends the
		// copy, not the helper: it runs on, its output dropped.
		if _, err := b.w.Write(p); err != nil {
			b.failed = err
		}
	}
	return int(n), nil
}

// close flushes and reports what went wrong while copying the stream
// named what.
func (b *boundedCopy) close(what string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.w.Close(); err != nil && b.failed == nil {
		b.failed = err
	}
	switch {
	case b.failed != nil:
		return fmt.Errorf("copying its %s: %w", what, b.failed)
	case b.dropped:
		return fmt.Errorf("its %s was cut after %d bytes", what, b.limit)
	}
	return nil
}

// CloseInheritedOnExec marks every descriptor above 2 of this process
// close-on-exec, so that the descriptors it inherited open across exec
// (from a shell, a Slurm daemon...) do not leak into the commands it runs.
// Go opens its own descriptors close-on-exec already. Call it only in a
// process that passes nothing on by inheritance: the carina command line,
// the relay server.
func CloseInheritedOnExec() {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	entries, _ := os.ReadDir("/proc/self/fd") // kernels before 5.11
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
}
