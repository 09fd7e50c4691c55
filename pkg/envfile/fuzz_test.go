package envfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/option"
)

// fuzzBase is the one base environment a fuzzed file can name (NAME
// "base" in the site directory, or ./site/base.toml).
const fuzzBase = "image = \"base#img\"\nmounts = [\"/a:/a\"]\n[env]\nX = \"base\"\n"

// FuzzEnvLoad loads one environment file of any content: an error is an
// error value naming a file, and an accepted file gives settings the
// option layer takes as they are, the way the plugin hands them over
// (spank/environment.go): Build accepts them and the Spec it makes
// passes Validate, which the nodes apply.
func FuzzEnvLoad(f *testing.F) {
	for _, s := range []string{
		"", `image = "nvcr.io#nvidia/pytorch:24.01-py3"`,
		"image = \"nvcr.io#nvidia/pytorch:24.01-py3\"\nmounts = [\"/scratch:/scratch\", \"/data:/data:ro\"]\n" +
			"workdir = \"/work/\"\nwritable = true\nentrypoint = false\nmount_home = true\nremap_root = false\n" +
			"container_env = [\"NCCL_DEBUG\"]\n[env]\nOMP_NUM_THREADS = \"4\"\n[annotations]\n\"com.example.hook\" = \"on\"\n",
		"base_environment = \"base\"\nimage = \"mid#img\"\nmounts = [\"/b:/b\", \"/c:/c\"]\n[env]\nY = \"mid\"\n",
		"base_environment = [\"./site/base.toml\", \"base\"]\nmounts = [\"/d:/d\"]\ncontainer_env = [\"B\", \"A\"]\n",
		`base_environment = "./env.toml"`, `base_environment = "nope"`, "image = \"./img.sqsh\"\n",
		"image = \"oci-archive:../img.tar\"\n", "image = \"x\"\nimagee = \"y\"\n", "[env]\nA = \"1\"\nB = 2\n",
		"env = [\"A=1\"]\n", "[env]\nA.B = \"1\"\n", "container_env = [\"A-B\"]\n", "workdir = \"work\"\n",
		"mounts = [\"data:/data\"]\n", "mounts = [\"/a:/b:ro:x\"]\n", "image = \"\"\n", "writable = tru\n",
		"image = \"x\"\n\nimage = \"y\"\n", "pull = { retries = 7 }\n", "[[annotations]]\nk = \"v\"\n",
		"[annotations]\n\"a=b\" = \"c\"\n", "workdir = \"/w\\u0000\"\n", "image = \"Debian:12\"\n",
		"mounts = [\"/a:/b:bogus\"]\n", "mounts = [\"/a:/b,/c\"]\n",
		"devices = [\"nvidia.com/gpu=all\", \"example.com/fpga=a1\"]\n", "devices = [\"/dev/nvidia0\"]\n",
		"base_environment = \"base\"\ndevices = [\"nvidia.com/gpu=0\", \"nvidia.com/gpu=0\"]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		if namesOutside(content) {
			t.Skip("names a base outside the test's directory")
		}
		dir := t.TempDir()
		site := filepath.Join(dir, "site")
		path := filepath.Join(dir, "env.toml")
		if err := os.Mkdir(site, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(site, "base.toml"), []byte(fuzzBase), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := Load("./env.toml", dir, "", site)
		if err != nil {
			if !reflect.DeepEqual(e, Env{}) {
				t.Fatalf("Load returned %+v with error %v", e, err)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error names no file: %v", err)
			}
			return
		}
		if len(e.Files) == 0 || e.Files[len(e.Files)-1] != path {
			t.Fatalf("Files = %q, want %s last", e.Files, path)
		}
		if e.Workdir != "" && (!filepath.IsAbs(e.Workdir) || filepath.Clean(e.Workdir) != e.Workdir) {
			t.Fatalf("workdir %q is not absolute and clean", e.Workdir)
		}
		ef := option.EnvFile{Path: path, Image: e.Image, Mounts: e.Mounts, Workdir: e.Workdir,
			Writable: e.Writable, Entrypoint: e.Entrypoint, MountHome: e.MountHome, Remap: e.RemapRoot,
			ContainerEnv: e.ContainerEnv, Devices: e.Devices, Env: e.Env, Annotations: e.Annotations}
		s, err := option.Build(option.Flags{"environment": {"./env.toml"}}, func(string) string { return "" }, dir,
			func(string) (option.EnvFile, error) { return ef, nil }, option.Defaults{})
		if err != nil {
			t.Fatalf("Load accepted %q, Build refuses it: %v", content, err)
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Load accepted %q, the nodes would refuse it: %v", content, err)
		}
	})
}

// namesOutside tells whether a document names a base environment by a
// path that may leave the test's directory (any file on the host).
func namesOutside(content string) bool {
	f, err := config.ParseTOML("fuzz.toml", []byte(content))
	if err != nil {
		return false
	}
	v := f.Value(toml.Key{"base_environment"})
	names, _ := config.Strings(v)
	if s, ok := v.(string); ok {
		names = []string{s}
	}
	for _, n := range names {
		if filepath.IsAbs(n) || strings.Contains(n, "..") {
			return true
		}
	}
	return false
}
