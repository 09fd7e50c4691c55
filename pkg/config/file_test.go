package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "carina.toml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// noOwnerCheck lets ParseArgs load files the test user owns.
func noOwnerCheck(t *testing.T) {
	old := requireRootOwned
	requireRootOwned = false
	t.Cleanup(func() { requireRootOwned = old })
}

func TestConfigFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		check   func(Config) bool
		wantErr string // FILE is replaced by the file's path
	}{
		{"empty", "", func(c Config) bool { c.ConfigFile = ""; return reflect.DeepEqual(c, Default()) }, ""},
		{"every key", `
helper = "/opt/c/carina"
runtime_dir = "/run/x"
store_dir = "/srv/s"
image_store = "/shared/carina/{uid}"
image_format = "overlay"
site_image_store = "/shared/site"
environments_dir = "/site/envs"
container_scope = "global"
relay = false
[podman]
binary = "/opt/podman"
extra_flags = ["--cgroup-manager=cgroupfs", "--log-level=info"]
init_path = "/opt/init"
[pull]
timeout = "30s"
retries = 5
retry_delay = "250ms"
[mounts]
default = ["/scratch", "/apps:/apps:ro"]
allowed = ["/home", "/scratch"]
denied = []
[defaults]
mount_home = false
remap_root = true
writable = false
entrypoint = true
[gpu]
cdi_kind = "amd.com/gpu"
[security]
seccomp = false
`, func(c Config) bool {
			return reflect.DeepEqual(c, Config{
				Helper: "/opt/c/carina", RuntimeDir: "/run/x", StoreDir: "/srv/s",
				ImageStore: "/shared/carina/{uid}", ImageFormat: "overlay", SiteStore: "/shared/site",
				EnvironmentsDir: "/site/envs", ContainerScope: "global", Relay: false,
				Podman: "/opt/podman", PodmanFlags: []string{"--cgroup-manager=cgroupfs", "--log-level=info"},
				InitPath: "/opt/init", HelperLimit: 30 * time.Second, PullRetries: 5, RetryDelay: 250 * time.Millisecond,
				DefaultMounts: []string{"/scratch", "/apps:/apps:ro"}, AllowedMounts: []string{"/home", "/scratch"},
				MountHome: false, RemapRoot: true, Writable: false, Entrypoint: true, GPUCDIKind: "amd.com/gpu",
				Seccomp: false, ConfigFile: c.ConfigFile,
			}) && strings.HasSuffix(c.ConfigFile, "carina.toml")
		}, ""},
		{"inline and dotted tables", `pull = { retries = 7 }
podman.binary = "/opt/podman"
`, func(c Config) bool { return c.PullRetries == 7 && c.Podman == "/opt/podman" }, ""},
		{"unknown top-level key", "helper = \"/x\"\n\nhelpr = \"/y\"\n", nil, `FILE:3: unknown key "helpr"`},
		{"unknown key in a table", "# site\n\n[podman]\nbinary = \"/usr/bin/podman\"\n\n\nextra_flag = \"--x\"\n", nil,
			`FILE:7: unknown key "podman.extra_flag"`},
		{"unknown dotted key", "relay = true\npodman.extra_flag = 1\n", nil, `FILE:2: unknown key "podman.extra_flag"`},
		{"unknown inline key", "\npull = { retries = 3,\n  tries = 2 }\n", nil, `FILE:3: unknown key "pull.tries"`},
		{"unknown table", "relay = true\n\n[podmn]\nbinary = \"/x\"\n", nil, `FILE:3: unknown key "podmn"`},
		{"unknown subtable", "[podman]\nbinary = \"/x\"\n[podman.flags]\nx = 1\n", nil, `FILE:3: unknown key "podman.flags"`},
		{"unknown array of tables", "relay = true\n[[mount]]\nsrc = \"/x\"\n", nil, `FILE:2: unknown key "mount"`},
		{"key differing in case", "helper = \"/x\"\nHelper = \"/y\"\n", nil, `FILE:2: unknown key "Helper"`},
		{"key a tag cannot name", "relay = true\n\"a,b\" = 1\n", nil, `FILE:2: unknown key "\"a,b\""`},
		{"syntax error", "relay = true\nhelper = /x\n", nil, "FILE:2: "},
		{"duplicate key", "relay = true\n[pull]\nretries = 2\nretries = 3\n", nil, "FILE:4: "},
		{"wrong type", "[pull]\n\nretries = \"3\"\n", nil, "FILE:3: pull.retries: want an integer, not a string"},
		{"bool as string", "relay = \"yes\"\n", nil, "FILE:1: relay: want a boolean, not a string"},
		{"table as string", "podman = \"/usr/bin/podman\"\n", nil, "FILE:1: podman: want a table, not a string"},
		{"array of tables for a table", "[[pull]]\nretries = 3\n", nil, "FILE:1: pull: want a table, not an array of tables"},
		{"array of numbers", "[podman]\nextra_flags = [1, 2]\n", nil, "FILE:2: podman.extra_flags: want an array of strings, not an array"},
		{"flag without dash", "[podman]\nextra_flags = [\"cgroupfs\"]\n", nil, `FILE:2: podman.extra_flags: "cgroupfs": want one podman global flag`},
		{"retries out of range", "[pull]\nretries = 30\n", nil, "FILE:2: pull.retries: want a number of tries from 1 to 20"},
		{"bad delay", "[pull]\nretry_delay = \"2m\"\n", nil, "FILE:2: pull.retry_delay: want a duration from 1ms to 1m"},
		{"bad timeout", "[pull]\ntimeout = \"0s\"\n", nil, "FILE:2: pull.timeout: want a positive duration"},
		{"bad format", "image_format = \"ext4\"\n", nil, "FILE:1: image_format: want squashfs or overlay"},
		{"bad scope", "container_scope = \"node\"\n", nil, "FILE:1: container_scope: want job or global"},
		{"relative path", "store_dir = \"var/lib\"\n", nil, "FILE:1: store_dir: want a clean absolute path"},
		{"bad image store", "image_store = \"/shared\"\n", nil, "FILE:1: image_store: want a clean absolute path holding {uid} or {user}"},
		{"unclean denied", "[mounts]\ndenied = [\"/etc/\"]\n", nil, `FILE:2: mounts.denied: "/etc/": want a clean absolute path`},
		{"relative allowed", "[mounts]\nallowed = [\"home\"]\n", nil, `FILE:2: mounts.allowed: "home": want a clean absolute path`},
		{"relative default mount", "[mounts]\ndefault = [\"scratch:/scratch\"]\n", nil, `FILE:2: mounts.default: mount "scratch:/scratch": want an absolute source`},
		{"bad default mount", "[mounts]\ndefault = [\"/a:b\"]\n", nil, `FILE:2: mounts.default: mount "/a:b": want SRC[:DST[:FLAGS]]`},
		{"bad default mount flag", "[mounts]\ndefault = [\"/a:/b:bogus\"]\n", nil,
			`FILE:2: mounts.default: --container-mounts: unknown flag "bogus" in "/a:/b:bogus"`},
		{"GPU injection off", "[gpu]\ncdi_kind = \"\"\n", func(c Config) bool { return c.GPUCDIKind == "" }, ""},
		{"default GPU kind", "relay = true\n", func(c Config) bool { return c.GPUCDIKind == "nvidia.com/gpu" }, ""},
		{"dotted GPU kind", "gpu.cdi_kind = \"example.co.uk/fpga_x-2\"\n",
			func(c Config) bool { return c.GPUCDIKind == "example.co.uk/fpga_x-2" }, ""},
		{"unknown key in [gpu]", "[gpu]\ncdi_kind = \"nvidia.com/gpu\"\ncdi_kinds = \"x\"\n", nil, `FILE:3: unknown key "gpu.cdi_kinds"`},
		{"GPU kind a device", "[gpu]\ncdi_kind = \"nvidia.com/gpu=0\"\n", nil,
			`FILE:2: gpu.cdi_kind: "nvidia.com/gpu=0": want a CDI device kind VENDOR/CLASS such as nvidia.com/gpu, or "" for none`},
		{"GPU kind without class", "[gpu]\ncdi_kind = \"nvidia.com\"\n", nil, `FILE:2: gpu.cdi_kind: "nvidia.com": want a CDI device kind`},
		{"GPU kind a path", "[gpu]\n\ncdi_kind = \"/dev/nvidia0\"\n", nil, `FILE:3: gpu.cdi_kind: "/dev/nvidia0": want a CDI device kind`},
		{"GPU kind vendor digit", "[gpu]\ncdi_kind = \"1nvidia.com/gpu\"\n", nil, "FILE:2: gpu.cdi_kind: "},
		{"GPU kind class with a dot", "[gpu]\ncdi_kind = \"nvidia.com/gpu.x\"\n", nil, "FILE:2: gpu.cdi_kind: "},
		{"GPU kind trailing dash", "[gpu]\ncdi_kind = \"nvidia.com/gpu-\"\n", nil, "FILE:2: gpu.cdi_kind: "},
		{"GPU kind two slashes", "[gpu]\ncdi_kind = \"nvidia.com/gpu/x\"\n", nil, "FILE:2: gpu.cdi_kind: "},
		{"GPU kind not a string", "[gpu]\ncdi_kind = false\n", nil, "FILE:2: gpu.cdi_kind: want a string, not a boolean"},
		{"gpu a string", "gpu = \"nvidia.com/gpu\"\n", nil, "FILE:1: gpu: want a table, not a string"},
		{"NUL in a path", "\nhelper = \"/x\\u0000\"\n", nil, "FILE:2: helper: a NUL byte"},
		{"NUL in a list", "[podman]\nextra_flags = [\"--x\", \"--y\\u0000\"]\n", nil, "FILE:2: podman.extra_flags: a NUL byte"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.content)
			c, err := ParseFile(p, false)
			if tc.wantErr != "" {
				want := strings.ReplaceAll(tc.wantErr, "FILE", p)
				if err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Fatalf("err = %v, want %q", err, want)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("ParseFile = %+v, %v", c, err)
			}
		})
	}
}

