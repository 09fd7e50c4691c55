// Command spank builds spank_carina.so (go build -buildmode=c-shared): the
// SPANK plugin loaded by srun, sbatch, salloc, slurmstepd and slurmd. The C
// files hold the Slurm entry points; the Go files, one per Slurm context
// (submit.go, step.go, taskexit.go, epilog.go), the work they hand on,
// always before any task is forked. The plugin stays lean: no
// containers/image transports or containers/storage here; the carina
// helper, run as the job user, holds those.
//
// This file runs in every context (slurm_spank_init: the plugstack
// arguments and the site file, and the log sink). Must not: read the
// job's environment; run after a fork.
package main

/*
#cgo CFLAGS: -Wall -Wextra -Werror
#include <stdlib.h>
#include "carina.h"
*/
import "C"

import (
	"sync"
	"unsafe"

	"go.uber.org/zap/zapcore"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/logging"
)

func main() {}

var (
	mu  sync.Mutex
	cfg = config.Default()
	log = logging.New(slurmSink, zapcore.DebugLevel)
)

// slurmSink routes a log line into Slurm's log (and, for errors in
// slurmstepd and srun, onto the user's terminal).
func slurmSink(level zapcore.Level, line string) {
	l := C.int(0)
	switch {
	case level >= zapcore.ErrorLevel:
		l = 2
	case level >= zapcore.InfoLevel:
		l = 1
	}
	cs := C.CString(line)
	C.carina_log(l, cs)
	C.free(unsafe.Pointer(cs))
}

func goStrings(argc C.int, argv **C.char) []string {
	if argc <= 0 || argv == nil {
		return nil
	}
	out := make([]string, 0, int(argc))
	for _, p := range unsafe.Slice(argv, int(argc)) {
		out = append(out, C.GoString(p))
	}
	return out
}

//export carinaInit
func carinaInit(ctx C.int, argc C.int, argv **C.char) C.int {
	c, err := config.ParseArgs(goStrings(argc, argv))
	if err != nil {
		// One plain line: srun shows it to the user as it is.
		log.Error("the site configuration is invalid, so carina cannot run: " + err.Error() +
			" (an admin checks it with carina config check)")
		return -1
	}
	mu.Lock()
	cfg = c
	mu.Unlock()
	return 0
}

func currentConfig() config.Config {
	mu.Lock()
	defer mu.Unlock()
	return cfg
}
