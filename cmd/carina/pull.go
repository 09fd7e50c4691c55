package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/carina-hpc/carina/pkg/pull"
)

// pullInUserNS is the hidden command (pull.Internal) that node up and
// carina pull run for the pull: inside the user namespace, it pulls and
// prints image.Pulled as JSON.
func pullInUserNS(args []string) error {
	r, err := pull.ParseRequest(args)
	if err != nil {
		return err
	}
	p, err := pull.Run(context.Background(), r, os.Stderr)
	if err != nil || r.Init || r.GC { // --gc printed its report
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(p)
}
