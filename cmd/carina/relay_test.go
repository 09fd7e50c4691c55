package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/carina-hpc/carina/pkg/relay"
)

func TestRelayServeFlags(t *testing.T) {
	t.Setenv("PATH", "/srv/bin:/usr/bin")
	tests := []struct {
		name string
		args []string
		want relay.Config
		err  string // a part of the error; "" for none
	}{
		{name: "defaults", args: []string{"--socket", "/run/r.sock"},
			want: relay.Config{Socket: "/run/r.sock", Commands: relay.DefaultCommands, Path: "/srv/bin:/usr/bin"}},
		{name: "all flags", args: []string{"--socket=/s", "--commands", "srun, sbatch,,scancel", "--path", "/opt/slurm/bin"},
			want: relay.Config{Socket: "/s", Commands: []string{"srun", "sbatch", "scancel"}, Path: "/opt/slurm/bin"}},
		{name: "single dash", args: []string{"-socket", "/s", "-commands", "squeue"},
			want: relay.Config{Socket: "/s", Commands: []string{"squeue"}, Path: "/srv/bin:/usr/bin"}},
		{name: "no socket", args: nil, err: "usage: carina relay serve --socket PATH"},
		{name: "extra argument", args: []string{"--socket", "/s", "srun"}, err: "usage: carina relay serve"},
		{name: "no commands", args: []string{"--socket", "/s", "--commands", " , "}, err: "names no command"},
		{name: "unknown flag", args: []string{"--socket", "/s", "--verbose"}, err: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRelayServe(tt.args)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
