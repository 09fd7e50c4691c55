package taskenv

import (
	"reflect"
	"testing"
)

func TestFromImage(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []Var
	}{
		{"image PATH applies", []string{"PATH=/opt/bin:/usr/bin"}, []Var{{"PATH", "/opt/bin:/usr/bin"}}},
		{"SLURM_PROCID stays the task's", []string{"SLURM_PROCID=0", "A=1"}, []Var{{"A", "1"}}},
		{"PMI and PMIx stay the task's", []string{"PMI_RANK=0", "PMIX_RANK=0", "PMI_FD=3"}, nil},
		{"MPI stays the task's", []string{"OMPI_COMM_WORLD_RANK=0"}, nil},
		{"GPU selection stays the task's", []string{"CUDA_VISIBLE_DEVICES=0"}, nil},
		{"HOME stays the user's", []string{"HOME=/root"}, nil},
		{"malformed dropped", []string{"NOEQUALS", "=x", "B=2"}, []Var{{"B", "2"}}},
		{"empty value kept", []string{"EMPTY="}, []Var{{"EMPTY", ""}}},
		{"value with =", []string{"OPTS=a=b"}, []Var{{"OPTS", "a=b"}}},
		{"later duplicate wins", []string{"X=1", "Y=2", "X=3"}, []Var{{"X", "3"}, {"Y", "2"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromImage(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("FromImage(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
