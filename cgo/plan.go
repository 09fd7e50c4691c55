// Package join fills the C join plan (join.h) that the forked tasks read in
// slurm_spank_task_init. Everything here runs in slurmstepd before the fork;
// after the fork only join.c runs.
package join

/*
#include <stdlib.h>
#include "join.h"
*/
import "C"

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/carina-hpc/carina/pkg/plan"
)

// The plan's constants, taken from join.h through cgo: there is no Go
// copy that could drift from the header. plan_test.go checks that every
// constant here comes from join.h and that Go takes each of the header's.
const (
	PlanVersion = C.CARINA_PLAN_VERSION
	ErrMax      = C.CARINA_ERR_MAX
	PathMax     = C.CARINA_PATH_MAX
	NSUser      = C.CARINA_NS_USER
	NSMnt       = C.CARINA_NS_MNT
	NSNet       = C.CARINA_NS_NET
	NSIPC       = C.CARINA_NS_IPC
	NSUTS       = C.CARINA_NS_UTS
	NSCount     = C.CARINA_NS_COUNT
)

// NSIndex maps --container-unshare names to plan slots.
var NSIndex = map[string]int{"net": NSNet, "ipc": NSIPC, "uts": NSUTS}

// Env is one variable a task gets inside the container.
type Env struct{ Name, Value string }

// Plan is what a task needs to join its node container.
type Plan struct {
	UserNS, MntNS int         // open O_CLOEXEC fds; ownership moves to the C plan
	Extra         map[int]int // more namespaces to join: slot -> fd (moves too)
	Workdir       string
	Env           []Env
	Notice        string // printed on the job's stderr by local task 0
	// Identity, when set, is the step's own uid and gid in a user
	// namespace nested in the container's (remap-root differs).
	Identity *Identity
	// Confine is taken on by each task after the join; nil leaves the
	// task as setns made it.
	Confine *plan.Confinement
}

// Identity maps one uid and one gid: Inside is what the task sees,
// Outside its id in the container's user namespace.
type Identity struct {
	UIDInside, UIDOutside, GIDInside, GIDOutside uint32
}

// Install replaces the C plan with p and marks it active. On error the
// plan is left inactive and the fds are closed.
func Install(p Plan) error {
	C.carina_plan_reset()
	if C.carina_plan_set_ns(C.int(NSUser), C.int(p.UserNS)) != 0 ||
		C.carina_plan_set_ns(C.int(NSMnt), C.int(p.MntNS)) != 0 {
		C.carina_plan_reset()
		closeExtra(p.Extra)
		return fmt.Errorf("join plan: bad namespace fds %d/%d", p.UserNS, p.MntNS)
	}
	moved := map[int]bool{}
	for slot, fd := range p.Extra {
		if slot <= NSMnt || C.carina_plan_set_ns(C.int(slot), C.int(fd)) != 0 {
			C.carina_plan_reset() // closes the fds already moved
			for s, fd := range p.Extra {
				if !moved[s] {
					_ = unix.Close(fd)
				}
			}
			return fmt.Errorf("join plan: bad namespace slot %d (fd %d)", slot, fd)
		}
		moved[slot] = true
	}
	wd := p.Workdir
	if wd == "" {
		wd = "/"
	}
	if err := withCString(wd, func(s *C.char) C.int { return C.carina_plan_set_workdir(s) }); err != nil {
		C.carina_plan_reset()
		return fmt.Errorf("join plan: workdir %q: %w", wd, err)
	}
	for _, e := range p.Env {
		n, v := C.CString(e.Name), C.CString(e.Value)
		rc := C.carina_plan_add_env(n, v)
		C.free(unsafe.Pointer(n))
		C.free(unsafe.Pointer(v))
		if rc != 0 {
			C.carina_plan_reset()
			return fmt.Errorf("join plan: environment variable %q rejected", e.Name)
		}
	}
	if p.Notice != "" {
		if err := withCString(p.Notice, func(s *C.char) C.int { return C.carina_plan_set_notice(s) }); err != nil {
			C.carina_plan_reset()
			return fmt.Errorf("join plan: notice: %w", err)
		}
	}
	if id := p.Identity; id != nil {
		C.carina_plan_set_identity(C.uint(id.UIDInside), C.uint(id.UIDOutside), C.uint(id.GIDInside), C.uint(id.GIDOutside))
	}
	if c := p.Confine; c != nil {
		if err := installConfine(*c); err != nil {
			C.carina_plan_reset()
			return err
		}
	}
	C.carina_plan_activate()
	return nil
}

