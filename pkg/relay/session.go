package relay

// One connection: check the peer's uid, read the request and its fds,
// start the command (child.go), pass on the client's signals, send the
// status back. A client that goes away takes its command with it: SIGTERM,
// then SIGKILL after the grace period. Every fd received is closed on
// every path, and the connection's goroutines end with it.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// session is one connection. proc is set, under the server's mutex, once
// the command runs.
type session struct {
	c    *conn
	proc *os.Process
}

// terminate asks the session to end: SIGTERM to its command, or, before
// there is one, an end to the wait for the request. Called with the
// server's mutex held.
func (ss *session) terminate() {
	if ss.proc != nil {
		ss.proc.Signal(syscall.SIGTERM)
		return
	}
	ss.c.f.SetReadDeadline(time.Now())
}

// kill sends SIGKILL to the session's command. Called with the server's
// mutex held.
func (ss *session) kill() {
	if ss.proc != nil {
		ss.proc.Kill()
	}
}

// handle serves the connection fd; it owns fd.
func (s *Server) handle(fd int) {
	defer s.wg.Done()
	c, err := newConn(fd)
	if err != nil {
		s.log.Print(err)
		return
	}
	defer c.Close()
	ss := &session{c: c}
	if !s.track(ss) {
		return
	}
	defer s.untrack(ss)

	uid, err := c.peerUID()
	if err == nil && uid != s.uid {
		err = fmt.Errorf("relay: connection from uid %d, not %d", uid, s.uid)
	}
	if err != nil {
		s.log.Printf("relay: refused a connection: %s", bare(err))
		c.reply(Reply{Error: "carina: relay: permission denied"})
		return
	}

	c.f.SetReadDeadline(time.Now().Add(requestTimeout))
	var req Request
	if err := readFrame(c, &req); err != nil {
		switch {
		case errors.Is(err, io.EOF): // a probe, e.g. removeStale's
		case s.stopping():
			c.reply(Reply{Error: "carina: relay: the host side is stopping"})
		default:
			s.log.Printf("relay: reading a request: %s", bare(err))
			c.reply(Reply{Error: "carina: relay: bad request: " + bare(err)})
		}
		return
	}
	fds := c.takeFDs()
	c.f.SetReadDeadline(time.Time{})
	name, err := s.start(ss, req, fds)
	if err != nil {
		s.log.Printf("relay: refused: %s", bare(err))
		c.reply(Reply{Error: "carina: " + err.Error()})
		return
	}
	s.supervise(ss, name)
}

// supervise waits for the session's command while passing on the client's
// signals, and sends its status.
func (s *Server) supervise(ss *session, name string) {
	proc, c := ss.proc, ss.c
	exited := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			var m Message
			err := readFrame(c, &m)
			if err == nil {
				if m.Signal > 0 && m.Signal < 65 {
					proc.Signal(syscall.Signal(m.Signal))
				}
				continue
			}
			select {
			case <-exited:
				return
			default:
			}
			// The client went away (or spoke nonsense): end its command.
			s.log.Printf("relay: %s pid %d: client gone (%v), terminating", name, proc.Pid, err)
			proc.Signal(syscall.SIGTERM)
			t := time.NewTimer(s.grace)
			defer t.Stop()
			select {
			case <-exited:
			case <-t.C:
				s.log.Printf("relay: %s pid %d: killing", name, proc.Pid)
				proc.Kill()
			}
			return
		}
	}()

	state, err := proc.Wait()
	close(exited)
	var r Reply
	switch {
	case err != nil:
		s.log.Printf("relay: %s pid %d: wait: %v", name, proc.Pid, err)
		r.Error = fmt.Sprintf("carina: relay: %s: waiting for it: %v", name, err)
	default:
		ws := state.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			r.Signal = int(ws.Signal())
			s.log.Printf("relay: %s pid %d: killed by signal %d", name, proc.Pid, r.Signal)
		} else {
			code := ws.ExitStatus()
			r.Exit = &code
			s.log.Printf("relay: %s pid %d: exited with status %d", name, proc.Pid, code)
		}
	}
	c.reply(r)
	// Wake the reader; it sees exited closed and returns.
	c.f.SetReadDeadline(time.Now())
	<-readerDone
	proc.Release()
}

// bare is err's message without the package's "relay: " prefix.
func bare(err error) string { return strings.TrimPrefix(err.Error(), "relay: ") }
