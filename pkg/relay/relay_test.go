package relay

// End-to-end through an in-process server and the client library: status,
// standard fds, working directory, environment, refusals.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRelayCommands(t *testing.T) {
	ts := startServer(t, Config{})
	cwd := t.TempDir()
	realCwd, err := filepath.EvalSymlinks(cwd)
	if err != nil {
		t.Fatal(err)
	}
	fds := openFDs(t)
	baseEnv := []string{"FOO=bar", "EMPTY=", "PATH=/container/bin", "LD_PRELOAD=/nope.so",
		"LD_LIBRARY_PATH=/container/lib", "LD_AUDIT=/nope-audit.so", "CARINA_RELAYED=0"}

	tests := []struct {
		name    string
		argv    []string
		stdin   string
		dir     string
		want    Status
		stdout  string
		stderr  string
		refused string               // the server's error line, when refused
		check   func(r result) error // more checks on the result
	}{
		{name: "exit status", argv: []string{"sh", "-c", "exit 7"}, want: Status{Exit: 7}},
		{name: "success", argv: []string{"sh", "-c", "true"}, want: Status{Exit: 0}},
		{name: "stdin to stdout", argv: []string{"cat"}, stdin: "hello\nworld\n", stdout: "hello\nworld\n"},
		{name: "stderr", argv: []string{"sh", "-c", "echo oops >&2; exit 3"}, want: Status{Exit: 3}, stderr: "oops\n"},
		{name: "arguments", argv: []string{"sh", "-c", `printf '%s|' "$@"`, "x", "a b", "", "*"}, stdout: "a b||*|"},
		{name: "bytes that are not UTF-8", argv: []string{"sh", "-c", `printf '%s|' "$@"`, "x", "caf\xe9", "\xff\xfe"},
			stdout: "caf\xe9|\xff\xfe|"},
		{name: "argv0 is the basename", argv: []string{"/container/bin/sh", "-c", "echo $0"}, stdout: "sh\n"},
		{name: "killed by a signal", argv: []string{"sh", "-c", "kill -KILL $$"}, want: Status{Signal: 9}},
		{name: "the very same files", argv: []string{"sh", "-c", "readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2"},
			check: func(r result) error {
				if got := lines(r.stdout); !slices.Equal(got, r.files[:]) {
					return errors.New("the command's fds are not the client's files: " + strings.Join(got, " "))
				}
				return nil
			}},
		{name: "working directory", argv: []string{"pwd", "-P"}, dir: cwd, stdout: realCwd + "\n"},
		{name: "working directory gone", argv: []string{"pwd", "-P"}, dir: filepath.Join(cwd, "gone"), stdout: "/\n"},
		{name: "environment", argv: []string{"env"},
			check: func(r result) error {
				got := lines(r.stdout)
				for _, want := range []string{"FOO=bar", "EMPTY=", "PATH=" + testPath, "CARINA_RELAYED=1"} {
					if !slices.Contains(got, want) {
						return errors.New("no " + want + " in the environment")
					}
				}
				for _, kv := range got {
					if strings.HasPrefix(kv, "LD_") || kv == "PATH=/container/bin" || kv == "CARINA_RELAYED=0" {
						return errors.New(kv + " was passed on")
					}
				}
				if strings.Contains(r.stderr, "nope") {
					return errors.New("LD_PRELOAD reached the loader: " + r.stderr)
				}
				return nil
			}},
		{name: "not relayed", argv: []string{"ls", "/"}, refused: "carina: relay: ls: not a relayed command"},
		{name: "no path tricks", argv: []string{"../../bin/ls"}, refused: "carina: relay: ls: not a relayed command"},
		{name: "not on the host", argv: []string{"carina-no-such-command"},
			refused: "carina: relay: carina-no-such-command: not found on the host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runClient(t, ts.socket, tt.argv, baseEnv, tt.stdin, tt.dir)
			if tt.refused != "" {
				var re *RefusedError
				if !errors.As(r.err, &re) || re.Message != tt.refused {
					t.Fatalf("error %v, want refusal %q", r.err, tt.refused)
				}
				if got := "carina: " + r.err.Error(); got != tt.refused {
					t.Errorf("printed as %q, want %q", got, tt.refused)
				}
				return
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.st != tt.want {
				t.Errorf("status %+v, want %+v", r.st, tt.want)
			}
			if tt.check == nil && r.stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", r.stdout, tt.stdout)
			}
			if r.stderr != tt.stderr {
				t.Errorf("stderr %q, want %q", r.stderr, tt.stderr)
			}
			if tt.check != nil {
				if err := tt.check(r); err != nil {
					t.Error(err)
				}
			}
		})
	}
	checkFDs(t, fds)
	if log := ts.log.String(); !strings.Contains(log, "relay: sh pid ") || !strings.Contains(log, "exited with status 7") {
		t.Errorf("the log lacks the commands:\n%s", log)
	}
}

func TestRelayUnreachable(t *testing.T) {
	dir := shortTempDir(t)
	stale := filepath.Join(dir, "stale.sock")
	s, err := Listen(Config{Socket: stale, Log: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	s.ln.Close() // a socket file nobody listens on
	for _, socket := range []string{filepath.Join(dir, "none.sock"), stale, dir} {
		t.Run(filepath.Base(socket), func(t *testing.T) {
			c := Client{Socket: socket, Files: []int{0, 1, 2}}
			_, err := c.Run([]string{"sh", "-c", "exit 0"}, os.Environ())
			want := "relay: cannot reach the host side at " + socket + ": connect: "
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("error %v, want %q...", err, want)
			}
		})
	}
}

func TestRelayLargeRequest(t *testing.T) {
	ts := startServer(t, Config{})
	env := []string{}
	for i := range 12 { // 1.2 MB: more than one socket buffer
		env = append(env, fmt.Sprintf("BIG%d=%s", i, strings.Repeat("x", 100000)))
	}
	r := runClient(t, ts.socket, []string{"sh", "-c", `echo ${#BIG11} $(env | grep -c ^BIG)`}, env, "", "")
	if r.err != nil || r.st != (Status{}) || r.stdout != "100000 12\n" {
		t.Fatalf("status %+v, error %v, stdout %q", r.st, r.err, r.stdout)
	}
}
