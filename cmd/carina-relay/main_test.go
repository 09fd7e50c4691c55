package main

// The real client: built static here as the Makefile builds it, run under
// the names of relayed commands (symlinks) against a server in this
// process.

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/carina-hpc/carina/pkg/relay"
)

// binDir holds the built client and its symlinks (mode 0755, so that
// another user may run them).
var binDir string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "carina-relay-test")
	if err == nil {
		defer os.RemoveAll(dir)
		err = os.Chmod(dir, 0o755)
	}
	if err == nil {
		err = build(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// build builds the client static into dir and links the test names to it.
func build(dir string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w",
		"-o", filepath.Join(dir, "carina-relay"), ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the client: %v\n%s", err, out)
	}
	for _, name := range []string{"sh", "ls", "pwd", "srun"} {
		if err := os.Symlink("carina-relay", filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// serve runs a server relaying sh and pwd on a socket in a directory
// every user may enter.
func serve(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "crt")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	var log bytes.Buffer
	s, err := relay.Listen(relay.Config{Socket: filepath.Join(dir, "relay.sock"),
		Commands: []string{"sh", "pwd"}, Path: "/usr/bin:/bin", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", log.String())
		}
	})
	return filepath.Join(dir, "relay.sock")
}

// client is the built client run as name with args, talking to socket.
func client(socket, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Env = []string{relay.SocketEnv + "=" + socket, "PATH=/nowhere", "LD_PRELOAD=/nope.so"}
	return cmd
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestRelayClientStatic(t *testing.T) {
	f, err := elf.Open(filepath.Join(binDir, "carina-relay"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("the client is dynamically linked (%v)", p.Type)
		}
	}
}

func TestRelayClient(t *testing.T) {
	socket := serve(t)
	cwd := t.TempDir()
	realCwd, _ := filepath.EvalSymlinks(cwd)
	tests := []struct {
		name     string
		argv     []string // argv[0]: a name in binDir
		socket   string   // "" for the server's
		dir      string
		stdin    string
		code     int
		stdout   string
		stderrRe string // the stderr's beginning
	}{
		{name: "exit status", argv: []string{"sh", "-c", "exit 7"}, code: 7},
		{name: "stdio", argv: []string{"sh", "-c", "cat; echo err >&2"}, stdin: "in\n", stdout: "in\n", stderrRe: "err\n"},
		{name: "environment", argv: []string{"sh", "-c", `echo "$PATH ${LD_PRELOAD-none} $CARINA_RELAYED"`},
			stdout: "/usr/bin:/bin none 1\n"},
		{name: "working directory", argv: []string{"pwd", "-P"}, dir: cwd, stdout: realCwd + "\n"},
		{name: "killed", argv: []string{"sh", "-c", "kill -TERM $$"}, code: 143},
		{name: "run", argv: []string{"carina-relay", "run", "/x/sh", "-c", "echo $0"}, stdout: "sh\n"},
		{name: "not relayed", argv: []string{"ls"}, code: 127, stderrRe: "carina: relay: ls: not a relayed command\n"},
		{name: "not relayed, run", argv: []string{"carina-relay", "run", "srun"}, code: 127,
			stderrRe: "carina: relay: srun: not a relayed command\n"},
		{name: "no server", argv: []string{"sh", "-c", "true"}, socket: "/nonexistent/relay.sock", code: 127,
			stderrRe: "carina: relay: cannot reach the host side at /nonexistent/relay.sock: connect: no such file or directory\n"},
		{name: "usage", argv: []string{"carina-relay"}, code: 2, stderrRe: "usage: carina-relay"},
		{name: "bad usage", argv: []string{"carina-relay", "pause"}, code: 2, stderrRe: "usage: carina-relay"},
		{name: "run nothing", argv: []string{"carina-relay", "run"}, code: 2, stderrRe: "usage: carina-relay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := socket
			if tt.socket != "" {
				s = tt.socket
			}
			cmd := client(s, tt.argv[0], tt.argv[1:]...)
			cmd.Dir, cmd.Stdin = tt.dir, strings.NewReader(tt.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			code := exitCode(cmd.Run())
			if code != tt.code || stdout.String() != tt.stdout || !strings.HasPrefix(stderr.String(), tt.stderrRe) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q...",
					code, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderrRe)
			}
			if tt.stderrRe == "" && stderr.Len() > 0 {
				t.Errorf("stderr %q", stderr.String())
			}
		})
	}
}

func TestRelayClientEnv0(t *testing.T) {
	cmd := exec.Command(filepath.Join(binDir, "carina-relay"), "env0")
	cmd.Env = []string{"A=1", "B=x=y", "C=", "D=two\nlines"}
	out, err := cmd.Output()
	if want := "A=1\x00B=x=y\x00C=\x00D=two\nlines\x00"; err != nil || string(out) != want {
		t.Fatalf("%q, %v; want %q", out, err, want)
	}
}

// startReady starts cmd with a pipe as stdout and waits for the relayed
// command's first line.
func startReady(t *testing.T, cmd *exec.Cmd) (string, *bufio.Reader) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("the first line: %v", err)
	}
	return strings.TrimSpace(line), br
}

// waitTimeout waits for cmd for at most 10 s.
func waitTimeout(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the client did not end")
		return nil
	}
}

func TestRelayClientSignal(t *testing.T) {
	socket := serve(t)
	cmd := client(socket, "sh", "-c", "echo ready; exec sleep 30")
	startReady(t, cmd)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCode(waitTimeout(t, cmd)); code != 143 {
		t.Fatalf("exit %d, want 143", code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestRelayClientKilled(t *testing.T) {
	socket := serve(t)
	cmd := client(socket, "sh", "-c", "echo $$; exec sleep 30")
	line, br := startReady(t, cmd)
	pid, err := strconv.Atoi(line)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	waitTimeout(t, cmd)
	// The pipe ends when its last writer, the command, is gone.
	if rest, err := br.ReadString('\n'); rest != "" || err == nil {
		t.Fatalf("more output %q", rest)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil { // not reaped yet
		if time.Now().After(deadline) {
			t.Fatalf("the command, pid %d, still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRelayClientOtherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to run the client as another user")
	}
	socket := serve(t)
	os.Chmod(socket, 0o666) // let the connection reach the uid check
	cmd := client(socket, "sh", "-c", "exit 0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	code := exitCode(cmd.Run())
	if want := "carina: relay: permission denied\n"; code != 127 || stderr.String() != want {
		t.Fatalf("exit %d, stderr %q; want 127, %q", code, stderr.String(), want)
	}
}
