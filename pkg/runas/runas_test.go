package runas

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
}
