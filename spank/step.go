package main

// Runs in: slurmstepd, as root, once per step and node, before the tasks
// are forked (remote slurm_spank_init_post_opt). Must not: open, stat or
// parse a path the user named (environment files, mount sources, $HOME,
// the save target: the helper does that, as the user); rebuild the
// step's settings from the job's environment (the user owns it: only the
// Spec that srun/sbatch/salloc computed is accepted, decoded strictly);
// take this node's identity from the job's environment; run Go after the
// fork (task.c is C only).

/*
#include <stdlib.h>
#include "carina.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/carina-hpc/carina/cgo"
	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/gres"
	"github.com/carina-hpc/carina/pkg/mounts"
	"github.com/carina-hpc/carina/pkg/option"
	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/regauth"
	"github.com/carina-hpc/carina/pkg/request"
	"github.com/carina-hpc/carina/pkg/runas"
	"github.com/carina-hpc/carina/pkg/taskenv"
)

// carinaNodeUp has the helper start or find the node container as the job
// user and fills the join plan. Errors are kept in the plan and reported
// by every task's task_init, because that is the error path that reaches
// srun's exit status (SchedMD bug 7573).
//
//export carinaNodeUp
func carinaNodeUp(sp *C.struct_spank_handle) C.int {
	start := time.Now()
	spec, active, err := stepSpec(sp)
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
		msg := request.Prefixed(err.Error())
		log.Debug("node container failed", zap.String("error", msg))
		join.Fail(msg)
		return 0
	}
	log.Debug("node container ready", zap.Duration("took", time.Since(start)))
	return 0
}

// Variables that ask for a container: the options Slurm forwards, those a
// job's steps inherit, and the options' environment defaults.
var requestPrefixes = []string{"_SLURM_SPANK_OPTION_carina_", spankEnvPrefix, "CARINA_CONTAINER_", "PYXIS_CONTAINER_",
	"CARINA_ENVIRONMENT"}

// stepSpec is the Spec that srun, sbatch or salloc computed for the step
// (CARINA_SPEC). A step that asks for a container without one fails
// closed: it was not submitted through carina, or its environment was
// edited, and it must neither run on the host nor have root read what the
// options name.
func stepSpec(sp *C.struct_spank_handle) (option.Spec, bool, error) {
	js, ok, err := spankLookup(sp, slurmPrefix+envSpec)
	if err == nil && !ok {
		js, ok, err = spankLookup(sp, envSpec)
	}
	if err != nil {
		return option.Spec{}, true, err
	}
	if !ok {
		if C.carina_opts_any() != 0 || anyJobEnv(sp, requestPrefixes) {
			return option.Spec{}, true, errors.New("this step asks for a container but carries no settings from srun, " +
				"sbatch or salloc (" + envSpec + "): submit it with carina's plugin loaded and its environment unedited; " +
				"it is not run outside the container")
		}
		return option.Spec{}, false, nil
	}
	spec, err := option.DecodeSpec(js)
	if err != nil {
		return spec, true, fmt.Errorf("%s: %w", envSpec, err)
	}
	if !spec.Active() {
		if unseen := spec.Unseen(recordedFlags()); len(unseen) > 0 {
			return spec, true, fmt.Errorf("this step carries carina options that srun, sbatch or salloc did not see (%s): "+
				"they were put in its environment by hand; it is not run", strings.Join(unseen, ", "))
		}
	}
	return spec, spec.Active(), nil
}

func anyJobEnv(sp *C.struct_spank_handle, prefixes []string) bool {
	for _, p := range prefixes {
		cp := C.CString(p)
		has := C.carina_job_env_has(sp, cp) != 0
		C.free(unsafe.Pointer(cp))
		if has {
			return true
		}
	}
	return false
}

type jobIDs struct {
	uid, gid, job, step uint32
}

func readJobIDs(sp *C.struct_spank_handle, withStep bool) (jobIDs, error) {
	var uid, gid, job, step C.uint32_t
	var sptr *C.uint32_t
	if withStep {
		sptr = &step
	}
	if C.carina_job_ids(sp, &uid, &gid, &job, sptr, nil) != 0 {
		return jobIDs{}, errors.New("cannot read the job's identity from Slurm")
	}
	return jobIDs{uint32(uid), uint32(gid), uint32(job), uint32(step)}, nil
}

// Step ids Slurm gives its special steps.
const (
	batchStep  = 0xfffffffb // SLURM_BATCH_SCRIPT
	externStep = 0xfffffffc // SLURM_EXTERN_CONT: no user command, no container
)

// nodeName is this node's name as slurmd knows it (node.c).
func nodeName(epilog bool) (string, error) {
	var buf [256]C.char
	e := C.int(0)
	if epilog {
		e = 1
	}
	if C.carina_node_name(&buf[0], C.size_t(len(buf)), e) != 0 {
		return "", errors.New("cannot tell this node's name: slurmd did not record it (restart slurmd after installing carina)")
	}
	return C.GoString(&buf[0]), nil
}

func nodeUp(sp *C.struct_spank_handle, spec option.Spec, ids jobIDs) error {
	ref := ""
	if spec.Image != "" {
		img, err := option.ParseImage(spec.Image, spec.Cwd)
		if err != nil {
			return err
		}
		ref = img.Source()
		lookup := func(n string) (string, bool) { return spankGetenvOK(sp, n) }
		if pin := inheritedFrom(img, getJobVar(lookup, envResolvedFrom), getJobVar(lookup, envResolved)); pin != "" {
			ref = pin // pinned once for the whole job on the submit side
		}
	}
	node, err := nodeName(false)
	if err != nil {
		return err
	}
	u, err := runas.Lookup(ids.uid, ids.gid)
	if err != nil {
		return err
	}
	c := currentConfig()
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
	images, missing, err := sharedStore(c, u, node)
	if err != nil {
		return err
	}
	up := &request.NodeUp{Image: ref, Spec: spec, Step: ids.step, Home: u.Home, RelayBin: relayBin(c)}
	if ids.step == batchStep {
		var buf [4096]C.char
		if C.carina_job_argv0(sp, &buf[0], C.size_t(len(buf))) == 0 {
			up.Script = C.GoString(&buf[0]) // Slurm's spooled copy, not a path the user chose
		}
	}
	if up.GPUs, err = stepGPUs(sp, ids.step == batchStep); err != nil {
		return err
	}
	for _, n := range spec.ContainerEnv {
		if v, ok := spankGetenvOK(sp, n); ok {
			up.EntrypointEnv = append(up.EntrypointEnv, n+"="+v)
		}
	}
	// Where the user's registry credentials are, from the job's
	// environment (the user's: the helper reads the files as the user).
	auth := regauth.FromEnv(func(n string) string { return spankGetenv(sp, n) }, u.Home)
	req := request.Request{Kind: request.KindNodeUp, Site: c, Job: ids.job, Node: node, ImageStore: images,
		ImageStoreMissing: missing, NodeUp: up, Auth: &auth}
	rep, err := runas.Cmd{Path: c.Helper, As: u, Env: []string{"XDG_RUNTIME_DIR=" + d.Run},
		Timeout: c.HelperLimit}.Call(context.Background(), req)
	if err != nil {
		return err
	}
	ctr := rep.Container
	if ctr == nil || ctr.Pid <= 0 {
		return errors.New("the helper gave no usable container state")
	}
	notice := ""
	if ctr.Notice != "" {
		notice = ctr.Notice + "\n"
	}
	if ctr.Ignored != "" && firstNode(sp) {
		notice += ctr.Ignored + "\n" // one line for the step, as pyxis prints it
	}
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
	if spec.Save != "" && firstNode(sp) {
		saveMu.Lock()
		saveNext = &saveJob{out: spec.Save, container: ctr.Name, step: step, user: u, cfg: c}
		saveMu.Unlock()
	}
	vars := taskenv.Build(taskenv.WithSite(ctr.Env, c.Env), spec.Env, spec.ContainerEnv, hostHas)
	if home := homeFor(*ctr, spec); home != "" {
		vars = append(vars, taskenv.Var{Name: "HOME", Value: home})
	}
	if ctr.Relay {
		vars = taskenv.PrependPath(vars, relayBinTarget, spankGetenv(sp, "PATH"))
	}
	for _, n := range taskenv.HostLocaleToDrop(vars, spec.ContainerEnv) {
		if err := spankUnsetenv(sp, n); err != nil {
			return err
		}
	}
	return installPlan(*ctr, ids, spec.RemapRoot, vars, wd, notice)
}

// homeFor is the step's HOME inside: where the container has the user's
// home mounted, else /root for a user remapped to root (as enroot), else
// "" (the task keeps the job's HOME).
func homeFor(ctr plan.Container, spec option.Spec) string {
	switch {
	case ctr.Home != "":
		return ctr.Home
	case spec.RemapRoot:
		return mounts.RootHome
	}
	return ""
}

// stepIdentity is the uid and gid the step's tasks get in a user
// namespace of their own when the step's --[no-]container-remap-root
// differs from the container's it joins (a named container made by an
// earlier step): the container's mapping is fixed when it starts.
func stepIdentity(ctr plan.Container, ids jobIDs, remap bool) *join.Identity {
	switch {
	case remap == ctr.RemapRoot:
		return nil
	case remap: // the user's own ids in the container, root in the step's
		return &join.Identity{UIDInside: 0, UIDOutside: ids.uid, GIDInside: 0, GIDOutside: ids.gid}
	}
	return &join.Identity{UIDInside: ids.uid, UIDOutside: 0, GIDInside: ids.gid, GIDOutside: 0}
}

// stepGPUs are the Slurm indices of the step's GPUs on this node. Slurm's
// GRES plugin sets SLURM_STEP_GPUS for the whole step on the node before
// init_post_opt (measured: "0,1" there with --gpus-per-task=1 too; each
// task's own CUDA_VISIBLE_DEVICES comes later, in the task), and
// SLURM_JOB_GPUS for a batch step (measured: "0,1" with --gres=gpu:2,
// SLURM_STEP_GPUS unset there). The variable is in the job's
// environment, which the user owns: it is parsed strictly, and a forged
// value names only CDI devices the user could name in an environment
// file anyway (podman runs as the user, with the user's device access).
func stepGPUs(sp *C.struct_spank_handle, batch bool) ([]string, error) {
	name := "SLURM_STEP_GPUS"
	if batch {
		name = "SLURM_JOB_GPUS"
	}
	gpus, err := gres.ParseIndices(spankGetenv(sp, name))
	if err != nil {
		return nil, fmt.Errorf("reading the step's GPUs on this node from %s: %w", name, err)
	}
	return gpus, nil
}

// firstNode reports whether this is the step's first node (Slurm's
// S_JOB_NODEID 0).
func firstNode(sp *C.struct_spank_handle) bool {
	var uid, gid, job, nodeid C.uint32_t
	return C.carina_job_ids(sp, &uid, &gid, &job, nil, &nodeid) == 0 && nodeid == 0
}

// relayBinTarget is where the relay's client and command links appear
// inside every container.
const relayBinTarget = "/.carina/bin"

// relayBin is the host directory of the relay client (next to the helper,
// as make install lays it out), or "" when the site turned the relay off
// or it is not installed. A site path, not the user's.
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

// sharedStore prepares the user's shared image store below the site's
// base (fd by fd, refusing what another user planted there). A node that
// cannot see the shared filesystem at all (its base directory is missing)
// falls back to its node-local store: missing names the base, so that the
// helper tells the user when it pulls there, and the log says it too.
func sharedStore(c config.Config, u runas.User, node string) (images, missing string, err error) {
	images = visibleStore(c, u.UID, u.Name)
	if images == "" {
		if c.ImageStore != "" {
			log.Info("shared image store not visible on this node; pulling into the node-local store",
				zap.String("node", node), zap.String("image_store", c.ImageStoreBase()))
			return "", c.ImageStoreBase(), nil
		}
		return "", "", nil
	}
	if err := runas.UserDir(c.ImageStoreBase(), images, u); err != nil {
		return "", "", fmt.Errorf("preparing the shared image store: %w", err)
	}
	return images, "", nil
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

// installPlan opens the container's namespaces (O_CLOEXEC) through one
// descriptor of its init's /proc directory, so every namespace belongs to
// that very process (a pid reused meanwhile makes the open fail), and
// hands them to the C plan. The user namespace must belong to the job's
// user, so no task can ever join someone else's container.
func installPlan(ctr plan.Container, ids jobIDs, remap bool, vars []taskenv.Var, wd, notice string) (err error) {
	uid := ids.uid
	proc, err := unix.Open(fmt.Sprintf("/proc/%d", ctr.Pid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("container %s: opening /proc/%d: %w", ctr.Name, ctr.Pid, err)
	}
	defer unix.Close(proc)
	var opened []int
	defer func() {
		if err != nil {
			for _, fd := range opened {
				unix.Close(fd)
			}
		}
	}()
	open := func(ns string) (int, error) {
		fd, err := unix.Openat(proc, "ns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("container %s: opening /proc/%d/ns/%s: %w", ctr.Name, ctr.Pid, ns, err)
		}
		opened = append(opened, fd)
		return fd, nil
	}
	userFD, err := open("user")
	if err != nil {
		return err
	}
	owner, err := nsOwner(userFD)
	if err != nil || owner != uid {
		return fmt.Errorf("container %s: user namespace of pid %d is owned by uid %d, not the job's uid %d (%v)",
			ctr.Name, ctr.Pid, owner, uid, err)
	}
	mntFD, err := open("mnt")
	if err != nil {
		return err
	}
	extra := map[int]int{}
	for _, ns := range ctr.Unshare {
		slot, ok := join.NSIndex[ns]
		if !ok {
			continue
		}
		fd, err := open(ns)
		if err != nil {
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
	return join.Install(join.Plan{UserNS: userFD, MntNS: mntFD, Extra: extra, Workdir: wd, Env: env, Notice: notice,
		Identity: stepIdentity(ctr, ids, remap), Confine: ctr.Confine})
}

func nsOwner(fd int) (uint32, error) {
	var uid uint32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.NS_GET_OWNER_UID), uintptr(unsafe.Pointer(&uid))); e != 0 {
		return 0, fmt.Errorf("NS_GET_OWNER_UID: %w", e)
	}
	return uid, nil
}

// spankUnsetenv removes a variable from the job's environment, which the
// tasks inherit; an unset variable is no error.
func spankUnsetenv(sp *C.struct_spank_handle, name string) error {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if rc := C.spank_unsetenv(sp, cn); rc != C.ESPANK_SUCCESS {
		return fmt.Errorf("removing the host's %s from the job's environment: spank error %d", name, int(rc))
	}
	return nil
}

func spankGetenv(sp *C.struct_spank_handle, name string) string {
	v, _ := spankGetenvOK(sp, name)
	return v
}

func spankGetenvOK(sp *C.struct_spank_handle, name string) (string, bool) {
	v, ok, _ := spankLookup(sp, name)
	return v, ok
}

// spankLookup reads a variable of the job's environment; ok is false when
// it is not set. A value too large for Slurm's limits is an error, never
// taken for an unset variable.
func spankLookup(sp *C.struct_spank_handle, name string) (string, bool, error) {
	buf := make([]byte, 128<<10)
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	switch C.spank_getenv(sp, cn, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf))) {
	case C.ESPANK_SUCCESS:
		return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), true, nil
	case C.ESPANK_NOSPACE:
		return "", true, fmt.Errorf("%s in the job environment is larger than %d bytes", name, len(buf))
	}
	return "", false, nil
}
