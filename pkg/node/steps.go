package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/carina-hpc/carina/pkg/nodectr"
	"github.com/carina-hpc/carina/pkg/plan"
)

// stepRecord is the file that names the unnamed container of step
// JOBID.STEPID.
func stepRecord(d plan.Dirs, job uint32, step string) string {
	return filepath.Join(d.Run, fmt.Sprintf("step-%d.%s", job, step))
}

// recordStep notes name as this step's container; special steps (batch,
// extern) have none to name.
func (f Job) recordStep(d plan.Dirs, name string) error {
	if f.stepID >= 0xfffffff0 {
		return nil
	}
	file := stepRecord(d, uint32(f.job), strconv.FormatUint(uint64(f.stepID), 10))
	if err := nodectr.WriteFileAtomic(file, []byte(name)); err != nil {
		return fmt.Errorf("recording the step's container: %w", err)
	}
	return nil
}

// stepContainer resolves --container-name=JOBID.STEPID of this job to the
// unnamed container that step runs in, when there is one.
func (f Job) stepContainer(d plan.Dirs) (string, bool) {
	job, step, ok := strings.Cut(f.spec.Name, ".")
	if !ok || job != strconv.FormatUint(uint64(f.job), 10) || step == "" || strings.Trim(step, "0123456789") != "" {
		return "", false
	}
	b, err := os.ReadFile(stepRecord(d, uint32(f.job), step))
	if err != nil {
		return "", false
	}
	name := string(b)
	if !plan.IsJobContainer(name, uint32(f.job), f.node) {
		return "", false
	}
	return name, true
}

// dropStepRecords removes the job's step records (the job epilog).
func dropStepRecords(d plan.Dirs, job uint32) error {
	recs, err := filepath.Glob(filepath.Join(d.Run, fmt.Sprintf("step-%d.*", job)))
	if err != nil {
		return fmt.Errorf("listing the job's step records: %w", err)
	}
	for _, r := range recs {
		if err := os.Remove(r); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("removing %s: %w", r, err)
		}
	}
	return nil
}
