package relay

// The server: Listen makes the socket, Serve accepts connections until its
// context ends and then stops: no new connections, SIGTERM to every
// running command, SIGKILL to those left after the grace period, socket
// removed. One goroutine per connection (session.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultGrace is how long a command has between SIGTERM and SIGKILL, when
// its client went away or the server stops.
const DefaultGrace = 5 * time.Second

// requestTimeout bounds the wait for a client's request.
const requestTimeout = 30 * time.Second

// Config is what a server runs with.
type Config struct {
	// Socket is the path of the unix socket to listen on; its directory
	// must exist. A stale socket there is replaced.
	Socket string
	// Commands are the names that may be run; nil means DefaultCommands.
	Commands []string
	// Path is the colon-separated list of directories the commands are
	// looked up in, and the children's PATH. Relative entries are
	// ignored. Empty means the server's own PATH.
	Path string
	// Grace is the time between SIGTERM and SIGKILL; 0 means
	// DefaultGrace.
	Grace time.Duration
	// Log receives one line per command started, finished or refused;
	// nil means os.Stderr.
	Log io.Writer
}

// Server is a listening relay server.
type Server struct {
	socket  string
	path    string
	allowed map[string]bool
	grace   time.Duration
	log     *log.Logger
	uid     int

	ln     *os.File
	lnRC   syscall.RawConn
	sockID [2]uint64 // dev and inode of the socket file we bound

	mu       sync.Mutex
	closing  bool
	sessions map[*session]struct{}
	wg       sync.WaitGroup
}

// Serve listens on cfg.Socket and serves until ctx ends, then stops as
// (*Server).Serve does.
func Serve(ctx context.Context, cfg Config) error {
	s, err := Listen(cfg)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Listen checks cfg and creates the socket, mode 0600.
func Listen(cfg Config) (*Server, error) {
	s := &Server{
		socket:   cfg.Socket,
		path:     cfg.Path,
		allowed:  map[string]bool{},
		grace:    cfg.Grace,
		uid:      os.Getuid(),
		sessions: map[*session]struct{}{},
	}
	if s.socket == "" {
		return nil, errors.New("relay: no socket path")
	}
	if s.path == "" {
		s.path = os.Getenv("PATH")
	}
	if s.path == "" {
		s.path = "/usr/local/bin:/usr/bin:/bin"
	}
	if s.grace <= 0 {
		s.grace = DefaultGrace
	}
	w := cfg.Log
	if w == nil {
		w = os.Stderr
	}
	s.log = log.New(w, "", log.LstdFlags)
	cmds := cfg.Commands
	if cmds == nil {
		cmds = DefaultCommands
	}
	for _, c := range cmds {
		if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "/\x00") {
			return nil, fmt.Errorf("relay: %q is not a command name", c)
		}
		s.allowed[c] = true
	}
	if err := s.listen(); err != nil {
		return nil, err
	}
	return s, nil
}

// listen binds and listens on s.socket.
func (s *Server) listen() error {
	if err := removeStale(s.socket); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("relay: socket: %w", err)
	}
	// bind creates the file with the umask's mode; chmod narrows it at
	// once. Anyone who connects in between is still refused by the
	// SO_PEERCRED check.
	err = unix.Bind(fd, &unix.SockaddrUnix{Name: s.socket})
	if err == nil {
		err = os.Chmod(s.socket, 0o600)
		if err != nil {
			os.Remove(s.socket)
		}
	}
	if err == nil {
		var st unix.Stat_t
		if err = unix.Stat(s.socket, &st); err == nil {
			s.sockID = [2]uint64{st.Dev, st.Ino}
		}
	}
	if err == nil {
		err = unix.Listen(fd, 128)
	}
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("relay: listening on %s: %w", s.socket, err)
	}
	s.ln = os.NewFile(uintptr(fd), s.socket)
	if s.lnRC, err = s.ln.SyscallConn(); err != nil {
		s.ln.Close()
		s.removeSocket()
		return fmt.Errorf("relay: listening on %s: %w", s.socket, err)
	}
	return nil
}

// removeSocket removes the socket file if it is still the one we bound.
func (s *Server) removeSocket() {
	var st unix.Stat_t
	if unix.Lstat(s.socket, &st) == nil && [2]uint64{st.Dev, st.Ino} == s.sockID {
		os.Remove(s.socket)
	}
}

// Serve accepts connections until ctx ends, then stops: it closes the
// socket, sends SIGTERM to the running commands, SIGKILL to those still
// there after the grace period, waits for every connection to end and
// removes the socket file. It returns nil after a stop asked for by ctx.
func (s *Server) Serve(ctx context.Context) error {
	acceptErr := make(chan error, 1)
	go func() { acceptErr <- s.acceptLoop() }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-acceptErr:
	}
	s.stop()
	if err == nil {
		<-acceptErr
	}
	return err
}

// acceptLoop runs until the listener is closed (nil) or fails.
func (s *Server) acceptLoop() error {
	for {
		var nfd int
		var operr error
		err := s.lnRC.Read(func(fd uintptr) bool {
			nfd, _, operr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			return operr != unix.EAGAIN
		})
		if err != nil {
			if s.stopping() {
				return nil
			}
			return fmt.Errorf("relay: accept: %w", err)
		}
		switch {
		case operr == nil:
		case operr == unix.EINTR || operr == unix.ECONNABORTED:
			continue
		case operr == unix.EMFILE || operr == unix.ENFILE || operr == unix.ENOBUFS || operr == unix.ENOMEM:
			s.log.Printf("relay: accept: %v", operr)
			time.Sleep(100 * time.Millisecond) // let connections end
			continue
		default:
			return fmt.Errorf("relay: accept: %w", operr)
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			unix.Close(nfd)
			return nil
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(nfd)
	}
}

// stop ends the server (see Serve).
func (s *Server) stop() {
	s.mu.Lock()
	s.closing = true
	for ss := range s.sessions {
		ss.terminate()
	}
	s.mu.Unlock()
	s.ln.Close()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	t := time.NewTimer(s.grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.mu.Lock()
		for ss := range s.sessions {
			ss.kill()
		}
		s.mu.Unlock()
		// SIGKILL is not refused; a command stuck in the kernel is
		// left behind rather than the server.
		t.Reset(2 * time.Second)
		select {
		case <-done:
		case <-t.C:
			s.log.Printf("relay: stopping with commands still running")
		}
	}
	s.removeSocket()
}

// track registers ss; false when the server is stopping.
func (s *Server) track(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[ss] = struct{}{}
	return true
}

// stopping reports whether the server is stopping.
func (s *Server) stopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) untrack(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss)
	s.mu.Unlock()
}
