package relay

// Test helpers: an in-process server on a socket in a temporary directory,
// and a client run with temporary files as its standard fds.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCommands are the commands the test servers relay.
var testCommands = []string{"sh", "cat", "pwd", "sleep", "env", "carina-no-such-command"}

// testPath is where the test servers look commands up.
const testPath = "/usr/bin:/bin"

// syncBuffer is a bytes.Buffer safe for the server's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// shortTempDir is a temporary directory whose paths fit a socket address
// (108 bytes).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if len(dir) < 80 {
		return dir
	}
	dir, err := os.MkdirTemp("/tmp", "relay")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// testServer is a server running in this process.
type testServer struct {
	socket string
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startServer starts a server with cfg (Socket, Commands, Path and Log
// filled in when unset) and stops it at the end of the test.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if cfg.Socket == "" {
		cfg.Socket = filepath.Join(shortTempDir(t), "relay.sock")
	}
	if cfg.Commands == nil {
		cfg.Commands = testCommands
	}
	if cfg.Path == "" {
		cfg.Path = testPath
	}
	ts := &testServer{socket: cfg.Socket, log: &syncBuffer{}, done: make(chan error, 1)}
	cfg.Log = ts.log
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ctx context.Context
	ctx, ts.cancel = context.WithCancel(context.Background())
	go func() { ts.done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Error(err)
		}
		if !waitFor(func() bool { return serverGoroutines() == "" }) {
			t.Errorf("goroutines left after the server stopped:\n%s", serverGoroutines())
		}
		if t.Failed() {
			t.Logf("server log:\n%s", ts.log)
		}
	})
	return ts
}

// stop stops the server and returns Serve's error; later calls return nil.
func (ts *testServer) stop() error {
	ts.cancel()
	select {
	case err, ok := <-ts.done:
		if ok {
			close(ts.done)
		}
		return err
	case <-time.After(15 * time.Second):
		return os.ErrDeadlineExceeded
	}
}

// result is what runClient saw.
type result struct {
	st             Status
	err            error
	stdout, stderr string
	files          [3]string // the paths of the standard files
}

// runClient relays argv with env from dir, with a file holding stdin as
// stdin and files as stdout and stderr.
func runClient(t *testing.T, socket string, argv, env []string, stdin, dir string) result {
	t.Helper()
	tmp := t.TempDir()
	var res result
	var files [3]*os.File
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(map[bool]string{true: stdin}[i == 0]), 0o600); err != nil {
			t.Fatal(err)
		}
		flag := os.O_RDONLY
		if i > 0 {
			flag = os.O_WRONLY | os.O_APPEND
		}
		f, err := os.OpenFile(p, flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i], res.files[i] = f, p
	}
	c := Client{Socket: socket, Dir: dir,
		Files: []int{int(files[0].Fd()), int(files[1].Fd()), int(files[2].Fd())}}
	res.st, res.err = c.Run(argv, env)
	out, _ := os.ReadFile(res.files[1])
	errOut, _ := os.ReadFile(res.files[2])
	res.stdout, res.stderr = string(out), string(errOut)
	return res
}

// lines splits s into its lines.
func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// waitFor polls cond for up to 5 s; it reports whether cond became true.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// serverGoroutines returns the stacks of the goroutines running server
// code.
func serverGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "relay.(*Server)") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// openFDs counts this process's open fds.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// checkFDs fails t unless the count of open fds gets back to base.
func checkFDs(t *testing.T, base int) {
	t.Helper()
	if !waitFor(func() bool { return openFDs(t) <= base }) {
		out, _ := exec.Command("ls", "-l", fmt.Sprintf("/proc/%d/fd", os.Getpid())).Output()
		t.Errorf("%d fds open, %d before:\n%s", openFDs(t), base, out)
	}
}
