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
	"os/user"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/node"
	"github.com/carina-hpc/carina/pkg/nodectr"
	"github.com/carina-hpc/carina/pkg/plan"
)

func keptCmd(args []string) error {
	fs := flag.NewFlagSet("kept", flag.ContinueOnError)
	conf := fs.String("config", config.DefaultFile, "the site configuration (for the runtime and store directories)")
	nodeName := fs.String("node", os.Getenv("SLURMD_NODENAME"), "the Slurm node (default: this step's)")
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
	f := node.OnNode(c, *nodeName)
	s, d, unlock, err := f.Lock()
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
	pm := f.Podman(d)
	if rest[0] == "rm" {
		if err := nodectr.RemoveKept(ctx, pm, d, s, rest[1:]); err != nil {
			return err
		}
		// Their images are no longer held for them (gc may remove them).
		names := make([]string, 0, len(rest)-1)
		for _, n := range rest[1:] {
			names = append(names, plan.GlobalContainer(s, n))
		}
		stores := []string{d.Store}
		if u, err := user.Current(); err == nil {
			stores = append(stores, c.ImageStoreFor(s.UID, u.Username))
		}
		return node.ReleaseKept(stores, names...)
	}
	names, err := nodectr.Kept(ctx, pm, s)
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Println(n)
	}
	return nil
}
