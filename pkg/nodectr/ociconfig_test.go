package nodectr

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReadOCIConfigAddedEnv(t *testing.T) {
	dir := t.TempDir()
	// A config.json as podman writes it after a CDI spec added
	// CARINA_TEST_CDI (and a device's NVIDIA_X twice).
	cfg := `{"ociVersion":"1.2.0","process":{"cwd":"/","args":["/.carina-init"],"env":[
		"PATH=/usr/bin","container=podman","HOSTNAME=n1","HOME=/home/u","TERM=xterm",
		"FROM_FILE=1","CARINA_TEST_CDI=on","NVIDIA_X=a","NVIDIA_X=b","broken"]}}`
	p := filepath.Join(dir, "config.json")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Podman{}.ReadOCIConfig(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	got := AddedEnv(s, []string{"PATH=/usr/local/bin"}, map[string]string{"FROM_FILE": "1"})
	if want := []string{"CARINA_TEST_CDI=on", "NVIDIA_X=b"}; !slices.Equal(got, want) {
		t.Errorf("AddedEnv = %q, want %q", got, want)
	}
	bad := map[string]string{
		"missing":    filepath.Join(dir, "none.json"),
		"no process": write(t, dir, "np.json", `{"ociVersion":"1.2.0"}`),
		"not json":   write(t, dir, "nj.json", `{`),
		"no path":    "",
	}
	for name, path := range bad {
		if _, err := (Podman{}).ReadOCIConfig(context.Background(), path); err == nil {
			t.Errorf("%s: ReadOCIConfig(%q) gave no error", name, path)
		}
	}
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
