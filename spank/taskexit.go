package main

// Runs in: slurmstepd (root, the tasks' parent), slurm_spank_task_exit,
// after a task of the step ended on this node. Must not: open the save
// target or any path the user named (the helper writes it, as the user).

/*
#include "carina.h"
*/
import "C"

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/request"
	"github.com/carina-hpc/carina/pkg/runas"
)

// saveJob is what --container-save needs when the step ends on this node:
// kept by nodeUp in this slurmstepd.
type saveJob struct {
	out       string
	container string
	step      plan.Step
	user      runas.User
	cfg       config.Config
	exited    uint32
}

var (
	saveMu   sync.Mutex
	saveNext *saveJob
)

// carinaTaskExit runs each time a task of the step ends on this node;
// after the last one, the first node of the step saves the container's
// filesystem as a squashfs file (--container-save). A failure is
// reported, never fatal to the job.
//
//export carinaTaskExit
func carinaTaskExit(sp *C.struct_spank_handle) C.int {
	saveMu.Lock()
	defer saveMu.Unlock()
	j := saveNext
	if j == nil {
		return 0
	}
	j.exited++
	var total C.uint32_t
	if C.carina_local_tasks(sp, &total) != 0 || j.exited < uint32(total) {
		return 0
	}
	saveNext = nil
	d := plan.DirsFor(j.cfg.RuntimeDir, j.cfg.StoreDir, j.step)
	req := request.Request{Kind: request.KindSave, Site: j.cfg, Job: j.step.JobID, Node: j.step.Node,
		Save: &request.Save{Container: j.container, Out: j.out}}
	start := time.Now()
	if _, err := (runas.Cmd{Path: j.cfg.Helper, As: j.user, Env: []string{"XDG_RUNTIME_DIR=" + d.Run},
		Timeout: j.cfg.HelperLimit}).Call(context.Background(), req); err != nil {
		log.Error("carina: --container-save=" + j.out + ": " + strings.TrimPrefix(err.Error(), "carina: "))
		return 0
	}
	log.Info("carina: container saved", zap.String("file", j.out), zap.Duration("took", time.Since(start)))
	return 0
}
