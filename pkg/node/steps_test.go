package node

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/carina-hpc/carina/pkg/option"
	"github.com/carina-hpc/carina/pkg/plan"
)

func TestStepRecords(t *testing.T) {
	d := plan.Dirs{Run: t.TempDir()}
	s := plan.Step{JobID: 42, Node: "n1"}
	ctr := plan.ContainerName(s, "key")
	f := Job{job: 42, node: "n1", stepID: 3}
	if err := f.recordStep(d, ctr); err != nil {
		t.Fatal(err)
	}
	batch := Job{job: 42, node: "n1", stepID: 0xfffffffb}
	if err := batch.recordStep(d, ctr); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want string
		ok   bool
	}{
		{"42.3", ctr, true},
		{"42.4", "", false},  // no such step
		{"41.3", "", false},  // another job's step
		{"42.3x", "", false}, // not a step id
		{"work", "", false},  // an ordinary name
		{"42.", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := Job{job: 42, node: "n1", spec: option.Spec{Name: tc.name}}
			got, ok := j.stepContainer(d)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("stepContainer(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
			}
		})
	}
	// A record naming a container of another job is not followed.
	if err := os.WriteFile(filepath.Join(d.Run, "step-42.9"), []byte(plan.ContainerName(plan.Step{JobID: 7, Node: "n1"}, "k")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := (Job{job: 42, node: "n1", spec: option.Spec{Name: "42.9"}}).stepContainer(d); ok {
		t.Fatal("followed a record naming another job's container")
	}
	if err := dropStepRecords(d, 42); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(d.Run, "step-*")); len(left) != 0 {
		t.Fatalf("records left after the epilog: %v", left)
	}
}
