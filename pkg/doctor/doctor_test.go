package doctor

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/carina-hpc/carina/pkg/config"
)

// fakeInfo is a file of the fake host.
type fakeInfo struct {
	mode fs.FileMode
}

func (f fakeInfo) Name() string       { return "" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return nil }

// node is a fake host that has everything a node needs: the checks run
// against it, not against this machine.
func node() (map[string]fs.FileMode, map[string]string, map[string]string) {
	d := config.Default()
	files := map[string]fs.FileMode{
		"/usr/local/lib/carina/spank_carina.so": 0o755,
		d.Helper:                                0o755,
		d.Podman:                                0o755,
		d.InitPath:                              0o755,
		"/dev/fuse":                             fs.ModeDevice | fs.ModeCharDevice | 0o666,
		"/usr/bin/fusermount3":                  fs.ModeSetuid | 0o755,
		"/run":                                  fs.ModeDir | 0o755,
		"/var/lib":                              fs.ModeDir | 0o755,
	}
	content := map[string]string{
		"/etc/slurm/plugstack.conf": "# site plugins\nrequired /usr/local/lib/carina/spank_carina.so\n",
		"/etc/subuid":               "other:200000:65536\nu:100000:65536\n",
		"/etc/subgid":               "1001:100000:65536\n",
	}
	path := map[string]string{"runc": "/usr/sbin/runc", "squashfuse_ll": "/usr/bin/squashfuse_ll",
		"mksquashfs": "/usr/bin/mksquashfs", "fusermount3": "/usr/bin/fusermount3"}
	return files, content, path
}

func host(files map[string]fs.FileMode, content, path map[string]string) Host {
	return Host{
		LookPath: func(n string) (string, error) {
			if p, ok := path[n]; ok {
				return p, nil
			}
			return "", errors.New("not found")
		},
		Stat: func(p string) (fs.FileInfo, error) {
			if m, ok := files[p]; ok {
				return fakeInfo{m}, nil
			}
			if _, ok := content[p]; ok {
				return fakeInfo{0o644}, nil
			}
			return nil, fs.ErrNotExist
		},
		ReadFile: func(p string) ([]byte, error) {
			if c, ok := content[p]; ok {
				return []byte(c), nil
			}
			return nil, fs.ErrNotExist
		},
		Glob:    func(string) ([]string, error) { return nil, nil },
		Version: func(p string) (string, error) { return p + " version 1", nil },
	}
}

func TestRun(t *testing.T) {
	u := User{Name: "u", UID: 1001}
	tests := []struct {
		name   string
		change func(files map[string]fs.FileMode, content, path map[string]string)
		failed string // the one check that fails, "" for none
		fix    string // in its fix
	}{
		{"a node with everything", func(map[string]fs.FileMode, map[string]string, map[string]string) {}, "", ""},
		{"no plugstack line", func(_ map[string]fs.FileMode, c, _ map[string]string) { c["/etc/slurm/plugstack.conf"] = "# none\n" },
			"plugstack line", "required /usr/local/lib/carina/spank_carina.so"},
		{"a plugstack line through an include", func(_ map[string]fs.FileMode, c, _ map[string]string) {
			c["/etc/slurm/plugstack.conf"] = "include /etc/slurm/plugstack.conf.d/*.conf\n"
		}, "plugstack line", "restart slurmd"},
		{"users cannot open /dev/fuse", func(f map[string]fs.FileMode, _, _ map[string]string) {
			f["/dev/fuse"] = fs.ModeDevice | fs.ModeCharDevice | 0o600
		}, "/dev/fuse", "chmod 0666 /dev/fuse"},
		{"no subordinate uids for the user", func(_ map[string]fs.FileMode, c, _ map[string]string) { c["/etc/subuid"] = "u:100000:1000\n" },
			"/etc/subuid", "usermod --add-subuids"},
		{"no OCI runtime", func(_ map[string]fs.FileMode, _, p map[string]string) { delete(p, "runc") }, "OCI runtime", "apt install runc"},
		{"no squashfuse", func(_ map[string]fs.FileMode, _, p map[string]string) { delete(p, "squashfuse_ll") }, "squashfuse", "apt install squashfuse"},
		{"fusermount not setuid", func(f map[string]fs.FileMode, _, _ map[string]string) { f["/usr/bin/fusermount3"] = 0o755 },
			"fusermount", "chmod u+s"},
		{"helper writable by others", func(f map[string]fs.FileMode, _, _ map[string]string) { f[config.Default().Helper] = 0o777 },
			"helper", "chmod go-w"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, content, path := node()
			tc.change(files, content, path)
			rs := Run(host(files, content, path), Input{Plugstack: "/etc/slurm/plugstack.conf", User: u})
			var failed []Result
			for _, r := range rs {
				if !r.OK() {
					failed = append(failed, r)
				}
			}
			if tc.failed == "" {
				if len(failed) != 0 {
					t.Fatalf("failed: %+v", failed)
				}
				return
			}
			if len(failed) != 1 || failed[0].Name != tc.failed || !strings.Contains(failed[0].Fix, tc.fix) {
				t.Fatalf("failed = %+v, want only %q with a fix holding %q", failed, tc.failed, tc.fix)
			}
		})
	}
}

func TestSharedStore(t *testing.T) {
	files, content, path := node()
	c := config.Default()
	c.ImageStore = "/shared/images/{uid}"
	in := Input{User: User{Name: "u", UID: 1001}}
	h := host(files, content, path)
	rs := stores(h, c, in)
	var got Result
	for _, r := range rs {
		if r.Name == "shared image store" {
			got = r
		}
	}
	if got.OK() || !strings.Contains(got.Problem, "each node for itself") || !strings.Contains(got.Fix, "install -d -m 1777 /shared/images") {
		t.Fatalf("missing base: %+v", got)
	}
	files["/shared/images"] = fs.ModeDir | 0o777
	for _, r := range stores(h, c, in) {
		if r.Name == "shared image store" && (r.OK() || !strings.Contains(r.Fix, "chmod +t")) {
			t.Fatalf("world-writable, not sticky: %+v", r)
		}
	}
	files["/shared/images"] = fs.ModeDir | fs.ModeSticky | 0o777
	for _, r := range stores(h, c, in) {
		if !r.OK() {
			t.Fatalf("sticky base: %+v", r)
		}
	}
}
