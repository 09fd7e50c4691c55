package nodectr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxOCIConfig bounds the config.json read: podman writes a few KiB; a
// larger file is no config of ours.
const maxOCIConfig = 8 << 20

// ReadOCIConfig reads the runtime configuration podman wrote for a
// container (State.OCIConfig), in the opencontainers/runtime-spec types.
// It runs as the job user, on the user's own store. Where podman made its
// directory the container root's (an image-based container: userdata is
// then 0700 and owned by a subordinate uid, measured with podman 4.3), it
// is read inside podman's user namespace, where the user is that root.
func (p Podman) ReadOCIConfig(ctx context.Context, path string) (*specs.Spec, error) {
	if path == "" {
		return nil, errors.New("podman named no OCI configuration for the container")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrPermission) {
		b, err = p.run(ctx, "unshare", "cat", "--", path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the container's OCI configuration: %w", err)
	}
	if len(b) > maxOCIConfig {
		return nil, fmt.Errorf("the container's OCI configuration %s is over %d bytes", path, maxOCIConfig)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parsing the container's OCI configuration %s: %w", path, err)
	}
	if s.Process == nil {
		return nil, fmt.Errorf("the container's OCI configuration %s has no process", path)
	}
	return &s, nil
}

// podmanOwn are the variables podman itself puts in every container's
// process (or sets per exec); they are no setting of the site's.
var podmanOwn = map[string]bool{"container": true, "HOSTNAME": true, "HOME": true, "TERM": true}

// AddedEnv are the variables of the container's process that neither the
// image (imageEnv, NAME=VALUE) nor carina's --env (given) set and that
// podman does not set itself: what CDI edits (a device's or spec's env)
// added. They reach joined tasks as the container's own variables do,
// as under podman exec. In the config's order; later duplicates win.
func AddedEnv(s *specs.Spec, imageEnv []string, given map[string]string) []string {
	known := map[string]bool{}
	for _, kv := range imageEnv {
		if n, _, ok := strings.Cut(kv, "="); ok {
			known[n] = true
		}
	}
	var out []string
	idx := map[string]int{}
	for _, kv := range s.Process.Env {
		n, _, ok := strings.Cut(kv, "=")
		if _, set := given[n]; !ok || n == "" || known[n] || set || podmanOwn[n] {
			continue
		}
		if i, dup := idx[n]; dup {
			out[i] = kv
			continue
		}
		idx[n] = len(out)
		out = append(out, kv)
	}
	return out
}
