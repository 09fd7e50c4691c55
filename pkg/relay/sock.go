package relay

// Socket plumbing for both sides. The client uses plain blocking fds (it
// has nothing else to do while it waits). The server wraps each
// non-blocking socket in an os.File, so that its reads wait in the Go
// runtime's poller, obey deadlines and end when the file is closed, and
// drives it with unix.Recvmsg through the file's RawConn to receive fds.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// dial connects a blocking, close-on-exec unix stream socket to path.
func dial(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("connect", err)
	}
	return fd, nil
}

// removeStale removes a socket file nobody listens on any more; it refuses
// to remove anything else.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("relay: %s exists and is not a socket", path)
	}
	if fd, err := dial(path); err == nil {
		unix.Close(fd)
		return fmt.Errorf("relay: %s: another server is listening there", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("relay: removing the stale socket: %w", err)
	}
	return nil
}

// sendWithFDs writes p on the blocking socket fd with fds attached to its
// first byte.
func sendWithFDs(fd int, p []byte, fds []int) error {
	oob := unix.UnixRights(fds...)
	for {
		n, err := unix.SendmsgN(fd, p, oob, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		return writeAll(fd, p[n:])
	}
}

// writeAll writes p on the blocking socket fd.
func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := unix.SendmsgN(fd, p, nil, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		p = p[n:]
	}
	return nil
}

// fdReader reads from a blocking fd.
type fdReader int

func (r fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("read", err)
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// closeFDs closes every fd in fds.
func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// conn is one accepted connection on the server side.
type conn struct {
	f  *os.File
	rc syscall.RawConn
	// fds are the fds received so far and not taken by takeFDs; once
	// wantFDs is false, any further fds are closed on arrival.
	fds     []int
	wantFDs bool
}

// newConn takes ownership of fd, a non-blocking connected socket.
func newConn(fd int) (*conn, error) {
	f := os.NewFile(uintptr(fd), "relay-conn")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("relay: connection: %w", err)
	}
	return &conn{f: f, rc: rc, wantFDs: true}, nil
}

// peerUID returns the uid of the process at the other end (SO_PEERCRED:
// the credentials it had when it connected).
func (c *conn) peerUID() (int, error) {
	var cred *unix.Ucred
	var operr error
	err := c.rc.Control(func(fd uintptr) {
		cred, operr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err == nil {
		err = operr
	}
	if err != nil {
		return -1, fmt.Errorf("relay: SO_PEERCRED: %w", err)
	}
	return int(cred.Uid), nil
}

// Read reads bytes and collects the fds that come with them (received
// close-on-exec). It waits in the poller: deadlines and Close end it.
func (c *conn) Read(p []byte) (int, error) {
	oob := make([]byte, unix.CmsgSpace(8*4))
	var n, oobn, flags int
	var operr error
	err := c.rc.Read(func(fd uintptr) bool {
		n, oobn, flags, _, operr = unix.Recvmsg(int(fd), p, oob, unix.MSG_CMSG_CLOEXEC)
		return operr != unix.EAGAIN
	})
	if err == nil {
		err = operr
	}
	if oobn > 0 {
		fds, perr := parseRights(oob[:oobn])
		if c.wantFDs {
			c.fds = append(c.fds, fds...)
		} else {
			closeFDs(fds)
		}
		if perr != nil && err == nil {
			err = perr
		}
	}
	if err == nil && flags&unix.MSG_CTRUNC != 0 {
		err = errors.New("relay: too many fds attached")
	}
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return 0, nil
		}
		return 0, err
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// takeFDs returns the fds received so far; later ones are closed.
func (c *conn) takeFDs() []int {
	fds := c.fds
	c.fds, c.wantFDs = nil, false
	return fds
}

// Write writes p whole (os.File.Write loops over short writes).
func (c *conn) Write(p []byte) (int, error) { return c.f.Write(p) }

// reply sends the server's only frame.
func (c *conn) reply(r Reply) error {
	b, err := encodeFrame(r)
	if err != nil {
		return err
	}
	_, err = c.Write(b)
	return err
}

// Close closes the socket and any fds received and not taken.
func (c *conn) Close() error {
	closeFDs(c.takeFDs())
	return c.f.Close()
}

// parseRights returns the fds in the control messages of oob.
func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("relay: control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return fds, fmt.Errorf("relay: SCM_RIGHTS: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}
