package plan

import (
	"strings"
	"testing"
)

func TestStepValidate(t *testing.T) {
	tests := []struct {
		step Step
		ok   bool
	}{
		{Step{JobID: 1, Node: "n1"}, true},
		{Step{JobID: 1, Node: "gpu-01.cluster"}, true},
		{Step{JobID: 1, Node: ""}, false},
		{Step{JobID: 1, Node: "../etc"}, false},
		{Step{JobID: 1, Node: "a/b"}, false},
		{Step{JobID: 0, Node: "n1"}, false},
	}
	for _, tc := range tests {
		if err := tc.step.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.step, err, tc.ok)
		}
	}
}

func TestDirsFor(t *testing.T) {
	d := DirsFor("/run/carina", "/var/lib/carina", Step{JobID: 7, Node: "n2", UID: 1001})
	want := Dirs{Run: "/run/carina/n2/1001", RunRoot: "/run/carina/n2/1001/storage",
		Store: "/var/lib/carina/n2/1001", Graph: "/var/lib/carina/n2/1001/storage"}
	if d != want {
		t.Fatalf("DirsFor = %+v, want %+v", d, want)
	}
}

func TestContainerName(t *testing.T) {
	s := Step{JobID: 42, Node: "n1"}
	a := ContainerName(s, "127.0.0.1:5000/debian:12")
	b := ContainerName(s, "127.0.0.1:5000/noshell:1")
	if a == b {
		t.Fatal("different images share a container name")
	}
	if a != ContainerName(s, "127.0.0.1:5000/debian:12") {
		t.Fatal("container name is not stable")
	}
	if !strings.HasPrefix(a, "carina-42-n1-") || !IsJobContainer(a, 42, "n1") {
		t.Fatalf("name %q lacks the job prefix", a)
	}
	if IsJobContainer(a, 4, "n1") || IsJobContainer(a, 42, "n") {
		t.Fatalf("name %q matched another job or node", a)
	}
}
