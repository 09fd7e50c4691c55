package nodectr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/relay"
	"github.com/carina-hpc/carina/pkg/squashfs"
)

// Teardown removes containers and whatever was started or mounted for
// them: the tasks still joined to them (EndJoined), their relay servers,
// squashfs and tmpfs mounts and state files.
func Teardown(ctx context.Context, p Podman, d plan.Dirs, names ...string) error {
	var errs []error
	for _, n := range names {
		if _, err := EndJoined(d, n); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(append(errs, p.Remove(ctx, names...))...)
	for _, n := range names {
		relay.Stop(d.Run, n, false)
		squashfs.Unmount(ctx, p, d, n)
		UnmountTmpfs(ctx, p, d, n)
		_ = os.Remove(filepath.Join(d.Run, n+".json"))
	}
	return err
}

// Kept lists the named containers that container_scope = "global" keeps
// on the step's node, by the names their user gave them. XDG_RUNTIME_DIR
// must be d.Run, as when the plugin runs podman.
func Kept(ctx context.Context, p Podman, s plan.Step) ([]string, error) {
	names, err := p.List(ctx, All, plan.LabelScope+"=global", plan.LabelNode+"="+s.Node)
	if err != nil {
		return nil, err
	}
	prefix := plan.GlobalContainer(s, "")
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, prefix)
	}
	return names, nil
}

// RemoveKept removes the kept containers the user names (as Kept lists
// them), all or none: an unknown name removes nothing. When no container
// of the user runs on the node any more, podman's pause process ends too.
func RemoveKept(ctx context.Context, p Podman, d plan.Dirs, s plan.Step, names []string) error {
	have, err := p.List(ctx, All, plan.LabelScope+"=global", plan.LabelNode+"="+s.Node)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, n := range have {
		known[n] = true
	}
	var remove []string
	for _, want := range names {
		n := plan.GlobalContainer(s, want)
		if !known[n] {
			return fmt.Errorf("no kept container %q on node %s", want, s.Node)
		}
		remove = append(remove, n)
	}
	if err := Teardown(ctx, p, d, remove...); err != nil {
		return err
	}
	if left, err := p.List(ctx, Running); err == nil && len(left) == 0 {
		return KillPause(d.Run)
	}
	return nil
}