func TestConfigArgsOverrideFile(t *testing.T) {
	noOwnerCheck(t)
	p := writeConfig(t, "helper = \"/file/carina\"\nrelay = false\n[pull]\nretries = 5\n[defaults]\nwritable = false\n")
	c, err := ParseArgs([]string{"pull_retries=7", "config=" + p, "writable=yes"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Helper != "/file/carina" || c.Relay || c.PullRetries != 7 || !c.Writable || c.ConfigFile != p {
		t.Fatalf("ParseArgs = %+v", c)
	}
	// An argument error is reported as such, after the file loaded.
	if _, err := ParseArgs([]string{"config=" + p, "pull_retries=0"}); err == nil || !strings.Contains(err.Error(), `plugstack argument "pull_retries=0"`) {
		t.Fatalf("err = %v", err)
	}
	// A file error names the file and line.
	bad := writeConfig(t, "relay = true\nrelai = false\n")
	if _, err := ParseArgs([]string{"config=" + bad}); err == nil || err.Error() != bad+`:2: unknown key "relai"` {
		t.Fatalf("err = %v", err)
	}
	// Without config= no file is read.
	if c, err := ParseArgs(nil); err != nil || c.ConfigFile != "" {
		t.Fatalf("ParseArgs(nil) = %+v, %v", c, err)
	}
}

func TestConfigFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := ParseFile(dir, false); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err = %v", err)
	}
	if _, err := ParseFile(filepath.Join(dir, "none.toml"), false); err == nil ||
		err.Error() != fmt.Sprintf("config %s/none.toml: no such file or directory", dir) {
		t.Fatalf("err = %v", err)
	}
}

