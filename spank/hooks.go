package main

/*
#include <stdlib.h>
#include "carina.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/carina-hpc/carina/cgo"
	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/hostlist"
	"github.com/carina-hpc/carina/pkg/option"
	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/runas"
	"github.com/carina-hpc/carina/pkg/taskenv"
)

// carinaSubmit runs in srun/sbatch/salloc before any allocation: it
// validates the options and pins the image (submit.go). A failure stops
// the command with one carina: line.
//
//export carinaSubmit
func carinaSubmit() C.int {
	if err := submit(); err != nil {
		log.Error(prefixed(err.Error()))
		return -1
	}
	return 0
}

// carinaNodeUp runs in slurmstepd (root) once per step and node, before
// the tasks are forked: it has the helper start or find the node container
// as the job user and fills the join plan. Errors are kept in the plan and
// reported by every task's task_init, because that is the error path that
// reaches srun's exit status.
//
//export carinaNodeUp
func carinaNodeUp(sp *C.struct_spank_handle) C.int {
	start := time.Now()
	spec, active, err := nodeSpec(sp)
	if !active {
		return 0
	}
	ids, idErr := readJobIDs(sp, true)
	if idErr == nil && ids.step == externStep {
		return 0 // no user command, no container
	}
	if err == nil {
		err = idErr
	}
	if err == nil {
		err = nodeUp(sp, spec, ids)
	}
	if err != nil {
		msg := err.Error()
		log.Debug("node container failed", zap.String("error", msg))
		join.Fail(prefixed(msg))
		return 0
	}
	log.Debug("node container ready", zap.Duration("took", time.Since(start)))
	return 0
}

func prefixed(msg string) string {
	if len(msg) >= 7 && msg[:7] == "carina:" {
		return msg
	}
	return "carina: " + msg
}

type jobIDs struct {
	uid, gid, job, step, nodeid uint32
}

func readJobIDs(sp *C.struct_spank_handle, withStep bool) (jobIDs, error) {
	var uid, gid, job, step, nodeid C.uint32_t
	var sptr, nptr *C.uint32_t
	if withStep {
		sptr, nptr = &step, &nodeid
	}
	if C.carina_job_ids(sp, &uid, &gid, &job, sptr, nptr) != 0 {
		return jobIDs{}, errors.New("cannot read the job's identity from Slurm")
	}
	return jobIDs{uint32(uid), uint32(gid), uint32(job), uint32(step), uint32(nodeid)}, nil
}

// Step ids Slurm gives its special steps.
const (
	batchStep  = 0xfffffffb // SLURM_BATCH_SCRIPT
	externStep = 0xfffffffc // SLURM_EXTERN_CONT: no user command, no container
)

// nodeSpec reads the step's settings: the spec the submit side computed,
// or (a step started without it) the options and their environment
// defaults as slurmstepd received them.
func nodeSpec(sp *C.struct_spank_handle) (option.Spec, bool, error) {
	var spec option.Spec
	if js := spankGetenv(sp, envSpec); js != "" {
		if err := json.Unmarshal([]byte(js), &spec); err != nil {
			return spec, true, fmt.Errorf("unreadable %s in the job environment: %w", envSpec, err)
		}
	} else {
		var err error
		lookup := func(n string) (string, bool) { return spankLookup(sp, n) }
		if spec, err = buildSpec(lookup, spankGetenv(sp, "PWD"), spankGetenv(sp, "HOME"), currentConfig()); err != nil {
			return spec, C.carina_opts_any() != 0, err
		}
	}
	if !spec.Active() {
		return spec, false, nil
	}
	if err := spec.Validate(); err != nil {
		return spec, true, fmt.Errorf("%s: %w", envSpec, err)
	}
	return spec, true, nil
}

func nodeUp(sp *C.struct_spank_handle, spec option.Spec, ids jobIDs) error {
	ref := ""
	if spec.Image != "" {
		img, err := option.ParseImage(spec.Image, spec.Cwd)
		if err != nil {
			return err
		}
		ref = img.Source()
		if pin := inheritedFrom(img, spankGetenv(sp, envResolvedFrom), spankGetenv(sp, envResolved)); pin != "" {
			ref = pin // pinned once for the whole job on the submit side
		}
	}
	node, err := stepNodeName(sp, ids.nodeid)
	if err != nil {
		return err
	}
	u, err := runas.Lookup(ids.uid, ids.gid)
	if err != nil {
		return err
	}
	c := currentConfig()
	// The submit side checked the mounts as the user; the policy is
	// enforced again here, as root, because the user owns the job's
	// environment.
	if err := checkMounts(c, spec); err != nil {
		return err
	}
	if spec.Mounts, err = nodeMounts(c, spec, u.Home); err != nil {
		return err
	}
	step := plan.Step{JobID: ids.job, Node: node, UID: ids.uid}
	if err := step.Validate(); err != nil {
		return err
	}
	d := plan.DirsFor(c.RuntimeDir, c.StoreDir, step)
	if err := runas.UserDir(c.RuntimeDir, d.Run, u); err != nil {
		return fmt.Errorf("preparing the runtime directory: %w", err)
	}
	if err := runas.UserDir(c.StoreDir, d.Store, u); err != nil {
		return fmt.Errorf("preparing the image store: %w", err)
	}
	js, err := marshalSpec(spec)
	if err != nil {
		return err
	}
	args := append(append([]string{"node", "up", "--image", ref, "--spec", js}, helperArgs(c, step)...), c.PullArgs()...)
	if ids.step == batchStep {
		var buf [4096]C.char
		if C.carina_job_argv0(sp, &buf[0], C.size_t(len(buf))) == 0 {
			args = append(args, "--script", C.GoString(&buf[0]))
		}
	}
	if images, err := sharedStore(c, ids.uid, u, node); err != nil {
		return err
	} else if images != "" {
		args = append(args, "--image-store", images)
	}
	if bin := relayBin(c); bin != "" {
		args = append(args, "--relay-bin", bin)
	}
	for _, n := range spec.ContainerEnv {
		if v, ok := spankLookup(sp, n); ok {
			args = append(args, "--entrypoint-env", n+"="+v)
		}
	}
	out, err := runas.Cmd{Path: c.Helper, Args: args, As: u, Env: []string{"XDG_RUNTIME_DIR=" + d.Run},
		Timeout: c.HelperLimit}.Output(context.Background())
	if err != nil {
		return err
	}
	var ctr plan.Container
	if err := json.Unmarshal(out, &ctr); err != nil || ctr.Pid <= 0 {
		return fmt.Errorf("the helper gave no usable container state (%v)", err)
	}
	notice := ""
	if ctr.Log != "" {
		for _, line := range strings.Split(strings.TrimRight(ctr.Log, "\n"), "\n") {
			notice += "carina: entrypoint: " + line + "\n"
		}
	}
	hostHas := func(n string) bool { return spankGetenv(sp, n) != "" }
	wd := spec.Workdir
	if wd == "" {
		wd = ctr.Workdir
	}
	if spec.Save != "" && ids.nodeid == 0 {
		saveMu.Lock()
		saveNext = &saveJob{out: spec.Save, container: ctr.Name, step: step, user: u, cfg: c}
		saveMu.Unlock()
	}
	vars := taskenv.Build(ctr.Env, spec.Env, spec.ContainerEnv, hostHas)
	if ctr.Relay {
		vars = taskenv.PrependPath(vars, relayBinTarget, spankGetenv(sp, "PATH"))
	}
	return installPlan(ctr, ids.uid, vars, wd, notice)
}

// relayBinTarget is where the relay's client and command links appear
// inside every container.
const relayBinTarget = "/.carina/bin"

// relayBin is the host directory of the relay client (next to the helper,
// as make install lays it out), or "" when the site turned the relay off
// or it is not installed.
func relayBin(c config.Config) string {
	if !c.Relay {
		return ""
	}
	bin := filepath.Join(filepath.Dir(c.Helper), "bin")
	if st, err := os.Stat(filepath.Join(bin, "carina-relay")); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return bin
}

// sharedStore prepares the user's shared image store. A node that cannot
// see the shared filesystem at all (its base directory is missing) falls
// back to its node-local store and says so in the log; any other problem
// is an error.
func sharedStore(c config.Config, uid uint32, u runas.User, node string) (string, error) {
	images := visibleStore(c, uid, u.Name)
	if images == "" {
		if c.ImageStore != "" {
			log.Info("shared image store not visible on this node; pulling into the node-local store",
				zap.String("node", node), zap.String("image_store", c.ImageStoreBase()))
		}
		return "", nil
	}
	if err := runas.UserDir(c.ImageStoreBase(), images, u); err != nil {
		return "", fmt.Errorf("preparing the shared image store: %w", err)
	}
	return images, nil
}

// visibleStore is the user's shared image store, or "" when the site has
// none or this node cannot see it.
func visibleStore(c config.Config, uid uint32, name string) string {
	images := c.ImageStoreFor(uid, name)
	if images == "" {
		return ""
	}
	if _, err := os.Stat(c.ImageStoreBase()); errors.Is(err, os.ErrNotExist) {
		return ""
	}
	return images
}

func helperArgs(c config.Config, s plan.Step) []string {
	args := []string{"--job", strconv.FormatUint(uint64(s.JobID), 10), "--node", s.Node,
		"--runtime-dir", c.RuntimeDir, "--store-dir", c.StoreDir, "--podman", c.Podman, "--init", c.InitPath,
		"--scope", c.ContainerScope}
	for _, f := range c.PodmanFlags {
		args = append(args, "--podman-flag="+f)
	}
	return args
}

// installPlan opens the container's namespaces (O_CLOEXEC) and hands them
// to the C plan. The user namespace must belong to the job's user, so a
// recycled pid can never make a task join someone else's container.
func installPlan(ctr plan.Container, uid uint32, vars []taskenv.Var, wd, notice string) error {
	userFD, err := openNS(ctr.Pid, "user")
	if err != nil {
		return err
	}
	owner, err := nsOwner(userFD)
	if err != nil || owner != uid {
		unix.Close(userFD)
		return fmt.Errorf("container %s: user namespace of pid %d is owned by uid %d, not the job's uid %d (%v)",
			ctr.Name, ctr.Pid, owner, uid, err)
	}
	mntFD, err := openNS(ctr.Pid, "mnt")
	if err != nil {
		unix.Close(userFD)
		return err
	}
	extra := map[int]int{}
	for _, ns := range ctr.Unshare {
		slot, ok := join.NSIndex[ns]
		if !ok {
			continue
		}
		fd, err := openNS(ctr.Pid, ns)
		if err != nil {
			unix.Close(userFD)
			unix.Close(mntFD)
			for _, fd := range extra {
				unix.Close(fd)
			}
			return err
		}
		extra[slot] = fd
	}
	env := make([]join.Env, 0, len(vars))
	for _, v := range vars {
		env = append(env, join.Env{Name: v.Name, Value: v.Value})
	}
	if wd == "" {
		wd = "/"
	}
	return join.Install(join.Plan{UserNS: userFD, MntNS: mntFD, Extra: extra, Workdir: wd, Env: env, Notice: notice})
}

func openNS(pid int, ns string) (int, error) {
	p := fmt.Sprintf("/proc/%d/ns/%s", pid, ns)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s: %w", p, err)
	}
	return fd, nil
}

func nsOwner(fd int) (uint32, error) {
	var uid uint32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.NS_GET_OWNER_UID), uintptr(unsafe.Pointer(&uid))); e != 0 {
		return 0, fmt.Errorf("NS_GET_OWNER_UID: %w", e)
	}
	return uid, nil
}

// stepNodeName names this node. Several slurmd may share one host, so the
// host name will not do: the node's index in the step's node list will.
func stepNodeName(sp *C.struct_spank_handle, nodeid uint32) (string, error) {
	for _, v := range []string{"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"} {
		if list := spankGetenv(sp, v); list != "" {
			return hostlist.Nth(list, int(nodeid))
		}
	}
	return "", errors.New("cannot tell this node's name: the step has no SLURM_STEP_NODELIST")
}

func spankGetenv(sp *C.struct_spank_handle, name string) string {
	v, _ := spankLookup(sp, name)
	return v
}

// spankLookup reads a variable of the job's environment; ok is false when
// it is not set.
func spankLookup(sp *C.struct_spank_handle, name string) (string, bool) {
	buf := make([]byte, 65536)
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if C.spank_getenv(sp, cn, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))) != C.ESPANK_SUCCESS {
		return "", false
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), true
}

// carinaJobEpilog runs as root once per node when a job ends: it has the
// helper remove the job's containers as the user. It never fails: a failed
// epilog would drain the node for what may be a user's mistake.
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
	node := os.Getenv("SLURMD_NODENAME")
	step := plan.Step{JobID: ids.job, Node: node, UID: ids.uid}
	if step.Validate() != nil {
		log.Error("job epilog: no usable SLURMD_NODENAME", zap.String("node", node))
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
	args := append([]string{"node", "down"}, helperArgs(c, step)...)
	if images := visibleStore(c, ids.uid, u.Name); images != "" {
		args = append(args, "--image-store", images)
	}
	if _, err := (runas.Cmd{Path: c.Helper, Args: args, As: u, Env: []string{"XDG_RUNTIME_DIR=" + d.Run},
		Timeout: 2 * time.Minute}).Output(context.Background()); err != nil {
		log.Error("job epilog: removing containers failed", zap.Uint32("job", ids.job), zap.Error(err))
	}
	return 0
}
