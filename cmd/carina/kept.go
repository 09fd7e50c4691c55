package main

// kept: the user's view of the named containers that container_scope =
// "global" keeps on a node between jobs. It runs as the user, in a job step
// on that node (srun -w NODE carina kept ...), and touches only the user's
// own runtime directory and store there.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/nodectr"
	"github.com/carina-hpc/carina/pkg/plan"
)

func keptCmd(args []string) error {
	fs := flag.NewFlagSet("kept", flag.ContinueOnError)
	conf := fs.String("config", config.DefaultFile, "the site configuration (for the runtime and store directories)")
	node := fs.String("node", os.Getenv("SLURMD_NODENAME"), "the Slurm node (default: this step's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 || (rest[0] != "list" && rest[0] != "rm") || (rest[0] == "rm" && len(rest) < 2) {
		return fmt.Errorf("usage: carina kept [--node NODE] list | rm NAME...")
	}
	c := config.Default()
	if _, err := os.Stat(*conf); err == nil {
		var err error
		if c, err = config.ParseFile(*conf, true); err != nil {
			return err
		}
	}
	// job only satisfies the step's checks: the directories are per node
	// and user, not per job.
	f := nodeFlags{job: 1, node: *node, runtimeDir: c.RuntimeDir, storeDir: c.StoreDir, podman: c.Podman,
		podmanFlags: c.PodmanFlags}
	s, d, unlock, err := f.lockStep()
	if err != nil {
		return err
	}
	defer unlock()
	// The podman of carina's containers keeps its state there (as the
	// plugin runs it).
	if err := os.Setenv("XDG_RUNTIME_DIR", d.Run); err != nil {
		return err
	}
	ctx := context.Background()
	pm := f.podmanFor(d)
	names, err := pm.List(ctx, nodectr.All, plan.LabelScope+"=global", plan.LabelNode+"="+s.Node)
	if err != nil {
		return err
	}
	prefix := plan.GlobalContainer(s, "")
	if rest[0] == "list" {
		for _, n := range names {
			fmt.Println(strings.TrimPrefix(n, prefix))
		}
		return nil
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	var remove []string
	for _, want := range rest[1:] {
		n := plan.GlobalContainer(s, want)
		if !have[n] {
			return fmt.Errorf("no kept container %q on node %s", want, s.Node)
		}
		remove = append(remove, n)
	}
	if err := removeContainers(ctx, pm, d, remove...); err != nil {
		return err
	}
	if left, err := pm.List(ctx, nodectr.Running); err == nil && len(left) == 0 {
		return nodectr.KillPause(d.Run)
	}
	return nil
}
