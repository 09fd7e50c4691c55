package image

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.podman.io/image/v5/docker"
)

func TestDescribe(t *testing.T) {
	const ref = "r.example/x:1"
	tests := []struct {
		err  error
		want string
	}{
		{errors.New(`reading digest 1 in r.example/x: StatusCode: 404, ""`), "image r.example/x:1 not found in its registry"},
		{errors.New("reading manifest 1 in r.example/x: manifest unknown"), "not found in its registry"},
		{errors.New("requested access to the resource is denied"), "access denied by the registry"},
		{errors.New(`reading digest 1: StatusCode: 401, ""`), "access denied by the registry"},
		{fmt.Errorf("wrapped: %w", docker.ErrUnauthorizedForCredentials{Err: errors.New("bad")}), "access denied by the registry"},
		{errors.New(`Get "https://r.example/v2/": dial tcp 1.2.3.4:443: connect: connection refused`), "registry unreachable"},
		{errors.New("lookup r.example: no such host"), "registry unreachable"},
		{errors.New("something else"), "pulling r.example/x:1: something else"},
	}
	for _, tc := range tests {
		got := describe(ref, tc.err).Error()
		if !strings.Contains(got, tc.want) {
			t.Errorf("describe(%q) = %q, want it to contain %q", tc.err, got, tc.want)
		}
	}
}