func installConfine(c plan.Confinement) error {
	if err := c.Check(); err != nil {
		return fmt.Errorf("join plan: %w", err)
	}
	nnp := C.int(0)
	if c.NoNewPrivs {
		nnp = 1
	}
	C.carina_plan_set_confine(C.uint64_t(c.Bounding), C.uint64_t(c.Effective), C.uint64_t(c.Permitted),
		C.uint64_t(c.Inheritable), C.uint64_t(c.Ambient), nnp)
	if len(c.Seccomp) > 0 && C.carina_plan_set_seccomp(unsafe.Pointer(&c.Seccomp[0]), C.size_t(len(c.Seccomp))) != 0 {
		return fmt.Errorf("join plan: seccomp filter of %d bytes rejected", len(c.Seccomp))
	}
	return nil
}

func closeExtra(m map[int]int) {
	for _, fd := range m {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
	}
}

// Fail marks the step as containerised but failed: every task reports msg
// from task_init and exits non-zero instead of running outside the container.
func Fail(msg string) {
	C.carina_plan_reset()
	s := C.CString(msg)
	C.carina_plan_set_error(s)
	C.free(unsafe.Pointer(s))
	C.carina_plan_activate()
}

// Free releases the plan (slurm_spank_exit).
func Free() { C.carina_plan_free() }

func withCString(s string, f func(*C.char) C.int) error {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	if f(cs) != 0 {
		return fmt.Errorf("rejected by the C plan")
	}
	return nil
}

// snapshot is a Go copy of the C plan, for tests.
type snapshot struct {
	Active   bool
	NS       [NSCount]int
	Workdir  string
	Error    string
	Env      []Env
	Confine  *plan.Confinement
	Identity *Identity
}

func current() snapshot {
	p := C.carina_plan_get()
	s := snapshot{
		Active:  p.active != 0,
		Workdir: C.GoString(&p.workdir[0]),
		Error:   C.GoString(&p.error[0]),
	}
	for i := 0; i < NSCount; i++ {
		s.NS[i] = int(p.ns_fd[i])
	}
	if c := p.confine; c.active != 0 {
		s.Confine = &plan.Confinement{Bounding: uint64(c.bounding), Effective: uint64(c.effective),
			Permitted: uint64(c.permitted), Inheritable: uint64(c.inheritable), Ambient: uint64(c.ambient),
			NoNewPrivs: c.no_new_privs != 0}
		if c.seccomp_len > 0 {
			s.Confine.Seccomp = C.GoBytes(c.seccomp, C.int(c.seccomp_len)*8)
		}
	}
	if id := p.identity; id.active != 0 {
		s.Identity = &Identity{uint32(id.uid_inside), uint32(id.uid_outside), uint32(id.gid_inside), uint32(id.gid_outside)}
	}
	envs := unsafe.Slice(p.env, int(p.env_count))
	for _, e := range envs {
		s.Env = append(s.Env, Env{C.GoString(e.name), C.GoString(e.value)})
	}
	return s
}

// cLayout reports the sizes the C compiler gave the plan's arrays, for
// the layout test: they are declared with the constants above.
func cLayout() map[string]int {
	var p C.struct_carina_plan
	return map[string]int{
		"sizeof.workdir": int(unsafe.Sizeof(p.workdir)),
		"sizeof.error":   int(unsafe.Sizeof(p.error)),
		"len.ns_fd":      len(p.ns_fd),
	}
}
