package image

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"go.podman.io/image/v5/types"
)

func TestCandidates(t *testing.T) {
	tests := []struct {
		name, conf, ref string
		want            []string
	}{
		{"qualified names are kept", "", "127.0.0.1:5000/debian:12", []string{"127.0.0.1:5000/debian:12"}},
		{"no search registries: docker.io, as pyxis", "", "debian:12", []string{"docker.io/library/debian:12"}},
		{"alias", "[aliases]\n\"carina/debian\" = \"127.0.0.1:5000/debian\"\n", "carina/debian:12",
			[]string{"127.0.0.1:5000/debian:12"}},
		{"search registries in order", "unqualified-search-registries = [\"r1.example\", \"r2.example\"]\n", "app",
			[]string{"r1.example/app:latest", "r2.example/app:latest"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "registries.conf")
			if err := os.WriteFile(conf, []byte(tc.conf), 0o600); err != nil {
				t.Fatal(err)
			}
			sys := &types.SystemContext{SystemRegistriesConfPath: conf,
				SystemRegistriesConfDirPath: filepath.Join(dir, "none.d")}
			got, err := candidates(sys, tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, n := range got {
				names = append(names, n.String())
			}
			if !reflect.DeepEqual(names, tc.want) {
				t.Fatalf("candidates(%q) = %q, want %q", tc.ref, names, tc.want)
			}
		})
	}
}
