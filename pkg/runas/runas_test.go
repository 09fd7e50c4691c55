package runas

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/carina-hpc/carina/pkg/request"
	"golang.org/x/sys/unix"
)

func self(t *testing.T) User {
	t.Helper()
	return User{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Name: "tester", Home: t.TempDir()}
}

// These tests run /bin/sh as the current user: no fake podman is involved.
func TestOutput(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		want    string
		wantErr string
	}{
		{"stdout returned", "echo ok", 0, "ok\n", ""},
		{"clean env", `echo "$HOME:$USER:$SECRET"`, 0, "", ""},
		{"carina line reported", "echo noise >&2; echo 'carina: image not found' >&2; echo more >&2; exit 3", 0, "", "carina: image not found"},
		{"other failure reported with tail", "echo boom >&2; exit 4", 0, "", "exit status 4: boom"},
		{"timeout kills the group", "sleep 30 & sleep 30", 300 * time.Millisecond, "", "did not finish within"},
	}
	os.Setenv("SECRET", "leaked")
	defer os.Unsetenv("SECRET")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := self(t)
			start := time.Now()
			out, err := Cmd{Path: "/bin/sh", Args: []string{"-c", tc.script}, As: u, Timeout: tc.timeout}.Output(context.Background())
			if time.Since(start) > 10*time.Second {
				t.Fatalf("took %s", time.Since(start))
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if tc.name == "clean env" {
				want = u.Home + ":tester:\n"
			}
			if string(out) != want {
				t.Fatalf("out = %q, want %q", out, want)
			}
		})
	}
}

func TestSelfKeepsEnvironmentAndShowsProgress(t *testing.T) {
	os.Setenv("CARINA_TEST_MARK", "kept")
	defer os.Unsetenv("CARINA_TEST_MARK")
	var progress strings.Builder
	out, err := Cmd{Path: "/bin/sh", Args: []string{"-c", "echo step >&2; echo $CARINA_TEST_MARK"}, Self: true,
		Progress: &progress}.Output(context.Background())
	if err != nil || string(out) != "kept\n" || progress.String() != "step\n" {
		t.Fatalf("out=%q progress=%q err=%v", out, progress.String(), err)
	}
}

func TestUserDir(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create directories owned by another uid")
	}
	base := filepath.Join(t.TempDir(), "carina")
	u := User{UID: 4242, GID: 4242}
	dir := filepath.Join(base, "n1", "4242")
	if err := UserDir(base, dir, u); err != nil {
		t.Fatal(err)
	}
	if err := checkDir(dir, 4242); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if err := UserDir(base, dir, u); err != nil {
		t.Fatalf("second call: %v", err)
	}
	// Another user's directory is refused.
	if err := UserDir(base, dir, User{UID: 5000, GID: 5000}); err == nil {
		t.Fatal("accepted a directory owned by another uid")
	}
	// A symlink planted in place of the leaf is refused.
	evil := filepath.Join(base, "n1", "5001")
	if err := os.Symlink("/etc", evil); err != nil {
		t.Fatal(err)
	}
	if err := UserDir(base, evil, User{UID: 5001, GID: 5001}); err == nil {
		t.Fatal("accepted a symlink")
	}
	if err := UserDir(base, "/etc/x", u); err == nil {
		t.Fatal("accepted a directory outside base")
	}
	// Under a shared sticky parent (a scratch filesystem's 1777 store
	// base), a directory another user made first is refused, not adopted;
	// one the user made is taken.
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(shared, 0o777); err != nil || syscall.Chmod(shared, 0o1777) != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(shared, "4242"), 0o700); err != nil || os.Chown(filepath.Join(shared, "4242"), 5000, 5000) != nil {
		t.Fatal(err)
	}
	if err := UserDir(shared, filepath.Join(shared, "4242"), u); err == nil || !strings.Contains(err.Error(), "someone else") {
		t.Fatalf("adopted another user's pre-created directory: %v", err)
	}
	if err := UserDir(shared, filepath.Join(shared, "4243"), User{UID: 4243, GID: 4243}); err != nil {
		t.Fatal(err)
	}
	// A parent everyone may write that is not sticky is refused.
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil || os.Chmod(open, 0o777) != nil {
		t.Fatal(err)
	}
	if err := UserDir(open, filepath.Join(open, "4242"), u); err == nil {
		t.Fatal("accepted a world-writable parent that is not sticky")
	}
}

// An inheritable descriptor of the caller (slurmstepd holds such) never
// reaches the helper, and stays inheritable for the caller afterwards.
func TestNoDescriptorReachesTheHelper(t *testing.T) {
	fd, err := syscall.Open(os.DevNull, syscall.O_RDONLY, 0) // no O_CLOEXEC, as in slurmstepd
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	out, err := Cmd{Path: "/bin/sh", Args: []string{"-c", "ls /proc/$$/fd"}, Self: true}.Output(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(out))
	for _, f := range got {
		if n, _ := strconv.Atoi(f); n > 2 && n != 255 { // 255: a shell's own script descriptor
			t.Errorf("the helper inherited descriptor %s (has %v)", f, got)
		}
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC != 0 {
		t.Errorf("descriptor %d lost its inheritable flag (flags %d, %v)", fd, flags, err)
	}
}

// Call sends one JSON request on stdin and reads one reply; a helper that
// fails with an error reply gives that error, prefixed once.
func TestCall(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
	}{
		{"reply", `cat >/dev/null; echo '{"image":"pinned"}'`, ""},
		{"error reply", `cat >/dev/null; echo '{"error":{"message":"image x: not found"}}'; exit 1`, "carina: image x: not found"},
		{"no reply", `echo 'carina: died early' >&2; exit 3`, "carina: the helper gave no reply (exit status 3): died early"},
		{"echo request kind", `grep -q '"kind":"resolve"' && echo '{"image":"ok"}'`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			helper := dir + "/helper"
			if err := os.WriteFile(helper, []byte("#!/bin/sh\n[ \"$1\" = plugin ] || exit 9\n"+tc.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			rep, err := Cmd{Path: helper, Self: true}.Call(context.Background(),
				request.Request{Kind: request.KindResolve, Resolve: &request.Resolve{Image: "x"}})
			if tc.want == "" {
				if err != nil || rep.Image == "" {
					t.Fatalf("Call = %+v, %v", rep, err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Call error = %v, want %q", err, tc.want)
			}
		})
	}
}

// Nodes making the same user's directory at once all get it: none sees
// it half made (root's, before its chown) and refuses it.
func TestUserDirConcurrent(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create directories owned by another uid")
	}
	for round := 0; round < 20; round++ {
		base := filepath.Join(t.TempDir(), "store")
		dir := filepath.Join(base, "4242")
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			go func() { errs <- UserDir(base, dir, User{UID: 4242, GID: 4242}) }()
		}
		for i := 0; i < 8; i++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ents, _ := os.ReadDir(base); len(ents) != 1 {
			t.Fatalf("round %d: temporaries left: %v", round, ents)
		}
	}
}
