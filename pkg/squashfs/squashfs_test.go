package squashfs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/plan"
)

// fakeUnsharer records the commands it is asked to run in podman's
// namespaces instead of running them; fail makes each one fail.
type fakeUnsharer struct {
	calls [][]string
	fail  bool
}

func (f *fakeUnsharer) Unshare(_ context.Context, args ...string) error {
	f.calls = append(f.calls, args)
	if f.fail {
		return errors.New("podman unshare: exit status 1: fuse: device not found")
	}
	return nil
}

func TestPath(t *testing.T) {
	dir := t.TempDir()
	sqsh := filepath.Join(dir, "image.sqsh")
	if err := os.WriteFile(sqsh, []byte("hsqs and then the rest"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ src, want string }{
		{"file:" + sqsh, sqsh},
		{"docker://r.example/a:1", ""},
		{"r.example/a:1", ""},
		{"oci-archive:" + sqsh, ""}, // an archive transport is imported, whatever the file holds
	} {
		if got, err := Path(tc.src); err != nil || got != tc.want {
			t.Errorf("Path(%q) = %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
	if _, err := Path("file:" + filepath.Join(dir, "missing.sqsh")); err == nil {
		t.Error("a missing file is no error")
	}
}

func TestMountUnmount(t *testing.T) {
	d := plan.Dirs{Run: t.TempDir()}
	u := &fakeUnsharer{}
	rootfs, err := Mount(context.Background(), u, d, "carina-7-n1-abc", "/images/a.sqsh")
	mnt := filepath.Join(d.Run, "squash", "carina-7-n1-abc")
	if err != nil || rootfs != mnt+":O" {
		t.Fatalf("Mount = %q, %v", rootfs, err)
	}
	if fi, err := os.Stat(mnt); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("mount point: %v, %v", fi, err)
	}
	Unmount(context.Background(), u, d, "carina-7-n1-abc")
	want := [][]string{{"squashfuse", "-o", "ro", "/images/a.sqsh", mnt}, {"umount", mnt}}
	if !reflect.DeepEqual(u.calls, want) {
		t.Errorf("calls = %q, want %q", u.calls, want)
	}
	if _, err := os.Stat(mnt); !os.IsNotExist(err) {
		t.Errorf("the mount point is left: %v", err)
	}
	// Nothing mounted: nothing to undo.
	Unmount(context.Background(), u, d, "carina-7-n1-abc")
	if len(u.calls) != 2 {
		t.Errorf("unmounted what was not mounted: %q", u.calls)
	}

	failing := &fakeUnsharer{fail: true}
	if _, err := Mount(context.Background(), failing, d, "c", "/images/a.sqsh"); err == nil ||
		err.Error() != "mounting /images/a.sqsh: podman unshare: exit status 1: fuse: device not found" {
		t.Errorf("failed mount: %v", err)
	}
	if _, err := os.Stat(MountPoint(d, "c")); !os.IsNotExist(err) {
		t.Errorf("a failed mount left its mount point: %v", err)
	}
}

// TestKillLeftovers starts two stand-ins for squashfuse (a shell named
// squashfuse, blocked reading a pipe, with a mount point among its
// arguments): one on this runtime directory, which is killed, one on
// another, which is left alone.
func TestKillLeftovers(t *testing.T) {
	d, other := plan.Dirs{Run: t.TempDir()}, plan.Dirs{Run: t.TempDir()}
	start := func(d plan.Dirs) (*exec.Cmd, chan error) {
		cmd := &exec.Cmd{Path: "/bin/sh", Args: []string{"squashfuse", "-c", "read x", MountPoint(d, "c")}}
		if _, err := cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return cmd, done
	}
	_, mine := start(d)
	theirs, left := start(other)
	defer func() { _ = theirs.Process.Kill(); <-left }()

	KillLeftovers(d)
	select {
	case err := <-mine:
		if err == nil || err.Error() != "signal: killed" {
			t.Errorf("the leftover ended with %v, want signal: killed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the leftover squashfuse of this runtime directory still runs")
	}
	select {
	case err := <-left:
		t.Fatalf("the squashfuse of another runtime directory was killed: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestRootfsConfig(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(root, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := rootfsConfig(root); !reflect.DeepEqual(got, image.Pulled{Workdir: "/",
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}) {
		t.Errorf("nothing written by enroot: %+v", got)
	}
	write("etc/environment", "# enroot\nexport PATH=\"/opt/bin:/bin\"\nLANG='C.UTF-8'\n\nnot a variable\n=empty\n")
	write("etc/rc", "#!/bin/sh\ncd \"/srv/work/../data\" && exec \"$@\"\ncd /not-this\n")
	want := image.Pulled{Workdir: "/srv/data", Env: []string{"PATH=/opt/bin:/bin", "LANG=C.UTF-8"}}
	if got := rootfsConfig(root); !reflect.DeepEqual(got, want) {
		t.Errorf("rootfsConfig = %+v, want %+v", got, want)
	}
	write("etc/rc", "cd relative\n")
	if got := rootfsConfig(root); got.Workdir != "/" {
		t.Errorf("a relative cd gave workdir %q", got.Workdir)
	}
	if got := RootfsConfig(os.Getpid()); got.Workdir == "" || len(got.Env) == 0 {
		t.Errorf("RootfsConfig of this process = %+v", got)
	}
}
