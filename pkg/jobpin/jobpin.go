// Package jobpin keeps, for one job, the digest each image reference was
// pinned to by the first step of the job that named it, so that every
// later step naming the same reference (srun after srun in an salloc or a
// batch script) runs the same bytes and asks no registry. sbatch and
// salloc with --container-image pass their pin down in the environment;
// this covers steps whose allocation named no image, or another one.
//
// The pins are the user's own: a file per job below the user's cache
// directory (~/.cache/carina/pins/JOBID.json), written by srun as the
// user; they are no secret and root never reads them. A lock per job
// serialises steps that start together, so the second waits for the
// first's pin instead of asking the registry itself. Files of jobs not
// used for MaxAge are removed when a new job's file is written.
package jobpin

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// MaxAge is how long a job's pins are kept after their last use.
const MaxAge = 60 * 24 * time.Hour

// maxFile bounds a pin file: a job names a few images.
const maxFile = 1 << 20

// Dir is where the pins live below the user's cache directory.
func Dir(cacheDir string) string { return filepath.Join(cacheDir, "carina", "pins") }

// Pin returns the pin of ref for job: the one recorded by an earlier step
// (reused true), or what resolve gives, then recorded for later steps.
func Pin(dir, job, ref string, resolve func() (string, error)) (pin string, reused bool, err error) {
	if job == "" || strings.Trim(job, "0123456789") != "" || len(job) > 20 {
		return "", false, fmt.Errorf("job id %q: want digits", job)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("keeping the job's image pins: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, job+".lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("keeping the job's image pins: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", false, fmt.Errorf("locking the job's image pins: %w", err)
	}
	file := filepath.Join(dir, job+".json")
	pins, err := read(file)
	if err != nil {
		return "", false, err
	}
	if p, ok := pins[ref]; ok && p != "" {
		now := time.Now()
		_ = os.Chtimes(file, now, now) // in use: not pruned
		return p, true, nil
	}
	if pin, err = resolve(); err != nil {
		return "", false, err
	}
	pins[ref] = pin
	if err := write(file, pins); err != nil {
		return pin, false, err
	}
	prune(dir, time.Now().Add(-MaxAge))
	return pin, false, nil
}

func read(file string) (map[string]string, error) {
	pins := map[string]string{}
	f, err := os.OpenFile(file, os.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return pins, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the job's image pins: %w", err)
	}
	defer f.Close()
	b := make([]byte, maxFile+1)
	n, _ := f.Read(b)
	if n > maxFile || json.Unmarshal(b[:n], &pins) != nil {
		// Not ours (or cut short): start again rather than trust it.
		return map[string]string{}, nil
	}
	return pins, nil
}

func write(file string, pins map[string]string) error {
	b, err := json.Marshal(pins)
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("recording the job's image pins: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("recording the job's image pins: %w", err)
	}
	return nil
}

// prune removes the pins (and locks) of jobs last used before cutoff.
func prune(dir string, cutoff time.Time) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		job := strings.TrimSuffix(name, ".json")
		if job == name || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			_ = os.Remove(filepath.Join(dir, name))
			_ = os.Remove(filepath.Join(dir, job+".lock"))
		}
	}
}
