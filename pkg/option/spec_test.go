package option

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestBuild(t *testing.T) {
	noFile := func(string) (EnvFile, error) { return EnvFile{}, errors.New("no file") }
	yes, no := true, false
	file := func(string) (EnvFile, error) {
		return EnvFile{Path: "/etc/carina/environments/e.toml", Image: "file/img", Workdir: "/w", Writable: &no,
			Mounts: []string{"/a:/a"}, Env: map[string]string{"X": "1"}, Remap: &yes}, nil
	}
	devices := func(d ...string) func(string) (EnvFile, error) {
		return func(string) (EnvFile, error) { return EnvFile{Path: "/e.toml", Image: "img", Devices: d}, nil }
	}
	tests := []struct {
		name  string
		flags Flags
		env   map[string]string
		load  func(string) (EnvFile, error)
		check func(Spec) bool
		err   string
	}{
		{"nothing: inactive", nil, nil, noFile, func(s Spec) bool { return !s.Active() }, ""},
		{"two images", Flags{"container-image": {"a", "b"}}, nil, noFile, nil, "given twice with different values (a, b)"},
		{"image", Flags{"container-image": {"debian:12"}}, nil, noFile,
			func(s Spec) bool { return s.Active() && s.Image == "debian:12" && s.Writable }, ""},
		{"env default", nil, map[string]string{"CARINA_CONTAINER_IMAGE": "a"}, noFile, func(s Spec) bool { return s.Image == "a" }, ""},
		{"carina over pyxis", nil, map[string]string{"CARINA_CONTAINER_IMAGE": "a", "PYXIS_CONTAINER_IMAGE": "b"}, noFile,
			func(s Spec) bool { return s.Image == "a" }, ""},
		{"command line over env", Flags{"container-image": {"c"}}, map[string]string{"CARINA_CONTAINER_IMAGE": "a"}, noFile,
			func(s Spec) bool { return s.Image == "c" }, ""},
		{"pyxis readonly env", Flags{"container-image": {"c"}}, map[string]string{"PYXIS_CONTAINER_READONLY": "y"}, noFile,
			func(s Spec) bool { return !s.Writable }, ""},
		{"bad bool env", Flags{"container-image": {"c"}}, map[string]string{"CARINA_CONTAINER_REMAP_ROOT": "maybe"}, noFile, nil,
			"CARINA_CONTAINER_REMAP_ROOT"},
		{"writable and readonly", Flags{"container-image": {"c"}, "container-writable": {"1"}, "container-readonly": {"1"}}, nil,
			noFile, nil, "contradict"},
		{"home and no home", Flags{"container-image": {"c"}, "container-mount-home": {"1"}, "no-container-mount-home": {"1"}}, nil,
			noFile, nil, "contradict"},
		{"workdir relative", Flags{"container-image": {"c"}, "container-workdir": {"../etc"}}, nil, noFile,
			func(s Spec) bool { return s.Workdir == "/etc" }, ""},
		{"name default mode", Flags{"container-name": {"w"}}, nil, noFile,
			func(s Spec) bool { return s.Active() && s.Name == "w" && s.NameMode == NameAuto }, ""},
		{"name bad mode", Flags{"container-name": {"w:often"}}, nil, noFile, nil, "auto, create, exec or no_exec"},
		{"name bad chars", Flags{"container-name": {"a/b"}}, nil, noFile, nil, "a name is"},
		{"save relative", Flags{"container-image": {"c"}, "container-save": {"out.sqsh"}}, nil, noFile,
			func(s Spec) bool { return s.Save == "/home/u/out.sqsh" }, ""},
		{"save directory", Flags{"container-image": {"c"}, "container-save": {"/tmp/"}}, nil, noFile, nil, "directory"},
		{"unshare sorted", Flags{"container-image": {"c"}, "container-unshare": {"uts,net"}}, nil, noFile,
			func(s Spec) bool { return reflect.DeepEqual(s.Unshare, []string{"net", "uts"}) }, ""},
		{"unshare pid", Flags{"container-image": {"c"}, "container-unshare": {"pid"}}, nil, noFile, nil, "not one of"},
		{"container env names", Flags{"container-image": {"c"}, "container-env": {"A,B", "C"}}, nil, noFile,
			func(s Spec) bool { return reflect.DeepEqual(s.ContainerEnv, []string{"A", "B", "C"}) }, ""},
		{"container env bad", Flags{"container-image": {"c"}, "container-env": {"A-B"}}, nil, noFile, nil, "not a variable name"},
		{"mounts accumulate, later target wins", Flags{"container-image": {"c"}, "container-mounts": {"/x:/m", "/y:/m:ro,/z"}}, nil, noFile,
			func(s Spec) bool {
				return reflect.DeepEqual(s.Mounts, []Mount{{Source: "/y", Target: "/m", Flags: []string{"ro"}}, {Source: "/z", Target: "/z"}})
			}, ""},
		{"environment file under the command line", Flags{"environment": {"e"}, "container-workdir": {"/cli"}}, nil, file,
			func(s Spec) bool {
				return s.Image == "file/img" && s.Workdir == "/cli" && !s.Writable && s.RemapRoot && len(s.Mounts) == 1 &&
					s.Env["X"] == "1" && s.Environment == "/etc/carina/environments/e.toml"
			}, ""},
		{"environment file error", Flags{"environment": {"e"}}, nil, noFile, nil, "--environment=e: no file"},
		{"environment file devices", Flags{"environment": {"e"}}, nil, devices("nvidia.com/gpu=all", "example.com/fpga=a1", "nvidia.com/gpu=all"),
			func(s Spec) bool {
				return reflect.DeepEqual(s.Devices, []string{"nvidia.com/gpu=all", "example.com/fpga=a1"})
			}, ""},
		{"environment file host device", Flags{"environment": {"e"}}, nil, devices("/dev/nvidia0"), nil,
			`/e.toml: device "/dev/nvidia0": want a CDI device name VENDOR/CLASS=NAME`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Build(tc.flags, func(n string) string { return tc.env[n] }, "/home/u", tc.load, Defaults{Writable: true})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !tc.check(s) {
				t.Fatalf("Build = %+v, %v", s, err)
			}
		})
	}
}

