package mounts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/option"
)

func TestCheck(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	denied := filepath.Join(root, "denied")
	for _, d := range []string{data, denied} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(denied, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(data, filepath.Join(root, "ok-link")); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.DeniedMounts = []string{denied}
	for _, tc := range []struct {
		name, source, wantSource, wantErr string
	}{
		{"plain", data, data, ""},
		{"link resolved to what is mounted", filepath.Join(root, "ok-link"), data, ""},
		{"denied", denied, "", "denied by the site configuration"},
		{"denied through a link", filepath.Join(root, "link"), "", "denied by the site configuration"},
		{"missing", filepath.Join(root, "nope"), "", "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, checked, err := Check(c, []option.Mount{{Source: tc.source, Target: "/x"}, {Target: "/t", Tmpfs: true}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Check = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(ms) != 2 || ms[0].Source != tc.wantSource || len(checked) != 1 {
				t.Fatalf("Check = %+v, %+v, %v", ms, checked, err)
			}
		})
	}
}

// What was checked is what the container has: a source swapped after the
// check is caught. The test process stands in for the container (its
// /proc/PID/root is the host's root, so the target is the host path).
func TestVerifyCatchesASwap(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, checked, err := Check(config.Default(), []option.Mount{{Source: dir, Target: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(os.Getpid(), checked); err != nil {
		t.Fatalf("unchanged source: %v", err)
	}
	if err := os.Rename(dir, dir+".old"); err != nil || os.Mkdir(dir, 0o755) != nil {
		t.Fatal(err)
	}
	if err := Verify(os.Getpid(), checked); err == nil || !strings.Contains(err.Error(), "changed between the check and the mount") {
		t.Fatalf("swapped source: %v", err)
	}
}

func TestForNode(t *testing.T) {
	home := t.TempDir()
	site := t.TempDir()
	c := config.Default()
	c.DefaultMounts = []string{site + ":/site:ro"}
	ms, checked, err := ForNode(c, option.Spec{MountHome: true, Mounts: []option.Mount{{Source: home, Target: "/site"}}}, home)
	if err != nil {
		t.Fatal(err)
	}
	// The user's mount on /site replaces the site's default there; the
	// home directory is mounted at its own path.
	if len(ms) != 2 || ms[0].Source != home || ms[0].Target != "/site" || ms[1].Target != home || len(checked) != 1 {
		t.Fatalf("ForNode = %+v, %+v", ms, checked)
	}
	if _, _, err := ForNode(c, option.Spec{}, "/nonexistent-home"); err != nil {
		t.Fatalf("a missing home is skipped, not an error: %v", err)
	}
}

func TestHomeTarget(t *testing.T) {
	tests := []struct {
		name string
		spec option.Spec
		home string
		want string
	}{
		{"the user: at its own path", option.Spec{MountHome: true}, "/home/u", "/home/u"},
		{"remapped to root: at /root, as enroot does", option.Spec{MountHome: true, RemapRoot: true}, "/home/u", "/root"},
		{"not asked for", option.Spec{RemapRoot: true}, "/home/u", ""},
		{"no usable home in passwd", option.Spec{MountHome: true}, "relative", ""},
	}
	for _, tc := range tests {
		if got := HomeTarget(tc.spec, tc.home); got != tc.want {
			t.Errorf("%s: HomeTarget = %q, want %q", tc.name, got, tc.want)
		}
	}
	home := t.TempDir()
	ms, _, err := ForNode(config.Default(), option.Spec{MountHome: true, RemapRoot: true}, home)
	if err != nil || len(ms) != 1 || ms[0].Source != home || ms[0].Target != "/root" {
		t.Fatalf("ForNode with remap-root = %+v, %v", ms, err)
	}
}
