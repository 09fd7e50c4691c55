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
		{"the step's GPUs stay the task's", []string{"SLURM_STEP_GPUS=0,1", "SLURM_GPUS_ON_NODE=2", "SLURM_JOB_GPUS=0,1"}, nil},
		{"other GPU selectors stay the task's", []string{"ROCR_VISIBLE_DEVICES=0", "GPU_DEVICE_ORDINAL=0"}, nil},
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

// TestBuild has one case per row of the precedence table in
// docs/USAGE.md ("Environment inside the container").
func TestBuild(t *testing.T) {
	host := map[string]bool{"NCCL_DEBUG": true, "SLURM_PROCID": true}
	has := func(n string) bool { return host[n] }
	tests := []struct {
		name     string
		image    []string
		file     map[string]string
		hostWins []string
		want     []Var
	}{
		{"row 2: image overrides host", []string{"PATH=/img/bin", "NCCL_DEBUG=WARN"}, nil, nil,
			[]Var{{"PATH", "/img/bin"}, {"NCCL_DEBUG", "WARN"}}},
		{"row 2: the site's [env] overrides the image's, per-task names dropped",
			WithSite([]string{"LD_LIBRARY_PATH=/img/lib"}, map[string]string{"LD_LIBRARY_PATH": "/site/lib", "PMI_RANK": "3"}),
			nil, nil, []Var{{"LD_LIBRARY_PATH", "/site/lib"}}},
		{"row 3: file overrides image", []string{"A=img"}, map[string]string{"A": "file", "B": "file"}, nil,
			[]Var{{"A", "file"}, {"B", "file"}}},
		{"row 4: --container-env keeps the host value", []string{"NCCL_DEBUG=WARN"}, map[string]string{"NCCL_DEBUG": "X"},
			[]string{"NCCL_DEBUG"}, nil},
		{"row 4: --container-env of an unset host variable leaves the image value", []string{"UNSET=img"}, nil,
			[]string{"UNSET"}, []Var{{"UNSET", "img"}}},
		{"row 5: per-task variables never come from image or file", []string{"SLURM_PROCID=9"},
			map[string]string{"PMIX_RANK": "9", "CUDA_VISIBLE_DEVICES": "7"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Build(tc.image, tc.file, tc.hostWins, has); !reflect.DeepEqual(got, tc.want) && len(got)+len(tc.want) > 0 {
				t.Fatalf("Build = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPrependPath(t *testing.T) {
	got := PrependPath([]Var{{"A", "1"}, {"PATH", "/img/bin"}}, "/.carina/bin", "/host")
	if got[1].Value != "/.carina/bin:/img/bin" {
		t.Fatalf("image PATH: %v", got)
	}
	got = PrependPath(nil, "/.carina/bin", "/host/bin")
	if len(got) != 1 || got[0].Value != "/.carina/bin:/host/bin" {
		t.Fatalf("no image PATH: %v", got)
	}
}

func TestHostLocaleToDrop(t *testing.T) {
	all := len(localeNames)
	tests := []struct {
		name     string
		vars     []Var
		hostWins []string
		kept     []string // locale names that must not be dropped
	}{
		{"all of the host's locale is dropped", nil, nil, nil},
		{"--container-env=LANG keeps the host's LANG", nil, []string{"LANG"}, []string{"LANG"}},
		{"the image's LANG is set by the join, not dropped", []Var{{"LANG", "C.UTF-8"}}, nil, []string{"LANG"}},
		{"other names are not locale", []Var{{"PATH", "/bin"}}, []string{"HOME"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := HostLocaleToDrop(tc.vars, tc.hostWins)
			if len(got) != all-len(tc.kept) {
				t.Fatalf("HostLocaleToDrop = %v, want all but %v", got, tc.kept)
			}
			for _, k := range tc.kept {
				for _, g := range got {
					if g == k {
						t.Fatalf("HostLocaleToDrop = %v drops %s", got, k)
					}
				}
			}
		})
	}
}
