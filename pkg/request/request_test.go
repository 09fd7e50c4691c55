package request

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/option"
)

func TestDecode(t *testing.T) {
	good := Request{Kind: KindNodeUp, Site: config.Default(), Job: 7, Node: "n1",
		NodeUp: &NodeUp{Image: "debian:12", Spec: option.Spec{Image: "debian:12", Cwd: "/", Devices: []string{"example.com/fpga=a1"}},
			GPUs: []string{"0", "3"}}}
	var buf bytes.Buffer
	if err := Encode(&buf, good); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(&buf)
	if err != nil || got.NodeUp == nil || got.NodeUp.Image != "debian:12" || got.Site.Podman != good.Site.Podman ||
		strings.Join(got.NodeUp.GPUs, ",") != "0,3" || got.Site.GPUCDIKind != "nvidia.com/gpu" ||
		strings.Join(got.NodeUp.Spec.Devices, ",") != "example.com/fpga=a1" {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// The step's GPUs and the devices become podman --device arguments:
	// anything but indices and CDI names is refused before the helper acts.
	for name, mutate := range map[string]func(*Request){
		"GPU not an index":      func(r *Request) { r.NodeUp.GPUs = []string{"0", "/dev/nvidia1"} },
		"GPU with a comma":      func(r *Request) { r.NodeUp.GPUs = []string{"0,1"} },
		"GPU with leading zero": func(r *Request) { r.NodeUp.GPUs = []string{"01"} },
		"too many GPUs":         func(r *Request) { r.NodeUp.GPUs = make([]string, 1025) },
		"device a host path":    func(r *Request) { r.NodeUp.Spec.Devices = []string{"/dev/nvidia0"} },
		"device unqualified":    func(r *Request) { r.NodeUp.Spec.Devices = []string{"gpu=0"} },
		"bad CDI kind":          func(r *Request) { r.Site.GPUCDIKind = "nvidia.com" },
	} {
		r := good
		up := *good.NodeUp
		r.NodeUp = &up // each mutation sets a field anew: good stays as it is
		mutate(&r)
		if err := r.Check(); err == nil {
			t.Errorf("%s: Check accepted %+v", name, r.NodeUp)
		}
	}
	noGPU := good
	noGPU.Site.GPUCDIKind = ""
	if err := noGPU.Check(); err != nil {
		t.Errorf("cdi_kind \"\" (no GPUs injected) refused: %v", err)
	}
	for name, doc := range map[string]string{
		"unknown field":  `{"kind":"resolve","resolve":{"image":"x"},"privileged":true}`,
		"unknown kind":   `{"kind":"format-disk"}`,
		"missing part":   `{"kind":"node-up","job":1,"node":"n1"}`,
		"bad node name":  `{"kind":"node-down","job":1,"node":"../n1"}`,
		"no job":         `{"kind":"save","node":"n1","save":{"container":"c","out":"/o"}}`,
		"bad spec":       `{"kind":"node-up","job":1,"node":"n1","node_up":{"spec":{"mounts":[{"source":"/a:/b","target":"/x"}]}}}`,
		"not JSON":       `node up --job 1`,
		"resolve, fine?": `{"kind":"resolve"}`,
	} {
		if _, err := Decode(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: Decode accepted %s", name, doc)
		}
	}
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		name, stdout, stderr string
		runErr               error
		want                 string
	}{
		{"ok", `{"image":"pinned"}`, "", nil, ""},
		{"error reply", `{"error":{"message":"no such image"}}`, "", errors.New("exit status 1"), "carina: no such image"},
		{"prefixed once", `{"error":{"message":"carina: no such image"}}`, "", errors.New("exit status 1"), "carina: no such image"},
		{"died", ``, "progress\ncarina: killed\n", errors.New("signal: killed"), "carina: the helper gave no reply (signal: killed): killed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseReply([]byte(tc.stdout), tc.runErr, tc.stderr)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
				t.Fatalf("ParseReply = %v, want %q", err, tc.want)
			}
		})
	}
}
