package image

import (
	"reflect"
	"strings"
	"testing"
)

var (
	digA  = "sha256:" + strings.Repeat("a", 64)
	digB  = "sha256:" + strings.Repeat("b", 64)
	digB2 = "sha256:" + strings.Repeat("c", 64)
	// Ids chosen so that "12" is a prefix of two of them.
	stored = []StoredImage{
		{ID: "1234" + strings.Repeat("0", 60), Names: []string{"docker.io/library/alpine:3.20"}, Digests: []string{digA}},
		{ID: "1299" + strings.Repeat("0", 60), Names: []string{"127.0.0.1:5000/noshell@" + digB}, Digests: []string{digB}},
		{ID: "ab" + strings.Repeat("0", 62), Names: []string{"r.example/team/tool:1", "r.example/team/tool:latest", "r.example/other/tool:2"},
			Digests: []string{digB2}},
		{ID: "cd" + strings.Repeat("0", 62), Names: []string{"r.example/debian:12", "r.example/debian:13"}},
		{ID: "ce" + strings.Repeat("0", 62), Names: []string{"s.example/debian:12"}},
		{ID: "cf" + strings.Repeat("0", 62)},
	}
)

func TestFindStored(t *testing.T) {
	tests := []struct {
		query   string
		want    string // id prefix; "" for an error
		errLike string
	}{
		{stored[0].ID, "1234", ""},
		{"docker.io/library/alpine:3.20", "1234", ""},
		{"alpine:3.20", "1234", ""},
		{"library/alpine:3.20", "1234", ""},
		{"alpine", "1234", ""}, // no :latest, but its only image
		{"alpine:3.19", "", "not in the store"},
		{"docker.io/library/alpine@" + digA, "1234", ""}, // a tagged image by digest
		{"127.0.0.1:5000/noshell@" + digB, "1299", ""},
		{"noshell@" + digB, "1299", ""},
		{"noshell", "1299", ""},
		{"127.0.0.1:5000/noshell", "1299", ""},
		{"r.example/team/tool", "ab", ""}, // :latest
		{"team/tool:1", "ab", ""},
		{"tool:2", "ab", ""},
		{"tool", "ab", ""},
		{"r.example/debian:13", "cd", ""},
		{"debian:13", "cd", ""},
		{"debian:12", "", "ambiguous"},
		{"debian", "", "ambiguous"},
		{"1234", "1234", ""},
		{"12", "", "ambiguous"},
		{"cf", "cf", ""},
		{"c", "", "ambiguous"},
		{"ff", "", "not in the store"},
		{"", "", "empty"},
		{"UPPER", "", "not in the store"},
	}
	for _, tc := range tests {
		got, err := FindStored(stored, tc.query)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("FindStored(%q) = %.12s, want an error like %q", tc.query, got.ID, tc.errLike)
		case tc.want == "" && !strings.Contains(err.Error(), tc.errLike):
			t.Errorf("FindStored(%q) error %q, want it to contain %q", tc.query, err, tc.errLike)
		case tc.want != "" && err != nil:
			t.Errorf("FindStored(%q): %v", tc.query, err)
		case tc.want != "" && !strings.HasPrefix(got.ID, tc.want):
			t.Errorf("FindStored(%q) = %.12s, want %s...", tc.query, got.ID, tc.want)
		}
	}
}

func TestDisplayNames(t *testing.T) {
	tests := []struct {
		img  StoredImage
		want []string
	}{
		{stored[0], []string{"docker.io/library/alpine:3.20", "docker.io/library/alpine@" + digA}},
		{stored[1], []string{"127.0.0.1:5000/noshell@" + digB}},
		{stored[2], []string{"r.example/team/tool:1", "r.example/team/tool:latest", "r.example/other/tool:2",
			"r.example/other/tool@" + digB2, "r.example/team/tool@" + digB2}},
		{StoredImage{Names: []string{"r.example/x:1", "r.example/x@" + digA}, Digests: []string{digA, digB}},
			[]string{"r.example/x:1", "r.example/x@" + digA, "r.example/x@" + digB}},
		{stored[5], nil},
	}
	for _, tc := range tests {
		if got := DisplayNames(tc.img); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("DisplayNames(%v) = %v, want %v", tc.img.Names, got, tc.want)
		}
	}
}
