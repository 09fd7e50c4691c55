package node

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/option"
)

func TestCDIDevices(t *testing.T) {
	tests := []struct {
		name       string
		spec, gpus []string
		kind       string
		want       []string
	}{
		{"nothing", nil, nil, "nvidia.com/gpu", nil},
		{"GPUs", nil, []string{"0", "1"}, "nvidia.com/gpu", []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}},
		{"GPUs in index order as given", nil, []string{"2", "10"}, "nvidia.com/gpu", []string{"nvidia.com/gpu=2", "nvidia.com/gpu=10"}},
		{"injection off", []string{"example.com/fpga=a"}, []string{"0"}, "", []string{"example.com/fpga=a"}},
		{"file's devices first", []string{"example.com/fpga=a"}, []string{"3"}, "nvidia.com/gpu",
			[]string{"example.com/fpga=a", "nvidia.com/gpu=3"}},
		{"duplicates dropped, first kept", []string{"nvidia.com/gpu=1", "example.com/fpga=a"}, []string{"0", "1"}, "nvidia.com/gpu",
			[]string{"nvidia.com/gpu=1", "example.com/fpga=a", "nvidia.com/gpu=0"}},
		{"all and the GPUs", []string{"nvidia.com/gpu=all"}, []string{"0"}, "nvidia.com/gpu",
			[]string{"nvidia.com/gpu=all", "nvidia.com/gpu=0"}},
		{"another kind", nil, []string{"0"}, "amd.com/gpu", []string{"amd.com/gpu=0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := append([]string(nil), tc.spec...)
			if got := cdiDevices(spec, tc.kind, tc.gpus); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("cdiDevices(%q, %q, %q) = %q, want %q", tc.spec, tc.kind, tc.gpus, got, tc.want)
			}
			if !reflect.DeepEqual(spec, tc.spec) && tc.spec != nil {
				t.Fatalf("cdiDevices changed its argument: %q", spec)
			}
		})
	}
}

// The container's name follows its devices: other GPUs, another
// container; no devices, the key the Spec alone gives (containers made
// before devices existed keep their names).
func TestContainerKeyDevices(t *testing.T) {
	job := func(kind string, specDevs []string, gpus ...string) Job {
		c := config.Default()
		c.GPUCDIKind = kind
		return Job{site: c, image: "img@sha256:1", spec: option.Spec{Image: "img", Devices: specDevs}, gpus: gpus}
	}
	plain := job("nvidia.com/gpu", nil)
	if plain.containerKey() != plain.spec.ContainerKey(plain.image) {
		t.Fatalf("no devices: %s, want the Spec's own key", plain.containerKey())
	}
	gpu0, gpu1, gpu01 := job("nvidia.com/gpu", nil, "0"), job("nvidia.com/gpu", nil, "1"), job("nvidia.com/gpu", nil, "0", "1")
	keys := map[string]string{}
	for name, j := range map[string]Job{"none": plain, "0": gpu0, "1": gpu1, "0,1": gpu01,
		"file": job("nvidia.com/gpu", []string{"example.com/fpga=a"})} {
		if other, dup := keys[j.containerKey()]; dup {
			t.Errorf("GPUs %s and %s share a container key", name, other)
		}
		keys[j.containerKey()] = name
	}
	if job("nvidia.com/gpu", []string{"nvidia.com/gpu=0"}).containerKey() != gpu0.containerKey() {
		t.Error("the same final devices gave two keys")
	}
	if job("", nil, "0").containerKey() != plain.containerKey() {
		t.Error(`with cdi_kind = "" the GPUs changed the key`)
	}
	if gpu0.containerKey() != job("nvidia.com/gpu", nil, "0").containerKey() {
		t.Error("the key is not deterministic")
	}
}

func TestCDIStartError(t *testing.T) {
	gpus := []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}
	podman := func(msg string) error { return errors.New("podman run: exit status 125: Error: " + msg) }
	tests := []struct {
		name          string
		devices, gpus []string
		envFile       string
		err           error
		want          string // "" = not a CDI error
	}{
		{"not CDI", gpus, gpus, "", podman("image not known"), ""},
		{"no devices", nil, nil, "", podman("CDI something"), ""},
		{"podman 4.3, GPUs", gpus, gpus, "", podman("setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=0, nvidia.com/gpu=1"),
			`the step's GPUs on n1 need the CDI devices nvidia.com/gpu=0, nvidia.com/gpu=1, which no CDI spec in /etc/cdi or ` +
				`/var/run/cdi defines; the site generates one (nvidia-ctk cdi generate) or sets [gpu] cdi_kind = ""`},
		{"only the GPUs podman names", gpus, gpus, "", podman("setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=1"),
			"the step's GPUs on n1 need the CDI devices nvidia.com/gpu=1, which"},
		{"names none: all", []string{"nvidia.com/gpu=1"}, []string{"nvidia.com/gpu=1"}, "",
			podman("setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=10"),
			"the step's GPUs on n1 need the CDI devices nvidia.com/gpu=1, which"},
		{"a file's device", []string{"example.com/fpga=a", "nvidia.com/gpu=0"}, []string{"nvidia.com/gpu=0"}, "/home/u/e.toml",
			podman("failed to inject devices: unresolvable CDI devices example.com/fpga=a"),
			"the environment file /home/u/e.toml asks for the CDI devices example.com/fpga=a, which no CDI spec in /etc/cdi or " +
				"/var/run/cdi on n1 defines; the site adds a CDI spec for them, or the file's devices drop them"},
		{"both", []string{"example.com/fpga=a", "nvidia.com/gpu=0"}, []string{"nvidia.com/gpu=0"}, "/e.toml",
			podman("unresolvable CDI devices example.com/fpga=a, nvidia.com/gpu=0"),
			"the step's GPUs on n1 need the CDI devices nvidia.com/gpu=0, which no CDI spec in /etc/cdi or /var/run/cdi defines; " +
				`the site generates one (nvidia-ctk cdi generate) or sets [gpu] cdi_kind = ""; and the environment file /e.toml asks for`},
		{"another CDI failure", gpus, gpus, "", podman("CDI registry has errors: invalid spec /etc/cdi/x.yaml"),
			"setting up the CDI devices nvidia.com/gpu=0, nvidia.com/gpu=1 on n1 failed (podman run: exit status 125: " +
				"Error: CDI registry has errors: invalid spec /etc/cdi/x.yaml); the site checks its CDI specs in /etc/cdi or /var/run/cdi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := cdiStartError("n1", tc.devices, tc.gpus, tc.envFile, tc.err)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("cdiStartError = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("cdiStartError =\n%v\nwant one line starting\n%s", err, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("podman's error is not wrapped: %v", err)
			}
		})
	}
}
