package relay

// The client side: connect, send argv, environment, the standard fds and
// the working directory, pass on signals while the command runs, return
// its status. Plain blocking syscalls, so that the static client stays
// small (no net package).

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Status is how a relayed command ended.
type Status struct {
	Exit   int // its exit status, when Signal is 0
	Signal int // the signal that killed it, or 0
}

// Code is the status for the caller to exit with: Exit, or 128+Signal as
// shells report a command killed by a signal.
func (s Status) Code() int {
	if s.Signal > 0 {
		return 128 + s.Signal
	}
	return s.Exit
}

// RefusedError is the server's refusal to run a command (not relayed, not
// found, permission denied...): the command did not run.
type RefusedError struct {
	Message string // the server's line, "carina: relay: ..."
}

// Error is Message without its leading "carina: ", for callers that add
// it themselves.
func (e *RefusedError) Error() string { return strings.TrimPrefix(e.Message, "carina: ") }

// Client relays commands to a server.
type Client struct {
	// Socket is the server's socket; "" means DefaultSocket.
	Socket string
	// Files are the command's stdin, stdout and stderr; nil means 0, 1
	// and 2.
	Files []int
	// Dir is the command's working directory; "" means the current one.
	// When it cannot be opened, "/" is sent instead.
	Dir string
	// Signals are passed on to the command while it runs; they must be
	// syscall.Signal values. Nil: none.
	Signals <-chan os.Signal
}

// Call relays argv with env, the process's standard fds and working
// directory to the server at socket, passing on sigs.
func Call(socket string, argv, env []string, sigs <-chan os.Signal) (Status, error) {
	c := Client{Socket: socket, Signals: sigs}
	return c.Run(argv, env)
}

// Run relays argv with env and returns how the command ended. Any error
// means the command's status is unknown: the server could not be reached
// (the error says "cannot reach the host side"), refused the command
// (*RefusedError) or went away.
func (c *Client) Run(argv, env []string) (Status, error) {
	if len(argv) == 0 {
		return Status{}, errors.New("relay: no command")
	}
	files := c.Files
	if files == nil {
		files = []int{0, 1, 2}
	}
	if len(files) != 3 {
		return Status{}, fmt.Errorf("relay: %d standard files, want 3", len(files))
	}
	cwdName := c.Dir
	if cwdName == "" {
		cwdName, _ = os.Getwd()
	}
	frame, err := encodeFrame(Request{Argv: argv, Env: env, Cwd: cwdName})
	if err != nil {
		return Status{}, err
	}
	socket := c.Socket
	if socket == "" {
		socket = DefaultSocket
	}
	sock, err := dial(socket)
	if err != nil {
		return Status{}, fmt.Errorf("relay: cannot reach the host side at %s: %w", socket, err)
	}
	defer unix.Close(sock)

	cwd, err := openDir(c.Dir)
	if err != nil {
		return Status{}, err
	}
	err = sendWithFDs(sock, frame, append(files[:3:3], cwd))
	unix.Close(cwd)
	if err != nil {
		// A server that refuses a peer replies and closes without
		// reading: its reply may be waiting.
		var r Reply
		if readFrame(fdReader(sock), &r) == nil && r.Error != "" {
			return Status{}, &RefusedError{Message: r.Error}
		}
		return Status{}, fmt.Errorf("relay: sending the command to the host side: %w", err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	if c.Signals != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			forwardSignals(sock, c.Signals, stop)
		}()
	}
	var r Reply
	err = readFrame(fdReader(sock), &r)
	close(stop)
	wg.Wait()
	if err != nil {
		return Status{}, fmt.Errorf("relay: lost the host side before the command ended: %w", err)
	}
	switch {
	case r.Error != "":
		return Status{}, &RefusedError{Message: r.Error}
	case r.Signal > 0:
		return Status{Signal: r.Signal}, nil
	case r.Exit != nil:
		return Status{Exit: *r.Exit}, nil
	}
	return Status{}, errors.New("relay: the host side sent no status")
}

// openDir opens dir ("" for ".") as an O_PATH directory fd, or "/" when
// that fails (a working directory that was removed, say).
func openDir(dir string) (int, error) {
	if dir == "" {
		dir = "."
	}
	const flags = unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC
	fd, err := unix.Open(dir, flags, 0)
	if err != nil {
		fd, err = unix.Open("/", flags, 0)
	}
	if err != nil {
		return -1, fmt.Errorf("relay: opening the working directory: %w", err)
	}
	return fd, nil
}

// forwardSignals sends each signal from sigs as a frame on sock until stop
// is closed.
func forwardSignals(sock int, sigs <-chan os.Signal, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case sig := <-sigs:
			n, ok := sig.(syscall.Signal)
			if !ok {
				continue
			}
			b, err := encodeFrame(Message{Signal: int(n)})
			if err == nil {
				err = writeAll(sock, b)
			}
			if err != nil {
				return // the server is gone; the reply read says so
			}
		}
	}
}
