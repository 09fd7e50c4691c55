package relay

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain lets Start run this test binary as the relay server, as the
// helper runs itself: `relay.test relay serve --socket S --path P`.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "relay" && os.Args[2] == "serve" {
		fs := flag.NewFlagSet("relay serve", flag.ExitOnError)
		socket := fs.String("socket", "", "")
		path := fs.String("path", "", "")
		_ = fs.Parse(os.Args[3:])
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := Serve(ctx, Config{Socket: *socket, Path: *path}); err != nil {
			os.Stderr.WriteString("carina: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestHostStartStop(t *testing.T) {
	run := t.TempDir()
	vols, err := Prepare(run, "carina-7-n1-abc", "/usr/local/lib/carina/bin")
	dir := filepath.Join(run, "relay", "carina-7-n1-abc")
	want := []string{"/usr/local/lib/carina/bin:/.carina/bin:ro", dir + ":/.carina/run"}
	if err != nil || !reflect.DeepEqual(vols, want) {
		t.Fatalf("Prepare = %q, %v; want %q", vols, err, want)
	}
	if Running(run, "carina-7-n1-abc") {
		t.Fatal("running before it was started")
	}
	if err := Start(run, "carina-7-n1-abc"); err != nil {
		t.Fatal(err)
	}
	pid := livePid(run, "carina-7-n1-abc")
	if pid <= 0 || !Running(run, "carina-7-n1-abc") {
		t.Fatal("not running after Start")
	}
	reap(pid)
	if sid, _ := unix.Getsid(pid); sid != pid {
		t.Errorf("the server's session is %d, want its own (%d)", sid, pid)
	}
	// Its socket answers: a command it does not relay is refused.
	if _, err := Call(filepath.Join(dir, "relay.sock"), []string{"no-such-command"}, nil, nil); err == nil {
		t.Error("the server relayed a command it was not given")
	}

	// A kept container's relay stops but keeps its directory.
	Stop(run, "carina-7-n1-abc", true)
	if Running(run, "carina-7-n1-abc") || syscall.Kill(pid, 0) == nil {
		t.Fatal("still running after Stop")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("Stop with keepDir removed the directory: %v", err)
	}
	if err := PrepareDir(run, "carina-7-n1-abc"); err != nil {
		t.Fatal(err)
	}
	if err := Start(run, "carina-7-n1-abc"); err != nil {
		t.Fatalf("starting again: %v", err)
	}
	reap(livePid(run, "carina-7-n1-abc"))
	Stop(run, "carina-7-n1-abc", false)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Stop left the directory: %v", err)
	}
	// A pid file naming a process that is no relay server is ignored.
	if err := PrepareDir(run, "c2"); err != nil {
		t.Fatal(err)
	}
	if err := writePid(filepath.Join(Dir(run, "c2"), "pid"), os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if Running(run, "c2") {
		t.Fatal("the test process counts as a relay server")
	}
}

// reap waits for the server in the background, as init does once the
// helper that started it has exited: Start releases it, and a zombie would
// answer Stop's kill(pid, 0) until its 7 s are up.
func reap(pid int) {
	go func() {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, 0, nil)
	}()
}

// fakeExec stands in for podman exec: it records the call, and as the
// entrypoint's command (the relay client's env0) would, writes env into
// the relay directory; out and err are what the exec returns.
type fakeExec struct {
	run, name string
	env       []string // nil: the entrypoint does not run its command
	out       string
	err       error
	argv      []string
}

func (f *fakeExec) Exec(_ context.Context, name string, _, argv []string) (string, error) {
	f.argv = argv
	if f.env != nil {
		if err := os.WriteFile(filepath.Join(Dir(f.run, name), "entrypoint.env"),
			[]byte(strings.Join(f.env, "\x00")+"\x00"), 0o600); err != nil {
			return "", err
		}
	}
	return f.out, f.err
}

func TestRunEntrypoint(t *testing.T) {
	tests := []struct {
		name    string
		ex      fakeExec
		vars    []string
		err     string
		wantOut string
	}{
		{name: "environment captured, podman exec's own left out",
			ex: fakeExec{env: []string{"PATH=/opt/bin:/bin", "HOME=/root", "TERM=xterm", "container=podman",
				"HOSTNAME=n1", "CONDA_PREFIX=/opt/conda", "EMPTY="}, out: "activating\n"},
			vars: []string{"PATH=/opt/bin:/bin", "CONDA_PREFIX=/opt/conda", "EMPTY="}, wantOut: "activating\n"},
		{name: "entrypoint fails", ex: fakeExec{out: "setting up\nno such file: /opt/init\n", err: errors.New("exit status 2")},
			err:     `the image's entrypoint "/entry.sh --init" failed (exit status 2): no such file: /opt/init; run with --no-container-entrypoint to skip it`,
			wantOut: "setting up\nno such file: /opt/init\n"},
		{name: "entrypoint does not exec its command", ex: fakeExec{out: "done\n"},
			err: `the image's entrypoint "/entry.sh --init" did not run its command (exec "$@")`, wantOut: "done\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := t.TempDir()
			if err := PrepareDir(run, "c"); err != nil {
				t.Fatal(err)
			}
			ex := tc.ex
			ex.run = run
			vars, out, err := RunEntrypoint(context.Background(), &ex, run, "c", []string{"/entry.sh", "--init"}, []string{"A=1"})
			wantArgv := []string{"/entry.sh", "--init", "/.carina/bin/carina-relay", "env0", "/.carina/run/entrypoint.env"}
			if !reflect.DeepEqual(ex.argv, wantArgv) {
				t.Errorf("argv = %q, want %q", ex.argv, wantArgv)
			}
			if out != tc.wantOut {
				t.Errorf("output = %q, want %q", out, tc.wantOut)
			}
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(vars, tc.vars) {
				t.Fatalf("RunEntrypoint = %q, %v; want %q", vars, err, tc.vars)
			}
			if _, err := os.Stat(filepath.Join(Dir(run, "c"), "entrypoint.env")); !os.IsNotExist(err) {
				t.Errorf("the environment file is left: %v", err)
			}
		})
	}
}
