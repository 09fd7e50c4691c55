package image

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/types"
)

func TestWithCredentials(t *testing.T) {
	dir := t.TempDir()
	file := func(name, registry, user, pass string) string {
		p := filepath.Join(dir, name)
		a := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		if err := os.WriteFile(p, []byte(`{"auths":{"`+registry+`":{"auth":"`+a+`"}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := file("auth.json", "reg.example:5001", "alice", "one")
	second := file("config.json", "reg.example:5001", "bob", "two")
	other := file("other.json", "elsewhere.example", "carol", "three")
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	notOpenable := filepath.Join(first, "auth.json") // below a file: ENOTDIR, as a path the user cannot reach
	named, err := reference.ParseNormalizedNamed("reg.example:5001/app:1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		creds   Credentials
		want    types.DockerAuthConfig
		wantErr bool
	}{
		{"first file with the registry wins", Credentials{other, first, second}, types.DockerAuthConfig{Username: "alice", Password: "one"}, false},
		{"unreachable and missing files are passed over", Credentials{notOpenable, filepath.Join(dir, "none.json"), second},
			types.DockerAuthConfig{Username: "bob", Password: "two"}, false},
		{"no file for the registry: anonymous", Credentials{other}, types.DockerAuthConfig{}, false},
		{"no files: anonymous", nil, types.DockerAuthConfig{}, false},
		{"a readable file that does not parse names itself", Credentials{broken, first}, types.DockerAuthConfig{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, err := tc.creds.withCredentials(&types.SystemContext{}, named)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), broken) {
					t.Fatalf("error = %v, want one naming %s", err, broken)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.DockerAuthConfig == nil || *s.DockerAuthConfig != tc.want {
				t.Errorf("DockerAuthConfig = %+v, want %+v", s.DockerAuthConfig, tc.want)
			}
		})
	}
}
