// Package imagestore keeps the bookkeeping that lets carina tell which
// images of a user's image store are used, and presents the store's images
// to users and admins. It imports no containers/* package: the SPANK side
// and unit tests can use it with the standard library alone.
//
// An image store is a directory DIR whose containers/storage graph root is
// DIR/storage. Next to it carina keeps, written only as the store's user:
//
//	DIR/pull.lock                        flock(2) taken by whoever modifies the store
//	DIR/carina/used/<imageID>            empty; its mtime is when a job last started on the image
//	DIR/carina/leases/<imageID>/<node>-<job>
//	                                     empty; one per node and job running the image
//	DIR/carina/leases/<imageID>/kept@<container>
//	                                     empty; one per kept global container on the image
//
// `carina node up` calls Lease on every node for every job that runs an
// image, `carina node down` (the job epilog) calls Release, and garbage
// collection (`carina gc`, `carina rmi`) never removes an image for which
// InUse is true, and removes the others least recently used first
// (LastUsed; an image never leased counts as the oldest).
//
// A global named container (container_scope = "global") outlives its jobs
// and is started again on its image's layers, so it holds a lease of its
// own, KeepLease, from its creation to its removal (ReleaseKept): gc
// never removes an image a kept container may still start on.
//
// Known limitation: a lease is only removed by Release. When a node
// crashes, or its epilog does not run, the lease stays and the image is
// kept as in use for ever. StaleLeases lists leases older than a bound so
// that an admin (or a future, Slurm-aware cleanup that checks the jobs are
// gone) can remove them; nothing calls it automatically, because a lease's
// age alone does not prove its job has ended (jobs may run for weeks).
package imagestore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	imageIDRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	// podman's container names, bounded so that a lease name is a file name
	containerRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$`)
)

// ValidImageID reports an error unless id is a full image id (64
// lowercase hexadecimal digits), so that it cannot name a path outside the
// bookkeeping directories.
func ValidImageID(id string) error {
	if !imageIDRE.MatchString(id) {
		return fmt.Errorf("invalid image id %q: want 64 lowercase hexadecimal digits", id)
	}
	return nil
}

// ValidNode reports an error unless node is a plausible Slurm node name.
func ValidNode(node string) error {
	if !nodeNameRE.MatchString(node) {
		return fmt.Errorf("invalid node name %q", node)
	}
	return nil
}

func checkDir(dir string) error {
	if dir == "" {
		return errors.New("image store directory is empty")
	}
	return nil
}

func usedDir(dir string) string   { return filepath.Join(dir, "carina", "used") }
func leasesDir(dir string) string { return filepath.Join(dir, "carina", "leases") }
func leaseName(node string, job uint32) string {
	return node + "-" + strconv.FormatUint(uint64(job), 10)
}

// Lease records that job runs image imageID on node: it creates
// DIR/carina/leases/<imageID>/<node>-<job> (refreshing its mtime when it
// exists) and marks the image used now.
func Lease(dir, imageID, node string, job uint32) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	if err := ValidImageID(imageID); err != nil {
		return err
	}
	if err := ValidNode(node); err != nil {
		return err
	}
	d := filepath.Join(leasesDir(dir), imageID)
	if err := touch(d, leaseName(node, job)); err != nil {
		return fmt.Errorf("leasing image %.12s for job %d on %s: %w", imageID, job, node, err)
	}
	return Touch(dir, imageID)
}

// keptPrefix starts the lease of a kept container: '@' is in no node
// name, so it cannot be read as a node's job lease.
const keptPrefix = "kept@"

// KeepLease records that the kept global container named container runs
// on image imageID: DIR/carina/leases/<imageID>/kept@<container>.
func KeepLease(dir, imageID, container string) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	if err := ValidImageID(imageID); err != nil {
		return err
	}
	if !containerRE.MatchString(container) {
		return fmt.Errorf("invalid container name %q", container)
	}
	if err := touch(filepath.Join(leasesDir(dir), imageID), keptPrefix+container); err != nil {
		return fmt.Errorf("leasing image %.12s for the kept container %s: %w", imageID, container, err)
	}
	return nil
}

// ReleaseKept removes the leases of the kept container named container,
// on whatever image: it is being removed.
func ReleaseKept(dir, container string) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	if !containerRE.MatchString(container) {
		return fmt.Errorf("invalid container name %q", container)
	}
	return removeLease(dir, keptPrefix+container)
}

// Touch marks imageID used now (DIR/carina/used/<imageID>) without a
// lease: a pull may call it so that an image pulled for a job still
// waiting in the queue does not count as never used.
func Touch(dir, imageID string) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	if err := ValidImageID(imageID); err != nil {
		return err
	}
	if err := touch(usedDir(dir), imageID); err != nil {
		return fmt.Errorf("marking image %.12s used: %w", imageID, err)
	}
	return nil
}

// touch creates d/name (and d) or sets its times to now. Release removes
// empty lease directories concurrently, so a directory that vanishes
// between its creation and the file's is made again.
func touch(d, name string) error {
	p := filepath.Join(d, name)
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
		if err == nil {
			if err := f.Close(); err != nil {
				return err
			}
			now := time.Now()
			return os.Chtimes(p, now, now)
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 4 {
			return err
		}
	}
}

// Release removes the leases of job on node, whatever their image, and
// the lease directories this leaves empty.
func Release(dir, node string, job uint32) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	if err := ValidNode(node); err != nil {
		return err
	}
	return removeLease(dir, leaseName(node, job))
}

// removeLease removes the lease file name of every image.
func removeLease(dir, name string) error {
	ids, err := leasedIDs(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		d := filepath.Join(leasesDir(dir), id)
		if err := os.Remove(filepath.Join(d, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("releasing image %.12s (%s): %w", id, name, err))
			continue
		}
		// Fails, as it should, while another job still holds a lease.
		_ = os.Remove(d)
	}
	return errors.Join(errs...)
}

// leasedIDs lists the image ids that have a lease directory.
func leasedIDs(dir string) ([]string, error) {
	entries, err := os.ReadDir(leasesDir(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading leases: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && ValidImageID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Leases lists the leases held on imageID, as "<node>-<job>", sorted.
func Leases(dir, imageID string) ([]string, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	if err := ValidImageID(imageID); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(leasesDir(dir), imageID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the leases of image %.12s: %w", imageID, err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// InUse reports whether any job holds a lease on imageID.
func InUse(dir, imageID string) (bool, error) {
	l, err := Leases(dir, imageID)
	return len(l) > 0, err
}

// LastUsed returns when a job last started on imageID, or the zero time
// when none ever did.
func LastUsed(dir, imageID string) (time.Time, error) {
	if err := checkDir(dir); err != nil {
		return time.Time{}, err
	}
	if err := ValidImageID(imageID); err != nil {
		return time.Time{}, err
	}
	fi, err := os.Stat(filepath.Join(usedDir(dir), imageID))
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the last use of image %.12s: %w", imageID, err)
	}
	return fi.ModTime(), nil
}

// Forget removes all bookkeeping of imageID; call it once the image has
// been removed from the store, under the store's lock.
func Forget(dir, imageID string) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	if err := ValidImageID(imageID); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(usedDir(dir), imageID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("forgetting image %.12s: %w", imageID, err)
	}
	if err := os.RemoveAll(filepath.Join(leasesDir(dir), imageID)); err != nil {
		return fmt.Errorf("forgetting the leases of image %.12s: %w", imageID, err)
	}
	if err := os.Remove(SquashFile(dir, imageID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the squashfs of image %.12s: %w", imageID, err)
	}
	return nil
}

// SquashFile is where the squashed root filesystem of an image is kept.
func SquashFile(dir, imageID string) string {
	return filepath.Join(dir, "carina", "squash", imageID+".sqsh")
}

// StaleLeases lists the lease files (full paths, sorted) not refreshed for
// longer than olderThan: candidates left by a crashed node. Nothing removes
// them automatically; see the package comment.
func StaleLeases(dir string, olderThan time.Duration) ([]string, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	ids, err := leasedIDs(dir)
	if err != nil {
		return nil, err
	}
	cutoff := time.Now().Add(-olderThan)
	var out []string
	for _, id := range ids {
		d := filepath.Join(leasesDir(dir), id)
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the leases of image %.12s: %w", id, err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), keptPrefix) {
				continue // a kept container's lease lasts as long as the container
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("reading lease %s: %w", filepath.Join(d, e.Name()), err)
			}
			if fi.ModTime().Before(cutoff) {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// GraphDir is the containers/storage graph root inside the image store
// dir (the node-local store's too: plan.Dirs.Graph).
func GraphDir(dir string) string { return filepath.Join(dir, "storage") }

// LockFile is the name, inside an image store, of the lock that pulls and
// removals take.
const LockFile = "pull.lock"

// Lock takes an exclusive flock(2) on path, creating the file, and returns
// the function that releases it. The lock dies with its holder.
func Lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
