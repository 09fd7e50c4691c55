package main

// Runs in: the job epilog (root, once per node per job, its own
// short-lived process; slurm_spank_init is not called here). Must not:
// fail (a failed epilog drains the node); read the job's environment (the
// user's); open a path below the user's directories.

/*
#include "carina.h"
*/
import "C"

import (
	"context"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/request"
	"github.com/carina-hpc/carina/pkg/runas"
)

// carinaJobEpilog has the helper remove the job's containers as the user.
//
//export carinaJobEpilog
func carinaJobEpilog(sp *C.struct_spank_handle, argc C.int, argv **C.char) C.int {
	c, err := config.ParseArgs(goStrings(argc, argv))
	if err != nil {
		log.Error("job epilog: invalid plugstack.conf configuration", zap.Error(err))
		return 0
	}
	ids, err := readJobIDs(sp, false)
	if err != nil {
		log.Error("job epilog", zap.Error(err))
		return 0
	}
	node, err := nodeName(true)
	if err != nil {
		log.Error("job epilog", zap.Error(err))
		return 0
	}
	step := plan.Step{JobID: ids.job, Node: node, UID: ids.uid}
	if err := step.Validate(); err != nil {
		log.Error("job epilog", zap.Error(err))
		return 0
	}
	d := plan.DirsFor(c.RuntimeDir, c.StoreDir, step)
	if _, err := os.Lstat(d.Run); err != nil {
		return 0 // carina never ran for this user on this node
	}
	u, err := runas.Lookup(ids.uid, ids.gid)
	if err != nil {
		log.Error("job epilog", zap.Uint32("job", ids.job), zap.Error(err))
		return 0
	}
	req := request.Request{Kind: request.KindNodeDown, Site: c, Job: ids.job, Node: node,
		ImageStore: visibleStore(c, ids.uid, u.Name)}
	if _, err := (runas.Cmd{Path: c.Helper, As: u, Env: []string{"XDG_RUNTIME_DIR=" + d.Run},
		Timeout: 2 * time.Minute}).Call(context.Background(), req); err != nil {
		log.Error("job epilog: removing containers failed", zap.Uint32("job", ids.job), zap.Error(err))
	}
	return 0
}