func TestParseMounts(t *testing.T) {
	tests := []struct {
		in   string
		want []Mount
		err  string
	}{
		{"/a", []Mount{{Source: "/a", Target: "/a"}}, ""},
		{"/a:/b:ro+rprivate", []Mount{{Source: "/a", Target: "/b", Flags: []string{"ro", "rprivate"}}}, ""},
		{"./d:/x", []Mount{{Source: "/cwd/d", Target: "/x"}}, ""},
		{"./d", []Mount{{Source: "/cwd/d", Target: "/d"}}, ""},
		{"/a b:/c d", []Mount{{Source: "/a b", Target: "/c d"}}, ""},
		{"/a:./rel", []Mount{{Source: "/a", Target: "/rel"}}, ""},
		{"tmpfs:/t:size=1m", []Mount{{Target: "/t", Flags: []string{"size=1m"}, Tmpfs: true}}, ""},
		{"tmpfs", nil, "needs a target"},
		{"/a:/b:ro+bad", nil, `unknown flag "bad"`},
		{"/a:/b:unbindable+rbind+ro", []Mount{{Source: "/a", Target: "/b", Flags: []string{"unbindable", "rbind", "ro"}}}, ""},
		{"/a:/b:runbindable+z+U+idmap", []Mount{{Source: "/a", Target: "/b", Flags: []string{"runbindable", "z", "U", "idmap"}}}, ""},
		{"tmpfs:/t:size=64m+mode=1777+noexec", []Mount{{Target: "/t", Flags: []string{"size=64m", "mode=1777", "noexec"}, Tmpfs: true}}, ""},
		{"/a:/b:ro+rw", nil, `"ro" and "rw" in "/a:/b:ro+rw": give one ro/rw option`},
		{"/a:/b:shared+unbindable", nil, "give one propagation option"},
		{"/a:/b:size=1m", nil, `flag "size=1m" in "/a:/b:size=1m" is not allowed on a bind mount`},
		{"tmpfs:/t:rbind", nil, "not allowed on a tmpfs"},
		{"tmpfs:/t:size=", nil, "needs a value"},
		{"tmpfs:/t:mode=rwx", nil, "mode is octal"},
		{"tmpfs:/t:size=1m+size=2m", nil, "give one size option"},
		{"tmpfs:/t:huge=within_size+size=8m+noatime", []Mount{{Target: "/t", Flags: []string{"huge=within_size", "size=8m", "noatime"}, Tmpfs: true}}, ""},
		{"tmpfs:/t:nr_inodes=10k+nr_blocks=200", []Mount{{Target: "/t", Flags: []string{"nr_inodes=10k", "nr_blocks=200"}, Tmpfs: true}}, ""},
		{"tmpfs:/t:huge=sometimes", nil, "huge= is one of never, always, within_size, advise"},
		{"tmpfs:/t:nr_inodes=lots", nil, "a number, with k, m or g after it"},
		{"tmpfs:/t:huge=always+tmpcopyup", nil, "is mounted by carina, not by podman"},
		{"tmpfs:/t:noatime+relatime", nil, "give one atime option"},
		{"tmpfs:/t:uid=1000", nil, `"uid=1000" in "tmpfs:/t:uid=1000" cannot be given`},
		{"/tmp:/x:noatime", nil, "not allowed on a bind mount"},
		{"tmpfs:/t:bogus", nil, `unknown flag "bogus"`},
		{"host:/b", nil, "must be an absolute path"},
		{"/a:b", nil, `target "b"`},
		{"/a:", nil, "invalid entry"},
		{"/a:/", nil, "over the container's root"},
		{"/a:/x/../etc", nil, `target "/x/../etc" holds '..'`},
		{"/a:./..", nil, "holds '..'"},
		{"/x/../a:/b", []Mount{{Source: "/a", Target: "/b"}}, ""},
		{"/a\x00b:/b", nil, "a NUL byte"},
		{"tmpfs:/t:size=1m\x00", nil, "a NUL byte"},
	}
	for _, tc := range tests {
		got, err := ParseMounts(tc.in, "/cwd")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseMounts(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMounts(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestContainerKey(t *testing.T) {
	a := Spec{Image: "x", Mounts: []Mount{{Source: "/a", Target: "/a"}}, Env: map[string]string{"A": "1", "B": "2"}}
	b := a
	b.Workdir, b.Save, b.NameMode = "/elsewhere", "/out", NameExec // per-step settings
	if a.ContainerKey("r") != b.ContainerKey("r") {
		t.Fatal("per-step settings changed the key")
	}
	c := a
	c.Writable = true
	if a.ContainerKey("r") == c.ContainerKey("r") || a.ContainerKey("r") == a.ContainerKey("r2") {
		t.Fatal("a container setting or the image did not change the key")
	}
	// Devices shape the container: other devices, another key; none (nil
	// or empty), the key a Spec had before devices existed.
	d0, d1, d01 := a, a, a
	d0.Devices, d1.Devices, d01.Devices = []string{"nvidia.com/gpu=0"}, []string{"nvidia.com/gpu=1"}, []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}
	keys := map[string]bool{a.ContainerKey("r"): true}
	for _, s := range []Spec{d0, d1, d01} {
		if keys[s.ContainerKey("r")] {
			t.Errorf("devices %q: a key another set of devices has", s.Devices)
		}
		keys[s.ContainerKey("r")] = true
	}
	empty := a
	empty.Devices = []string{}
	if empty.ContainerKey("r") != a.ContainerKey("r") || strings.Contains(a.ContainerKey("r"), "devices") {
		t.Errorf("no devices changed the key: %s", empty.ContainerKey("r"))
	}
}

func TestCDINames(t *testing.T) {
	for dev, ok := range map[string]bool{
		"nvidia.com/gpu=0": true, "nvidia.com/gpu=all": true, "nvidia.com/gpu=GPU-4ac4b1b6-0e3f-2c1b-5d7e-1a2b3c4d5e6f": true,
		"nvidia.com/gpu=0:1": true, "example.com/net-1=eth0": true, "example.co.uk/fpga_x=a.b_c-d": true, "a/b=c": true,
		"x_y-z.org/c9=9": true,
		"/dev/nvidia0":   false, "nvidia0": false, "gpu=0": false, "nvidia.com/gpu": false, "nvidia.com/gpu=": false,
		"nvidia.com/=0": false, "/gpu=0": false, "nvidia.com/gpu=0,nvidia.com/gpu=1": false, "nvidia.com/gpu=0 ": false,
		"nvidia.com/gpu=-0": false, "nvidia.com/gpu=0-": false, "1nvidia.com/gpu=0": false, "nvidia.com-/gpu=0": false,
		"nvidia.com/gpu.x=0": false, "nvidia.com/gpu=a=b": false, "nvidia.com/gpu=a/b": false, "nvidia.com/g/pu=0": false,
		"nvidia.com/gpu=0\x00": false, "nvidia.com/gpu=" + strings.Repeat("a", 128): false,
		"nvidia.com/gpu=" + strings.Repeat("a", 127): true,
	} {
		if err := CheckCDIDevice(dev); (err == nil) != ok {
			t.Errorf("CheckCDIDevice(%q) = %v, want ok=%v", dev, err, ok)
		}
	}
	for kind, ok := range map[string]bool{
		"nvidia.com/gpu": true, "amd.com/gpu": true, "example.co.uk/fpga_x-2": true, "a/b": true,
		"": false, "nvidia.com": false, "nvidia.com/gpu=0": false, "/gpu": false, "nvidia.com/": false, "nvidia.com/gpu/x": false,
		"-nvidia.com/gpu": false, "nvidia.com/gpu_": false, "nvidia.com/gpu.x": false, "nvidia.com/1gpu": false, "nvidia com/gpu": false,
	} {
		if err := CheckCDIKind(kind); (err == nil) != ok {
			t.Errorf("CheckCDIKind(%q) = %v, want ok=%v", kind, err, ok)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Spec{Image: "debian:12", Cwd: "/", Name: "n", NameMode: NameAuto, Workdir: "/w",
		Mounts: []Mount{{Source: "/a", Target: "/b", Flags: []string{"ro"}}, {Target: "/t", Tmpfs: true}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good spec: %v", err)
	}
	for name, mutate := range map[string]func(*Spec){
		"name":            func(s *Spec) { s.Name = "../x" },
		"mode":            func(s *Spec) { s.NameMode = "often" },
		"unshare":         func(s *Spec) { s.Unshare = []string{"pid"} },
		"env name":        func(s *Spec) { s.Env = map[string]string{"A=B": "1"} },
		"target":          func(s *Spec) { s.Mounts = []Mount{{Source: "/a", Target: "rel"}} },
		"source":          func(s *Spec) { s.Mounts = []Mount{{Source: "/a/../etc", Target: "/x"}} },
		"flag":            func(s *Spec) { s.Mounts = []Mount{{Source: "/a", Target: "/x", Flags: []string{"x-create=dir"}}} },
		"workdir":         func(s *Spec) { s.Workdir = "w" },
		"image":           func(s *Spec) { s.Image = "bad image" },
		"var names":       func(s *Spec) { s.ContainerEnv = []string{"1A"} },
		"colon in source": func(s *Spec) { s.Mounts = []Mount{{Source: "/a:/etc", Target: "/x"}} },
		"comma in target": func(s *Spec) { s.Mounts = []Mount{{Source: "/a", Target: "/x,rw"}} },
		"comma in tmpfs":  func(s *Spec) { s.Mounts = []Mount{{Target: "/t", Tmpfs: true, Flags: []string{"size=1,exec"}}} },
		"tmpfs source":    func(s *Spec) { s.Mounts = []Mount{{Source: "/a", Target: "/t", Tmpfs: true}} },
		"annotation key":  func(s *Spec) { s.Annotations = map[string]string{"a=b": "c"} },
		"NUL":             func(s *Spec) { s.Env = map[string]string{"A": "x\x00y"} },
		"relative cwd":    func(s *Spec) { s.Cwd = "tmp" },
		"save":            func(s *Spec) { s.Save = "/a/../b" },
		"device path":     func(s *Spec) { s.Devices = []string{"/dev/nvidia0"} },
		"device comma":    func(s *Spec) { s.Devices = []string{"nvidia.com/gpu=0,nvidia.com/gpu=1"} },
		"device kind":     func(s *Spec) { s.Devices = []string{"nvidia.com/gpu"} },
		"device flag":     func(s *Spec) { s.Devices = []string{"--privileged"} },
		"device empty":    func(s *Spec) { s.Devices = []string{""} },
	} {
		s := good
		mutate(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: a bad spec passed", name)
		}
	}
}

func TestOtherHalf(t *testing.T) {
	for in, want := range map[string]string{
		"container-mount-home": "no-container-mount-home", "no-container-remap-root": "container-remap-root",
		"container-readonly": "container-writable", "container-entrypoint": "no-container-entrypoint",
		"container-image": "", "container-entrypoint-log": "",
	} {
		if got := OtherHalf(in); got != want {
			t.Errorf("OtherHalf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeSpec(t *testing.T) {
	good, err := EncodeSpec(Spec{Image: "debian:12", Cwd: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := DecodeSpec(good); err != nil || s.Image != "debian:12" {
		t.Fatalf("DecodeSpec(%s) = %+v, %v", good, s, err)
	}
	for name, js := range map[string]string{
		"unknown field": `{"image":"debian:12","cwd":"/","privileged":true}`,
		"two documents": `{"cwd":"/"}{"cwd":"/"}`,
		"not JSON":      `image=debian`,
		"invalid":       `{"image":"bad image","cwd":"/"}`,
		"host device":   `{"image":"debian:12","cwd":"/","devices":["/dev/nvidia0"]}`,
		"too large":     `{"cwd":"/","env":{"A":"` + strings.Repeat("x", MaxSpecBytes) + `"}}`,
	} {
		if _, err := DecodeSpec(js); err == nil {
			t.Errorf("%s: DecodeSpec accepted %.60s", name, js)
		}
	}
	// Empty lists and maps decode as none: one Spec, one ContainerKey,
	// however the document spelled them.
	bare, err := DecodeSpec(`{"cwd":"/","mounts":[{"source":"/a","target":"/a"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := DecodeSpec(`{"cwd":"/","mounts":[{"source":"/a","target":"/a","flags":[]}],"container_env":[],` +
		`"unshare":[],"devices":[],"env":{},"annotations":{}}`)
	if err != nil || !reflect.DeepEqual(empty, bare) || empty.ContainerKey("r") != bare.ContainerKey("r") {
		t.Errorf("empty lists and maps: %+v, %v; want %+v", empty, err, bare)
	}
	if s, err := DecodeSpec(`{"cwd":"/","mounts":[]}`); err != nil || s.Mounts != nil {
		t.Errorf(`"mounts":[] decodes to %#v, %v`, s.Mounts, err)
	}
	if _, err := EncodeSpec(Spec{Cwd: "/", Env: map[string]string{"A": strings.Repeat("x", MaxSpecBytes)}}); err == nil {
		t.Error("EncodeSpec accepted a spec too large to travel")
	}
}

// One row per rule of Effective: the command line over what a nested srun
// inherits from its sbatch.
func TestEffective(t *testing.T) {
	for _, tc := range []struct {
		name      string
		recorded  Flags
		inherited map[string]string
		want      Flags
	}{
		{"inherited only", Flags{}, map[string]string{"container-image": "a"}, Flags{"container-image": {"a"}}},
		{"replayed and own: own wins", Flags{"container-image": {"a", "b"}}, map[string]string{"container-image": "a"},
			Flags{"container-image": {"b"}}},
		{"replayed only", Flags{"container-image": {"a"}}, map[string]string{"container-image": "a"}, Flags{"container-image": {"a"}}},
		{"mounts add up", Flags{"container-mounts": {"/a", "/b"}}, map[string]string{"container-mounts": "/a"},
			Flags{"container-mounts": {"/a", "/b"}}},
		{"other half hides inherited", Flags{"container-readonly": {"1"}}, map[string]string{"container-writable": "1"},
			Flags{"container-readonly": {"1"}}},
		{"nothing", Flags{}, nil, Flags{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Effective(tc.recorded, tc.inherited)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if strings.Join(got[k], ",") != strings.Join(v, ",") {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// A step without a container accepts on its nodes only the options srun
// ignored at submit.
func TestUnseen(t *testing.T) {
	s := Spec{Ignored: []string{"--container-mounts"}}
	for _, tc := range []struct {
		flags Flags
		want  string
	}{
		{Flags{}, ""},
		{Flags{"container-mounts": {"/a"}}, ""},
		{Flags{"environment": {"/root/secret"}}, "--environment"},
		{Flags{"container-image": {"debian"}}, "--container-image"},
	} {
		if got := strings.Join(s.Unseen(tc.flags), ","); got != tc.want {
			t.Errorf("Unseen(%v) = %q, want %q", tc.flags, got, tc.want)
		}
	}
}
