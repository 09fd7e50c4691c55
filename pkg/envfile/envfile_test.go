package envfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func bp(b bool) *bool { return &b }

// tree writes files (path relative to root → content) and returns root.
// Paths start with home/, site/ or cwd/ by convention.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"home", "site", "cwd"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const (
	homeEnvs = "home/.config/carina/environments/"
	siteEnvs = "site/"
)

func TestEnvLoad(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		value   string
		want    Env    // Files are relative to the root
		wantErr string // ROOT is replaced by the root
	}{
		{"name in home beats site", map[string]string{
			homeEnvs + "pt.toml": `image = "home#pt"`,
			siteEnvs + "pt.toml": `image = "site#pt"`,
		}, "pt", Env{Image: "home#pt", Files: []string{homeEnvs + "pt.toml"}}, ""},
		{"name in site", map[string]string{
			siteEnvs + "pt.toml": `image = "site#pt"`,
		}, "pt", Env{Image: "site#pt", Files: []string{siteEnvs + "pt.toml"}}, ""},
		{"name not found", nil, "pt", Env{},
			`environment "pt" not found (searched ROOT/home/.config/carina/environments/pt.toml, ROOT/site/pt.toml)`},
		{"relative path", map[string]string{
			"cwd/envs/pt.toml":   `image = "cwd#pt"`,
			homeEnvs + "pt.toml": `image = "home#pt"`,
		}, "envs/pt.toml", Env{Image: "cwd#pt", Files: []string{"cwd/envs/pt.toml"}}, ""},
		{"a .toml name is a path", map[string]string{
			"cwd/pt.toml":        `image = "cwd#pt"`,
			homeEnvs + "pt.toml": `image = "home#pt"`,
		}, "pt.toml", Env{Image: "cwd#pt", Files: []string{"cwd/pt.toml"}}, ""},
		{"missing path", nil, "./none.toml", Env{}, "environment file ROOT/cwd/none.toml: no such file or directory"},
		{"directory", map[string]string{"cwd/d.toml/x": ""}, "d.toml", Env{}, "environment file ROOT/cwd/d.toml: not a regular file"},
		{"every key", map[string]string{"cwd/all.toml": `
image = "nvcr.io#nvidia/pytorch:24.01-py3"
mounts = ["/scratch:/scratch", "/data:/data:ro", "/scratch:/scratch"]
workdir = "/work/"
writable = true
entrypoint = false
mount_home = true
remap_root = false
container_env = ["NCCL_DEBUG"]
devices = ["nvidia.com/gpu=all", "example.com/fpga=a1", "nvidia.com/gpu=all"]
[env]
OMP_NUM_THREADS = "4"
[annotations]
"com.example.hook" = "on"
`}, "./all.toml", Env{
			Image: "nvcr.io#nvidia/pytorch:24.01-py3", Mounts: []string{"/scratch:/scratch", "/data:/data:ro"},
			Workdir: "/work", Writable: bp(true), Entrypoint: bp(false), MountHome: bp(true), RemapRoot: bp(false),
			ContainerEnv: []string{"NCCL_DEBUG"}, Devices: []string{"nvidia.com/gpu=all", "example.com/fpga=a1"},
			Env: map[string]string{"OMP_NUM_THREADS": "4"}, Annotations: map[string]string{"com.example.hook": "on"},
			Files: []string{"cwd/all.toml"},
		}, ""},
		{"inheritance", map[string]string{
			siteEnvs + "base.toml": `
image = "base#img"
workdir = "/base"
writable = false
mounts = ["/a:/a", "/b:/b"]
container_env = ["A"]
devices = ["example.com/fpga=a", "nvidia.com/gpu=0"]
[env]
X = "base"
Y = "base"
[annotations]
k = "base"
`,
			"cwd/envs/mid.toml": `
base_environment = "base"
image = "mid#img"
mounts = ["/b:/b", "/c:/c"]
entrypoint = true
[env]
Y = "mid"
Z = "mid"
`,
			"cwd/envs/top.toml": `
base_environment = ["./mid.toml", "other.toml"]
mounts = ["/d:/d"]
container_env = ["B", "A"]
devices = ["nvidia.com/gpu=0", "nvidia.com/gpu=all"]
[env]
Z = "top"
`,
			"cwd/envs/other.toml": `
writable = true
workdir = "/other"
[annotations]
k = "other"
j = "other"
`,
		}, "envs/top.toml", Env{
			Image: "mid#img", Workdir: "/other", Writable: bp(true), Entrypoint: bp(true),
			Mounts: []string{"/a:/a", "/b:/b", "/c:/c", "/d:/d"}, ContainerEnv: []string{"A", "B"},
			Devices:     []string{"example.com/fpga=a", "nvidia.com/gpu=0", "nvidia.com/gpu=all"},
			Env:         map[string]string{"X": "base", "Y": "mid", "Z": "top"},
			Annotations: map[string]string{"k": "other", "j": "other"},
			Files:       []string{siteEnvs + "base.toml", "cwd/envs/mid.toml", "cwd/envs/other.toml", "cwd/envs/top.toml"},
		}, ""},
		{"diamond", map[string]string{
			"cwd/d.toml": `mounts = ["/d"]`,
			"cwd/b.toml": `base_environment = "./d.toml"` + "\n" + `mounts = ["/b"]`,
			"cwd/c.toml": `base_environment = "./d.toml"` + "\n" + `mounts = ["/c"]`,
			"cwd/a.toml": `base_environment = ["b.toml", "c.toml"]`,
		}, "a.toml", Env{Mounts: []string{"/d", "/b", "/c"},
			Files: []string{"cwd/d.toml", "cwd/b.toml", "cwd/c.toml", "cwd/a.toml"}}, ""},
		{"relative image", map[string]string{"cwd/e/x.toml": "image = \"./img.sqsh\"\n"}, "e/x.toml",
			Env{Image: "ROOT/cwd/e/img.sqsh", Files: []string{"cwd/e/x.toml"}}, ""},
		{"relative archive", map[string]string{"cwd/e/x.toml": "image = \"oci-archive:../img.tar\"\n"}, "e/x.toml",
			Env{Image: "oci-archive:ROOT/cwd/img.tar", Files: []string{"cwd/e/x.toml"}}, ""},
		{"cycle", map[string]string{
			"cwd/a.toml": `base_environment = "b.toml"`,
			"cwd/b.toml": `base_environment = "a.toml"`,
		}, "a.toml", Env{}, "environment files inherit in a cycle: ROOT/cwd/a.toml -> ROOT/cwd/b.toml -> ROOT/cwd/a.toml"},
		{"self", map[string]string{"cwd/a.toml": `base_environment = "./a.toml"`}, "a.toml", Env{},
			"environment files inherit in a cycle: ROOT/cwd/a.toml -> ROOT/cwd/a.toml"},
		{"too deep", deepChain(11), "e0.toml", Env{}, "environment files inherit more than 10 deep: ROOT/cwd/e0.toml ->"},
		{"deep enough", deepChain(10), "e0.toml", Env{Image: "e0#img", Files: deepFiles(10)}, ""},
		{"missing base", map[string]string{"cwd/a.toml": "# a\n\nbase_environment = [\"ok.toml\",\n  \"nope\"]\n",
			"cwd/ok.toml": ""}, "a.toml", Env{},
			`ROOT/cwd/a.toml:3: base_environment: environment "nope" not found (searched ROOT/home/.config/carina/environments/nope.toml, ROOT/site/nope.toml)`},
		{"unknown key", map[string]string{"cwd/a.toml": "image = \"x\"\n\n# comment\n\nimagee = \"y\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:5: unknown key "imagee"`},
		{"unknown table", map[string]string{"cwd/a.toml": "image = \"x\"\n[env]\nA = \"1\"\n[mounts2]\nx = 1\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:4: unknown key "mounts2"`},
		{"unknown dotted key", map[string]string{"cwd/a.toml": "image = \"x\"\nimage2.tag = \"y\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:2: unknown key "image2.tag"`},
		{"unknown key in a base", map[string]string{"cwd/a.toml": `base_environment = "b.toml"`,
			"cwd/b.toml": "\nwritabel = true\n"}, "a.toml", Env{}, `ROOT/cwd/b.toml:2: unknown key "writabel"`},
		{"bad type", map[string]string{"cwd/a.toml": "image = \"x\"\nwritable = \"yes\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:2: writable: want a boolean, not a string`},
		{"bad base type", map[string]string{"cwd/a.toml": "base_environment = 3\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: base_environment: want a string or an array of strings, not an integer`},
		{"env value not a string", map[string]string{"cwd/a.toml": "[env]\nA = \"1\"\nB = 2\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:3: env.B: want a string, not an integer`},
		{"env as a list", map[string]string{"cwd/a.toml": "env = [\"A=1\"]\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: env: want a table, not an array`},
		{"bad env name", map[string]string{"cwd/a.toml": "[env]\nGOOD = \"1\"\n\"1BAD\" = \"2\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:3: env: invalid variable name "1BAD"`},
		{"env name with a dot", map[string]string{"cwd/a.toml": "[env]\nA.B = \"1\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:2: env.A: want a string, not a table`},
		{"bad container_env", map[string]string{"cwd/a.toml": "container_env = [\"A-B\"]\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: container_env: invalid variable name "A-B"`},
		{"device a host path", map[string]string{"cwd/a.toml": "image = \"x\"\n\ndevices = [\"nvidia.com/gpu=0\", \"/dev/nvidia0\"]\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:3: devices: device "/dev/nvidia0": want a CDI device name VENDOR/CLASS=NAME such as nvidia.com/gpu=0 (host paths are not taken)`},
		{"device unqualified", map[string]string{"cwd/a.toml": "devices = [\"gpu=0\"]\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: devices: device "gpu=0": want a CDI device name`},
		{"device a kind", map[string]string{"cwd/a.toml": "devices = [\"nvidia.com/gpu\"]\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: devices: device "nvidia.com/gpu": want a CDI device name`},
		{"device list in one string", map[string]string{"cwd/a.toml": "devices = [\"nvidia.com/gpu=0,nvidia.com/gpu=1\"]\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: devices: device "nvidia.com/gpu=0,nvidia.com/gpu=1": want a CDI device name`},
		{"devices a string", map[string]string{"cwd/a.toml": "devices = \"nvidia.com/gpu=0\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: devices: want an array of strings, not a string`},
		{"devices in a base", map[string]string{"cwd/a.toml": `base_environment = "b.toml"`,
			"cwd/b.toml": "\n\ndevices = [\"--privileged\"]\n"}, "a.toml", Env{}, `ROOT/cwd/b.toml:3: devices: device "--privileged"`},
		{"relative workdir", map[string]string{"cwd/a.toml": "workdir = \"work\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: workdir: want an absolute path, not "work"`},
		{"relative mount", map[string]string{"cwd/a.toml": "mounts = [\"data:/data\"]\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: mounts: mount "data:/data": want an absolute source`},
		{"bad mount", map[string]string{"cwd/a.toml": "mounts = [\"/a:/b:ro:x\"]\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: mounts: mount "/a:/b:ro:x": want SRC[:DST[:FLAGS]]`},
		{"empty image", map[string]string{"cwd/a.toml": "image = \"\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: image: want an image`},
		{"invalid image", map[string]string{"cwd/a.toml": "\nimage = \"Debian:12\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:2: image: --container-image="Debian:12": not a valid image reference`},
		{"bad mount flag", map[string]string{"cwd/a.toml": "mounts = [\"/a:/b:bogus\"]\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: mounts: --container-mounts: unknown flag "bogus"`},
		{"bad annotation key", map[string]string{"cwd/a.toml": "[annotations]\n\"a=b\" = \"c\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:2: annotations: annotation "a=b": a key is letters`},
		{"NUL in workdir", map[string]string{"cwd/a.toml": "workdir = \"/w\\u0000\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:1: workdir: container settings: a value holds a NUL byte`},
		{"NUL in a variable", map[string]string{"cwd/a.toml": "[env]\nA = \"x\\u0000\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:2: env: container settings: a value holds a NUL byte`},
		{"syntax error", map[string]string{"cwd/a.toml": "image = \"x\"\nwritable = tru\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:2: `},
		{"duplicate key", map[string]string{"cwd/a.toml": "image = \"x\"\n\nimage = \"y\"\n"}, "a.toml", Env{},
			`ROOT/cwd/a.toml:3: `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := tree(t, tc.files)
			e, err := Load(tc.value, filepath.Join(root, "cwd"), filepath.Join(root, "home"), filepath.Join(root, "site"))
			if tc.wantErr != "" {
				want := strings.ReplaceAll(tc.wantErr, "ROOT", root)
				if err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Fatalf("err = %v\nwant %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Image = strings.ReplaceAll(want.Image, "ROOT", root)
			for i, f := range want.Files {
				want.Files[i] = filepath.Join(root, f)
			}
			if !reflect.DeepEqual(e, want) {
				t.Fatalf("Load =\n%s\nwant\n%s", show(e), show(want))
			}
		})
	}
}

func deepChain(n int) map[string]string {
	files := map[string]string{}
	for i := range n {
		c := "image = \"e" + string(rune('0'+i)) + "#img\"\n"
		if i < n-1 {
			c += "base_environment = \"e" + string(rune('0'+i+1)) + ".toml\"\n"
		}
		files["cwd/e"+string(rune('0'+i))+".toml"] = c
	}
	return files
}

func deepFiles(n int) []string {
	var files []string
	for i := n - 1; i >= 0; i-- {
		files = append(files, "cwd/e"+string(rune('0'+i))+".toml")
	}
	return files
}

func show(e Env) string {
	b := func(p *bool) string {
		if p == nil {
			return "nil"
		}
		if *p {
			return "true"
		}
		return "false"
	}
	return "Image=" + e.Image + " Workdir=" + e.Workdir + " Mounts=" + strings.Join(e.Mounts, ",") +
		" Writable=" + b(e.Writable) + " Entrypoint=" + b(e.Entrypoint) + " MountHome=" + b(e.MountHome) +
		" RemapRoot=" + b(e.RemapRoot) + " ContainerEnv=" + strings.Join(e.ContainerEnv, ",") +
		" Devices=" + strings.Join(e.Devices, ",") +
		" Env=" + mapString(e.Env) + " Annotations=" + mapString(e.Annotations) + "\nFiles=" + strings.Join(e.Files, ",")
}

func mapString(m map[string]string) string {
	var s []string
	for k, v := range m {
		s = append(s, k+"="+v)
	}
	return "{" + strings.Join(s, ",") + "}"
}

func TestEnvSearchPlaces(t *testing.T) {
	root := tree(t, nil)
	cwd := filepath.Join(root, "cwd")
	if _, err := Load("pt", cwd, "", ""); err == nil || err.Error() != `environment "pt" not found: no directory to search` {
		t.Fatalf("no places: err = %v", err)
	}
	if _, err := Load("pt", cwd, "", filepath.Join(root, "site")); err == nil ||
		err.Error() != `environment "pt" not found (searched `+filepath.Join(root, "site", "pt.toml")+`)` {
		t.Fatalf("site only: err = %v", err)
	}
	if _, err := Load("x.toml", "relative", "", ""); err == nil || !strings.Contains(err.Error(), "needs an absolute working directory") {
		t.Fatalf("relative cwd: err = %v", err)
	}
	if _, err := Load("", cwd, "", ""); err == nil {
		t.Fatal("empty value accepted")
	}
	if !IsPath("a/b") || !IsPath("a.toml") || IsPath("pytorch") {
		t.Fatal("IsPath")
	}
}

// A FIFO or a device named as an environment file is refused at once: the
// open does not wait for a writer, nothing endless is read.
func TestEnvNotRegular(t *testing.T) {
	root := tree(t, nil)
	fifo := filepath.Join(root, "cwd", "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, "/dev/zero"} {
		done := make(chan error, 1)
		go func() {
			_, err := Load(p, filepath.Join(root, "cwd"), filepath.Join(root, "home"), filepath.Join(root, "site"))
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("Load(%s) = %v, want a 'not a regular file' error", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Load(%s) hung", p)
		}
	}
}
