package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/carina-hpc/carina/pkg/nodectr"
	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/relay"
	"github.com/carina-hpc/carina/pkg/squashfs"
)

// removeContainers removes containers and whatever was mounted for them.
func removeContainers(ctx context.Context, pm nodectr.Podman, d plan.Dirs, names ...string) error {
	err := pm.Remove(ctx, names...)
	for _, n := range names {
		relay.Stop(d.Run, n, false)
		squashfs.Unmount(ctx, pm, d, n)
		_ = os.Remove(filepath.Join(d.Run, n+".json"))
	}
	return err
}
