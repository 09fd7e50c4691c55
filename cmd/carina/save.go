package main

// node save: --container-save (nodectr.Save), from a plugin request.

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/carina-hpc/carina/pkg/nodectr"
)

func nodeSave(f nodeFlags, name, out string) error {
	if !filepath.IsAbs(out) || name == "" {
		return fmt.Errorf("node save: a container name and an absolute output path are required")
	}
	resetOOMScore()
	s, d, unlock, err := f.lockStep()
	if err != nil {
		return err
	}
	defer unlock()
	return nodectr.Save(context.Background(), f.podmanFor(d), d, s, name, out)
}
