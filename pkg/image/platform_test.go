package image

import (
	"runtime"
	"strings"
	"testing"
)

func TestSamePlatform(t *testing.T) {
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	tests := []struct {
		os, arch string
		want     string // in the error; "" = runs here
	}{
		{runtime.GOOS, runtime.GOARCH, ""},
		{"", "", ""},
		{runtime.GOOS, "", ""},
		{runtime.GOOS, other, "is built for linux/" + other + ", and this node runs linux/" + runtime.GOARCH},
		{"windows", runtime.GOARCH, "is built for windows/" + runtime.GOARCH},
		{"", other, "is built for ?/" + other},
	}
	for _, tc := range tests {
		err := samePlatform("reg/a:1", tc.os, tc.arch)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s/%s: %v", tc.os, tc.arch, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s/%s: error %v, want %q", tc.os, tc.arch, err, tc.want)
		}
	}
}