// TestConfigFileOwner runs the real ownership check on a temporary file.
func TestConfigFileOwner(t *testing.T) {
	p := writeConfig(t, "relay = true\n")
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	want := "config " + p + ": must be owned by root and not writable by group or others"
	args := []string{"config=" + p}
	if os.Geteuid() != 0 {
		if _, err := ParseArgs(args); err == nil || err.Error() != want {
			t.Fatalf("not root: err = %v, want %q", err, want)
		}
		if _, err := ParseFile(p, false); err != nil {
			t.Fatalf("without the check: %v", err)
		}
		return
	}
	if err := os.Chown(p, 0, 0); err != nil {
		t.Fatal(err)
	}
	if c, err := ParseArgs(args); err != nil || c.ConfigFile != p {
		t.Fatalf("root's file: %+v, %v", c, err)
	}
	for _, mode := range []os.FileMode{0o664, 0o646} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseArgs(args); err == nil || err.Error() != want {
			t.Fatalf("mode %o: err = %v, want %q", mode, err, want)
		}
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 1000, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseArgs(args); err == nil || err.Error() != want {
		t.Fatalf("uid 1000: err = %v, want %q", err, want)
	}
}

// TestConfigExample parses etc/carina.toml: it holds every key, at its
// default value.
func TestConfigExample(t *testing.T) {
	p := filepath.Join("..", "..", "etc", "carina.toml")
	c, err := ParseFile(p, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigFile != p {
		t.Fatalf("ConfigFile = %q", c.ConfigFile)
	}
	c.ConfigFile = ""
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("example = %+v\nDefault = %+v", c, Default())
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseTOML(p, data)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, k := range f.Keys() {
		keys[k.String()] = true
	}
	for _, s := range settings {
		if !keys[s.key] {
			t.Errorf("the example lacks %s", s.key)
		}
	}
}

func TestConfigTOMLLine(t *testing.T) {
	doc := `# lines
a = 1
[t]
  b = { c = 1, "d.e" = [1, 2] }
[[arr]]
x = 1
[[arr]]
y = 2
[arr.sub]
z = 3
-  = 4
`
	f, err := ParseTOML("doc.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"a": 2, "t": 3, "t.b": 4, "t.b.c": 4, `t.b."d.e"`: 4, "arr": 7, "arr.x": 6, "arr.y": 8,
		"arr.sub": 9, "arr.sub.z": 10, "arr.sub.-": 11}
	got := map[string]int{}
	for _, k := range f.Keys() {
		got[k.String()] = f.Line(k)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lines = %v, want %v", got, want)
	}
}

// [env]: the variables every task gets (an injected host stack's).
func TestConfigEnv(t *testing.T) {
	c, err := ParseFile(writeConfig(t, "[env]\nLD_LIBRARY_PATH = \"/opt/site/lib\"\nFI_PROVIDER = \"tcp\"\n"), false)
	if err != nil || c.Env["LD_LIBRARY_PATH"] != "/opt/site/lib" || c.Env["FI_PROVIDER"] != "tcp" || len(c.Env) != 2 {
		t.Fatalf("ParseFile = %+v, %v", c.Env, err)
	}
	for content, want := range map[string]string{
		"[env]\n\"1A\" = \"x\"\n": ":2: env.1A: not a variable name",
		"[env]\nA = 1\n":          ":2: env.A: want a string",
		"env = \"x\"\n":           ":1: env: want a table",
	} {
		if _, err := ParseFile(writeConfig(t, content), false); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
}
