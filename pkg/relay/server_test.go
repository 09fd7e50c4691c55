package relay

// The server's life cycle and its side of the protocol: signals, clients
// that go away, stop, the socket file, malformed requests.

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// started runs argv through c in the background with a pipe as stdout;
// once the command has written its first line (which it returns), the
// command runs. The returned channel gives Run's outcome.
func started(t *testing.T, c Client, argv []string) (string, <-chan result) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c.Files = []int{int(devNull(t).Fd()), int(w.Fd()), 2}
	done := make(chan result, 1)
	go func() {
		var res result
		res.st, res.err = c.Run(argv, os.Environ())
		w.Close()
		done <- res
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("the command's first line: %v", err)
	}
	return strings.TrimSpace(line), done
}

func devNull(t *testing.T) *os.File {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// outcome waits for a background Run.
func outcome(t *testing.T, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the relayed command did not end")
		return result{}
	}
}

func TestRelaySignals(t *testing.T) {
	ts := startServer(t, Config{})
	tests := []struct {
		name string
		sig  syscall.Signal
		argv []string
		want Status
	}{
		{"SIGTERM kills", syscall.SIGTERM, []string{"sh", "-c", "echo ready; exec sleep 30"}, Status{Signal: 15}},
		{"SIGINT kills", syscall.SIGINT, []string{"sh", "-c", "echo ready; exec sleep 30"}, Status{Signal: 2}},
		{"SIGUSR1 is handled", syscall.SIGUSR1,
			[]string{"sh", "-c", "trap 'exit 42' USR1; echo ready; while :; do sleep 0.05; done"}, Status{Exit: 42}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigs := make(chan os.Signal, 1)
			line, done := started(t, Client{Socket: ts.socket, Signals: sigs}, tt.argv)
			if line != "ready" {
				t.Fatalf("first line %q", line)
			}
			sigs <- tt.sig
			r := outcome(t, done)
			if r.err != nil || r.st != tt.want {
				t.Fatalf("status %+v, error %v; want %+v", r.st, r.err, tt.want)
			}
		})
	}
}

// gone waits until pid is no process any more (reaped by the server).
func gone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for unix.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRelayClientGone(t *testing.T) {
	ts := startServer(t, Config{})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sock, err := dial(ts.socket)
	if err != nil {
		t.Fatal(err)
	}
	frame, _ := encodeFrame(Request{Argv: []string{"sh", "-c", "echo $$; exec sleep 30"}})
	cwd, _ := openDir("")
	err = sendWithFDs(sock, frame, []int{int(devNull(t).Fd()), int(w.Fd()), 2, cwd})
	unix.Close(cwd)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		t.Fatalf("pid line %q: %v", line, err)
	}
	unix.Close(sock) // the client goes away
	if _, err := br.ReadString('\n'); err == nil {
		t.Fatal("more output")
	} // EOF: the command closed its stdout, it ended
	gone(t, pid)
	if log := ts.log.String(); !strings.Contains(log, "pid "+line[:len(line)-1]+": client gone") {
		t.Errorf("log:\n%s", log)
	}
}

func TestRelayStop(t *testing.T) {
	ts := startServer(t, Config{Grace: 300 * time.Millisecond})
	c := Client{Socket: ts.socket}
	_, polite := started(t, c, []string{"sh", "-c", "echo ready; exec sleep 30"})
	_, stubborn := started(t, c, []string{"sh", "-c", "trap '' TERM; echo ready; exec sleep 30"})
	if err := ts.stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if r := outcome(t, polite); r.err != nil || r.st != (Status{Signal: 15}) {
		t.Errorf("the command was not stopped by SIGTERM: %+v %v", r.st, r.err)
	}
	if r := outcome(t, stubborn); r.err != nil || r.st != (Status{Signal: 9}) {
		t.Errorf("the command ignoring SIGTERM was not killed: %+v %v", r.st, r.err)
	}
	if _, err := os.Lstat(ts.socket); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the socket is still there: %v", err)
	}
}

func TestRelaySocketFile(t *testing.T) {
	dir := shortTempDir(t)
	stale := filepath.Join(dir, "stale.sock")
	s, err := Listen(Config{Socket: stale, Log: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	s.ln.Close()
	regular := filepath.Join(dir, "file")
	os.WriteFile(regular, nil, 0o600)
	live := startServer(t, Config{})

	tests := []struct {
		name, socket string
		cfg          Config
		err          string // a part of Listen's error, "" for none
	}{
		{name: "new", socket: filepath.Join(dir, "new.sock")},
		{name: "stale socket replaced", socket: stale},
		{name: "not a socket", socket: regular, err: "exists and is not a socket"},
		{name: "live server", socket: live.socket, err: "another server is listening there"},
		{name: "no directory", socket: filepath.Join(dir, "none", "s.sock"), err: "no such file or directory"},
		{name: "bad command name", socket: filepath.Join(dir, "bad.sock"),
			cfg: Config{Commands: []string{"srun", "../sh"}}, err: `"../sh" is not a command name`},
		{name: "no socket", err: "no socket path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Socket, cfg.Log = tt.socket, &syncBuffer{}
			s, err := Listen(cfg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.stop()
			fi, err := os.Lstat(tt.socket)
			if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
				t.Errorf("socket %v, %v; want a socket, mode 0600", fi.Mode(), err)
			}
		})
	}
}

func TestRelayBadRequests(t *testing.T) {
	ts := startServer(t, Config{})
	good, _ := encodeFrame(Request{Argv: []string{"sh", "-c", "exit 0"}})
	empty, _ := encodeFrame(Request{})
	fds := openFDs(t)
	defer checkFDs(t, fds)
	tests := []struct {
		name  string
		frame []byte
		nfds  int
		want  string
	}{
		{"one fd", good, 1, "carina: relay: bad request: 1 fds attached, want 4"},
		{"no fds", good, 0, "carina: relay: bad request: 0 fds attached, want 4"},
		{"empty command", empty, 4, "carina: relay: bad request: empty command"},
		{"not JSON", append([]byte{0, 0, 0, 3}, "{x}"...), 4, "carina: relay: bad request: decoding a frame"},
		{"too long", []byte{0xff, 0, 0, 0}, 4, "carina: relay: bad request: frame of"},
		{"truncated", good[:len(good)-2], 4, "carina: relay: bad request: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock, err := dial(ts.socket)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(sock)
			fds := []int{0, 1, 2, 0}[:tt.nfds]
			if len(fds) > 0 {
				err = sendWithFDs(sock, tt.frame, fds)
			} else {
				err = writeAll(sock, tt.frame)
			}
			if err != nil {
				t.Fatal(err)
			}
			unix.Shutdown(sock, unix.SHUT_WR)
			var r Reply
			if err := readFrame(fdReader(sock), &r); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(r.Error, tt.want) {
				t.Errorf("reply %+v, want error %q", r, tt.want)
			}
		})
	}
}
