package main

// node save: --container-save (nodectr.Save).

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/carina-hpc/carina/pkg/nodectr"
)

func nodeSave(args []string) error {
	var name, out string
	f, err := parseNodeFlags("node save", args, false, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "the container to save")
		fs.StringVar(&out, "out", "", "the squashfs file to write")
	})
	if err != nil {
		return err
	}
	if !filepath.IsAbs(out) || name == "" {
		return fmt.Errorf("node save: --name and an absolute --out are required")
	}
	resetOOMScore()
	s, d, unlock, err := f.lockStep()
	if err != nil {
		return err
	}
	defer unlock()
	return nodectr.Save(context.Background(), f.podmanFor(d), d, s, name, out)
}
