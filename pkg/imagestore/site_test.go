package imagestore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSiteIndex(t *testing.T) {
	dir := t.TempDir()
	id1, id2 := strings.Repeat("a", 64), strings.Repeat("b", 64)
	if imgs, err := ReadSite(dir); err != nil || len(imgs) != 0 {
		t.Fatalf("empty site: %v, %v", imgs, err)
	}
	for _, id := range []string{id1, id2} {
		if err := os.MkdirAll(filepath.Dir(SquashFile(dir, id)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(SquashFile(dir, id), []byte("hsqs"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		add    SiteImage
		find   string
		wantID string
	}{
		{"added image is found by digest", SiteImage{ID: id1, Digests: []string{"sha256:d1"}, Env: []string{"PATH=/x"}}, "sha256:d1", id1},
		{"second image", SiteImage{ID: id2, Digests: []string{"sha256:d2", "sha256:d3"}}, "sha256:d3", id2},
		{"re-adding replaces the entry", SiteImage{ID: id1, Digests: []string{"sha256:d4"}}, "sha256:d1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := AddSite(dir, tc.add); err != nil {
				t.Fatal(err)
			}
			img, ok, err := FindSite(dir, tc.find)
			if err != nil || ok != (tc.wantID != "") || img.ID != tc.wantID {
				t.Fatalf("FindSite(%s) = %+v, %v, %v", tc.find, img, ok, err)
			}
		})
	}
	if fi, err := os.Stat(SquashFile(dir, id1)); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("squashfs not world-readable: %v %v", fi.Mode(), err)
	}
	if imgs, _ := ReadSite(dir); len(imgs) != 2 {
		t.Fatalf("index holds %d images, want 2", len(imgs))
	}
	if err := AddSite(dir, SiteImage{ID: "nothex"}); err == nil {
		t.Fatal("accepted a bad image id")
	}
}
