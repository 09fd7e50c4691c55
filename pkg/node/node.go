// Package node is the life of a step's container on one node, in the
// helper, as the job user: Up starts the container or joins the one that
// runs (under the per-node lock, pulling once into the user's image store
// and checking the mounts against the site's policy as the user), Down
// removes a job's containers and ends podman's pause process when nothing
// of the user runs any more, Save writes --container-save. A Job is made
// from one plugin request (pkg/request). The container gets the step's
// GPUs on the node, and an environment file's devices, as CDI devices
// (devices.go).
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/confine"
	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
	"github.com/carina-hpc/carina/pkg/mounts"
	"github.com/carina-hpc/carina/pkg/nodectr"
	"github.com/carina-hpc/carina/pkg/option"
	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/pull"
	"github.com/carina-hpc/carina/pkg/relay"
	"github.com/carina-hpc/carina/pkg/request"
	"github.com/carina-hpc/carina/pkg/squashfs"
)

// Job are a plugin request in the helper's terms: the site's
// settings, the step on this node, and (node up) what to start.
type Job struct {
	job                  uint
	node                 string
	runtimeDir, storeDir string
	podman, initPath     string
	podmanFlags          []string // the site's global podman flags
	image                string
	imageStore           string
	imageFormat          string
	siteStore            string
	retry                *image.Retry
	site                 config.Config // the site's configuration (mount policy and defaults)
	home                 string        // the user's home directory (passwd)
	spec                 option.Spec   // the step's effective settings
	script               string        // the batch script, mounted read-only at its path
	relayBin             string        // the relay client's directory; "" = no relay
	scope                string        // container_scope: job or global
	entryEnv             []string      // NAME=VALUE given to the entrypoint (--container-env)
	gpus                 []string      // Slurm indices of the step's GPUs on this node
	authFiles            []string      // the user's registry credential files, in podman's order
	storeMissing         string        // the shared image store base this node cannot see ("" = fine)
	stepID               uint32        // the step's id (Slurm's)
	userMounts           []string      // the step's own --container-mounts (mountArgs), before the site's and home
}

// FromRequest turns a plugin request into Job.
func FromRequest(req request.Request) (Job, error) {
	c := req.Site
	f := Job{job: uint(req.Job), node: req.Node, runtimeDir: c.RuntimeDir, storeDir: c.StoreDir,
		podman: c.Podman, initPath: c.InitPath, podmanFlags: c.PodmanFlags, imageStore: req.ImageStore,
		imageFormat: c.ImageFormat, siteStore: c.SiteStore, retry: &image.Retry{Attempts: c.PullRetries, Delay: c.RetryDelay},
		site: c, scope: c.ContainerScope}
	if req.Auth != nil {
		f.authFiles = req.Auth.OnThisHost()
	}
	f.storeMissing = req.ImageStoreMissing
	if u := req.NodeUp; u != nil {
		f.image, f.spec, f.script, f.relayBin, f.entryEnv, f.home = u.Image, u.Spec, u.Script, u.RelayBin, u.EntrypointEnv, u.Home
		f.gpus, f.stepID = u.GPUs, u.Step
		if err := CheckImageFormat(f.imageFormat); err != nil {
			return f, err
		}
		if f.image == "" && f.spec.Name == "" {
			return f, errors.New("node up: an image or a container name is required")
		}
	}
	return f, nil
}

// OnNode is a Job that only names this node's directories for the
// calling user (carina kept): the job id satisfies the step's checks,
// the directories are per node and user, not per job.
func OnNode(c config.Config, nodeName string) Job {
	return Job{job: 1, node: nodeName, runtimeDir: c.RuntimeDir, storeDir: c.StoreDir, podman: c.Podman,
		podmanFlags: c.PodmanFlags}
}

func (f Job) step() plan.Step {
	return plan.Step{JobID: uint32(f.job), Node: f.node, UID: uint32(os.Getuid())}
}

// Lock validates the step and takes the lock that serialises the
// helper's runs for this node and user.
func (f Job) Lock() (plan.Step, plan.Dirs, func(), error) {
	s := f.step()
	if err := s.Validate(); err != nil {
		return s, plan.Dirs{}, nil, err
	}
	d := plan.DirsFor(f.runtimeDir, f.storeDir, s)
	unlock, err := imagestore.Lock(filepath.Join(d.Run, "lock"))
	if err != nil {
		return s, d, nil, err
	}
	return s, d, unlock, nil
}

func (f Job) Podman(d plan.Dirs) nodectr.Podman {
	p := nodectr.Podman{Bin: f.podman, GraphRoot: d.Graph, RunRoot: d.RunRoot, Driver: "overlay"}
	if f.imageStore != "" {
		p.ExtraFlags = []string{"--storage-opt", "overlay.imagestore=" + storeGraph(f.imageStore)}
	}
	p.ExtraFlags = append(p.ExtraFlags, f.podmanFlags...)
	return p
}

// Up makes sure the job's container for this image runs on this node
// and prints its plan.Container as JSON. Steps of a job on a node are
// serialised by a lock in the user's runtime directory.
func Up(f Job) (c plan.Container, err error) {
	ResetOOMScore()
	// The mounts are decided here, as the user: the site's defaults, the
	// home directory and the step's own, checked against the site's
	// policy with the user's rights (root never resolves them).
	ms, checked, err := mounts.ForNode(f.site, f.spec, f.home)
	if err != nil {
		return plan.Container{}, err
	}
	f.userMounts = mountArgs(f.spec.Mounts)
	f.spec.Mounts = ms
	ctx := context.Background()
	global := f.spec.Name != "" && f.scope == "global"
	name := plan.ContainerName(f.step(), f.containerKey())
	switch {
	case global:
		name = plan.GlobalContainer(f.step(), f.spec.Name)
	case f.spec.Name != "":
		name = plan.NamedContainer(f.step(), f.spec.Name)
	}
	pre, err := f.prePull(ctx, name)
	if err != nil {
		return plan.Container{}, err
	}
	s, d, unlock, err := f.Lock()
	if err != nil {
		return plan.Container{}, err
	}
	defer unlock()
	if f.spec.Name == "" {
		// The step's unnamed container can be named JOBID.STEPID by an
		// overlapping step, as in pyxis.
		defer func() {
			if err == nil {
				err = f.recordStep(d, name)
			}
		}()
	} else if n, ok := f.stepContainer(d); ok {
		name, global = n, false // a step's container is the job's
	}
	pm := f.Podman(d)
	stateFile := filepath.Join(d.Run, name+".json")
	var saved plan.Container
	haveState := false
	if b, err := os.ReadFile(stateFile); err == nil && json.Unmarshal(b, &saved) == nil {
		haveState = true
	}
	// A later step of the job: the container's init still runs (the very
	// process, by its start time), so it is joined without asking podman.
	if haveState && saved.Pid > 0 && saved.Start != 0 && nodectr.ProcessStart(saved.Pid) == saved.Start {
		if err := checkNameMode(f.spec, true, global); err != nil {
			return plan.Container{}, err
		}
		c, err := f.rejoin(ctx, pm, d, name, saved, nodectr.State{ID: saved.ID, Pid: saved.Pid, Running: true})
		if err != nil {
			return plan.Container{}, err
		}
		return c, writeJSONAtomic(stateFile, c)
	}
	if err := f.initImageStore(ctx, d); err != nil {
		return plan.Container{}, err
	}
	st, exists, err := pm.Inspect(ctx, name)
	if err != nil {
		return plan.Container{}, err
	}
	if err := checkNameMode(f.spec, exists && st.Running, exists && global); err != nil {
		return plan.Container{}, err
	}
	if exists && haveState && (st.Running || global) {
		c, err := f.rejoin(ctx, pm, d, name, saved, st)
		if err != nil {
			return plan.Container{}, err
		}
		return c, writeJSONAtomic(stateFile, c)
	}
	if exists {
		if err := nodectr.Teardown(ctx, pm, d, name); err != nil {
			return plan.Container{}, err
		}
		if global {
			if err := ReleaseKept(f.stores(d), name); err != nil {
				return plan.Container{}, err
			}
		}
	}
	if f.image == "" {
		return plan.Container{}, fmt.Errorf("no container named %q runs in this job on node %s, and no --container-image was given to create it",
			f.spec.Name, s.Node)
	}
	c, err = f.start(ctx, pm, d, s, name, global, pre)
	if err == nil {
		err = mounts.Verify(c.Pid, checked)
	}
	if err == nil {
		err = writeJSONAtomic(stateFile, c)
	}
	if err != nil {
		_ = nodectr.Teardown(ctx, pm, d, name)
		if global {
			_ = ReleaseKept(f.stores(d), name)
		}
		return plan.Container{}, err
	}
	return c, nil
}

// stores are the image stores this node's podman reads: the user's shared
// one, if any, and the node-local one.
func (f Job) stores(d plan.Dirs) []string {
	if f.imageStore != "" && f.imageStore != d.Store {
		return []string{f.imageStore, d.Store}
	}
	return []string{d.Store}
}

// ReleaseKept drops the leases that kept global containers about to be
// removed hold on their images (imagestore.KeepLease), in each of stores
// (the image may be in the shared store or the node-local one). A store
// that is not there holds none.
func ReleaseKept(stores []string, names ...string) error {
	var errs []error
	for _, dir := range stores {
		if dir == "" {
			continue
		}
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		for _, n := range names {
			errs = append(errs, imagestore.ReleaseKept(dir, n))
		}
	}
	return errors.Join(errs...)
}

// rejoin hands a later step a container that exists already: a running
// one as it is, a stopped global one (kept from an earlier job) started
// again on its own filesystem. Its relay is restarted when needed.
func (f Job) rejoin(ctx context.Context, pm nodectr.Podman, d plan.Dirs, name string, c plan.Container, st nodectr.State) (plan.Container, error) {
	if !st.Running {
		if c.Squash != "" {
			if _, err := squashfs.Mount(ctx, pm, d, name, c.Squash); err != nil {
				return c, err
			}
		}
		if err := remountKernelTmpfs(ctx, pm, d, name, c.Mounts); err != nil {
			return c, err
		}
		if err := pm.StartExisting(ctx, name); err != nil {
			return c, fmt.Errorf("starting the kept container %s again: %w", f.spec.Name, err)
		}
		var ok bool
		if st, ok, _ = pm.Inspect(ctx, name); !ok || !st.Running {
			return c, fmt.Errorf("the kept container %s did not stay running", f.spec.Name)
		}
	}
	// Isolation asked for is never dropped: a namespace the running
	// container does not have of its own cannot be added after it started.
	for _, ns := range f.spec.Unshare {
		if !slices.Contains(c.Unshare, ns) {
			return c, fmt.Errorf("--container-unshare=%s: the running container %s shares the host's %s namespace, "+
				"and a namespace cannot be added to a running container; start a new one with --container-unshare=%s",
				ns, f.spec.Name, ns, ns)
		}
	}
	c.Pid, c.ID, c.Joined, c.Log, c.Notice, c.Job = st.Pid, st.ID, true, "", "", uint32(f.job)
	if f.spec.EntrypointLog {
		c.Log = c.EntryOut
	}
	c.Ignored = ""
	if len(f.userMounts) > 0 && !slices.Equal(f.userMounts, c.Mounts) {
		c.Ignored = "carina: ignoring --container-mounts: joining the running container " + f.spec.Name +
			", which keeps the mounts it was created with"
	}
	c.Start = nodectr.ProcessStart(st.Pid)
	if c.Relay && !relay.Running(d.Run, name) {
		if err := relay.PrepareDir(d.Run, name); err != nil {
			return c, err
		}
		if err := relay.Start(d.Run, name); err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkNameMode applies --container-name's mode to what exists; kept is
// true for a global container kept from an earlier job.
func checkNameMode(s option.Spec, running, kept bool) error {
	switch {
	case s.Name == "":
	case s.NameMode == option.NameCreate && running:
		return fmt.Errorf("--container-name=%s:create: a container of that name already runs in this job", s.Name)
	case s.NameMode == option.NameCreate && kept:
		return fmt.Errorf("--container-name=%s:create: a container of that name exists on this node", s.Name)
	case s.NameMode == option.NameExec && !running:
		return fmt.Errorf("--container-name=%s:exec: no container of that name runs in this job on this node", s.Name)
	case s.NameMode == option.NameNoExec && running:
		return fmt.Errorf("--container-name=%s:no_exec: a container of that name runs already; carina joins a running "+
			"container or creates one (use :auto)", s.Name)
	}
	return nil
}

// prePull pulls the image of a container this step is about to create
// (none of that name has state on the node yet) before the node's lock is
// taken: a pull can take minutes, and another job's epilog needs that lock
// to remove its own containers within its time limit. The pull holds the
// image store's own lock and leases the image for the job (Down releases
// it), so gc leaves it until start uses it. nil when there is nothing to
// pull here (no image, a squashfs file, the site's store) or a container
// of that name may exist (start pulls then, as before).
func (f Job) prePull(ctx context.Context, name string) (*fetched, error) {
	s := f.step()
	if err := s.Validate(); err != nil || f.image == "" {
		return nil, err
	}
	d := plan.DirsFor(f.runtimeDir, f.storeDir, s)
	if _, err := os.Lstat(filepath.Join(d.Run, name+".json")); !errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if sqsh, err := squashfs.Path(f.image); err != nil || sqsh != "" {
		return nil, err
	}
	if _, ok := pull.FromSite(f.siteStore, f.image); ok {
		return nil, nil
	}
	if err := f.initImageStore(ctx, d); err != nil {
		return nil, err
	}
	p, err := f.pullOnce(ctx, d, s)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// start brings the image where podman can use it (the image store, or a
// squashfs mounted as a root filesystem) and starts the container; pre is
// the image prePull fetched for it, if it did.
func (f Job) start(ctx context.Context, pm nodectr.Podman, d plan.Dirs, s plan.Step, name string, global bool, pre *fetched) (plan.Container, error) {
	spec := f.containerSpec(name, s)
	spec.Global = global
	squash, notice := "", ""
	var pulled image.Pulled
	sqsh, err := squashfs.Path(f.image)
	if err != nil {
		return plan.Container{}, err
	}
	if site, ok := pull.FromSite(f.siteStore, f.image); ok {
		// The admin's site store has it: start from its squashfs; nothing
		// enters the user's store.
		squash = imagestore.SquashFile(f.siteStore, site.ID)
		if spec.RootFS, err = squashfs.Mount(ctx, pm, d, name, squash); err != nil {
			return plan.Container{}, err
		}
		pulled = image.Pulled{ID: site.ID, Env: site.Env, Workdir: site.Workdir}
	} else if sqsh != "" {
		squash = sqsh
		if spec.RootFS, err = squashfs.Mount(ctx, pm, d, name, sqsh); err != nil {
			return plan.Container{}, err
		}
	} else {
		if pre == nil {
			got, err := f.pullOnce(ctx, d, s)
			if err != nil {
				return plan.Container{}, err
			}
			pre = &got
		}
		pulled, notice = pre.Pulled, pre.notice
		if f.storeMissing != "" {
			notice = addLine(notice, fmt.Sprintf("carina: %s: the shared image store %s is not visible on this node; "+
				"%s was pulled into the node's own store instead (each such node pulls for itself)", s.Node, f.storeMissing, f.image))
		}
		spec.ImageID = pulled.ID
		if global {
			// Kept after the job, started again on these layers: the
			// image is in use for as long as the container exists.
			if err := imagestore.KeepLease(f.imageStoreDir(d), pulled.ID, name); err != nil {
				return plan.Container{}, err
			}
		}
		if pulled.Squash != "" && !global {
			// The squashed image: one read-only file from the shared
			// store, mounted here, instead of its layers. (A kept global
			// container runs on the layers, which need no mount to
			// start again.)
			if spec.RootFS, err = squashfs.Mount(ctx, pm, d, name, pulled.Squash); err != nil {
				// A damaged file (the shared filesystem's fault, or a
				// hand's): made again from the image's layers, once.
				if err = f.resquash(ctx, d, s, pulled.Squash, err); err != nil {
					return plan.Container{}, err
				}
				notice = addLine(notice, fmt.Sprintf("carina: %s: the squashfs of image %.12s in your image store could not "+
					"be mounted; it was made again from the image's layers", s.Node, pulled.ID))
				if spec.RootFS, err = squashfs.Mount(ctx, pm, d, name, pulled.Squash); err != nil {
					return plan.Container{}, err
				}
			}
		}
	}
	if f.relayBin != "" {
		vols, err := relay.Prepare(d.Run, name, f.relayBin)
		if err != nil {
			return plan.Container{}, err
		}
		spec.Volumes = append(spec.Volumes, vols...)
	}
	tmpfs, err := mountKernelTmpfs(ctx, pm, d, name, f.spec.Mounts)
	if err != nil {
		return plan.Container{}, err
	}
	spec.Volumes = append(spec.Volumes, tmpfs...)
	id, err := pm.Start(ctx, spec)
	if err != nil {
		if cdiErr := cdiStartError(s.Node, spec.Devices, gpuDevices(f.site.GPUCDIKind, f.gpus), f.spec.Environment, err); cdiErr != nil {
			return plan.Container{}, cdiErr
		}
		return plan.Container{}, fmt.Errorf("starting the container for %s: %w", f.image, err)
	}
	st, _, err := pm.Inspect(ctx, name)
	if err != nil || !st.Running || st.Pid <= 0 {
		return plan.Container{}, fmt.Errorf("container %s for %s did not stay running: %v", name, f.image, err)
	}
	if sqsh != "" {
		pulled = squashfs.RootfsConfig(st.Pid)
	}
	if spec.RootFS != "" && !spec.ReadOnly {
		// The image's files are the user's; podman's overlay gives "/"
		// to another uid. Without the fix only "/" itself stays closed.
		if err := squashfs.OwnRoot(ctx, pm, st.Pid); err != nil {
			notice = addLine(notice, fmt.Sprintf("carina: %s: %v; files cannot be created in / itself", s.Node, err))
		}
	}
	// What podman gave the runtime: joined tasks are confined as the
	// container's processes are (capabilities, seccomp), and get the
	// variables CDI edits (a GPU stack's) set, as podman exec would.
	oci, err := pm.ReadOCIConfig(ctx, st.OCIConfig)
	if err != nil {
		return plan.Container{}, fmt.Errorf("container %s on %s: %w", name, s.Node, err)
	}
	conf, err := confine.FromOCI(oci, f.site.Seccomp)
	if err != nil {
		return plan.Container{}, fmt.Errorf("container %s on %s: %w (the site can set [security] seccomp = false)", name, s.Node, err)
	}
	env := pulled.Env
	if len(spec.Devices) > 0 {
		env = append(slices.Clip(env), nodectr.AddedEnv(oci, pulled.Env, spec.Env)...)
	}
	c := plan.Container{Name: name, ID: id, Pid: st.Pid, Start: nodectr.ProcessStart(st.Pid), ImageID: pulled.ID, Env: env,
		Workdir: pulled.Workdir, Confine: &conf, RemapRoot: f.spec.RemapRoot, Home: f.homeInside(),
		Unshare: f.spec.Unshare, Mounts: f.userMounts, Relay: f.relayBin != "", Job: s.JobID, Global: global, Squash: squash, Notice: notice}
	if f.spec.Entrypoint && len(pulled.Entrypoint) > 0 {
		if f.relayBin == "" {
			return plan.Container{}, errors.New("--container-entrypoint needs the relay client, which is not installed")
		}
		env, out, err := relay.RunEntrypoint(ctx, pm, d.Run, name, pulled.Entrypoint, f.entryEnv)
		if err != nil {
			return plan.Container{}, err
		}
		c.Env = env
		if len(out) > plan.MaxEntryOut {
			out = out[len(out)-plan.MaxEntryOut:]
		}
		c.EntryOut = out
		if f.spec.EntrypointLog {
			c.Log = out
		}
	}
	if f.relayBin != "" {
		if err := relay.Start(d.Run, name); err != nil {
			return plan.Container{}, err
		}
	}
	return c, nil
}

// Down removes the job's containers on this node; when no carina
// container of the user is left there, it also ends podman's pause process
// so that no process of the user outlives the job.
func Down(f Job) error {
	ResetOOMScore()
	if f.imageStore != "" && !ownStore(f.imageStore) {
		// The job failed before its shared store was made (or something
		// not the user's is there): podman must not be pointed at it.
		f.imageStore = ""
	}
	s := f.step()
	if err := s.Validate(); err != nil {
		return err
	}
	d := plan.DirsFor(f.runtimeDir, f.storeDir, s)
	if _, err := os.Stat(d.Run); errors.Is(err, os.ErrNotExist) {
		return nil // carina never ran for this user on this node
	}
	unlock, err := imagestore.Lock(filepath.Join(d.Run, "lock"))
	if err != nil {
		return err
	}
	defer unlock()
	ctx := context.Background()
	pm := f.Podman(d)
	names, err := pm.List(ctx, nodectr.All, fmt.Sprintf("%s=%d", plan.LabelJob, s.JobID), plan.LabelNode+"="+s.Node)
	if err != nil {
		return err
	}
	// Containers that no longer run belong to no live step (left by a
	// crashed node or a wiped runtime directory): remove them too.
	stale, err := pm.List(ctx, nodectr.NotRunning)
	if err != nil {
		return err
	}
	var remove []string
	for _, n := range append(names, stale...) {
		if !plan.IsGlobal(n, s.Node) {
			remove = append(remove, n)
		}
	}
	// A failed removal is reported, but the rest still runs: the pause
	// process must not outlive the job because one container resisted.
	var errs []error
	if err := nodectr.Teardown(ctx, pm, d, remove...); err != nil {
		errs = append(errs, err)
	}
	if err := dropStepRecords(d, s.JobID); err != nil {
		errs = append(errs, err)
	}
	// Global named containers this job used are stopped and kept.
	running, err := pm.List(ctx, nodectr.Running)
	if err != nil {
		return err
	}
	for _, n := range running {
		var c plan.Container
		if !plan.IsGlobal(n, s.Node) {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d.Run, n+".json")); err != nil || json.Unmarshal(b, &c) != nil || c.Job != s.JobID {
			continue
		}
		relay.Stop(d.Run, n, true)
		if _, err := nodectr.EndJoined(d, n); err != nil {
			return err
		}
		if err := pm.Stop(ctx, n); err != nil {
			return err
		}
		squashfs.Unmount(ctx, pm, d, n)
	}
	if len(errs) == 0 {
		// The job's leases go only with its containers: an image a
		// container that resisted removal still uses stays leased.
		if err := imagestore.Release(f.imageStoreDir(d), s.Node, s.JobID); err != nil {
			errs = append(errs, err)
		}
	}
	left, err := pm.List(ctx, nodectr.Running)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if len(left) == 0 {
		squashfs.KillLeftovers(d)
		errs = append(errs, nodectr.KillPause(d.Run))
	}
	return errors.Join(errs...)
}

// ownStore reports whether dir is a directory of the calling user (the
// helper runs as the job user).
func ownStore(dir string) bool {
	fi, err := os.Lstat(storeGraph(dir))
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

// ResetOOMScore undoes slurmstepd's -1000 so that podman and the container
// are not immune to the OOM killer (raising the score needs no privilege).
func ResetOOMScore() {
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("0"), 0)
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return nodectr.WriteFileAtomic(path, b)
}

// storeGraph is the containers/storage graph root inside an image store
// directory (imagestore.GraphDir), as node.go names it.
func storeGraph(dir string) string { return imagestore.GraphDir(dir) }

// initImageStore creates the shared store once, under its lock, so that
// podman can open it as an image store before anything was pulled.
func (f Job) initImageStore(ctx context.Context, d plan.Dirs) error {
	if f.imageStore == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(storeGraph(f.imageStore), "overlay-images", "images.lock")); err == nil {
		return nil
	}
	unlock, err := imagestore.Lock(filepath.Join(f.imageStore, imagestore.LockFile))
	if err != nil {
		return err
	}
	defer unlock()
	return pull.Init(ctx, storeGraph(f.imageStore), filepath.Join(d.Run, "image-store"))
}

// Image formats of a shared store (the site's image_format).
const (
	FormatSquashfs = "squashfs" // each image also kept as one squashfs file, started from it
	FormatOverlay  = "overlay"  // layers only, read by podman as an additional image store
)

// CheckImageFormat accepts the values of --image-format.
func CheckImageFormat(f string) error {
	if f != FormatSquashfs && f != FormatOverlay {
		return fmt.Errorf("--image-format: want squashfs or overlay, not %q", f)
	}
	return nil
}

// imageStoreDir is where this node's podman finds images: the user's
// shared image store, or the node-local store.
func (f Job) imageStoreDir(d plan.Dirs) string {
	if f.imageStore != "" {
		return f.imageStore
	}
	return d.Store
}

// pullOnce pulls ref where this node's podman will find it, under the
// store's lock: with a shared store one node pulls while the others wait
// and then find the image there. The job's lease on the image is taken
// under the same lock, so gc can never remove it in between.
func (f Job) pullOnce(ctx context.Context, d plan.Dirs, s plan.Step) (fetched, error) {
	dir := f.imageStoreDir(d)
	unlock, err := imagestore.Lock(filepath.Join(dir, imagestore.LockFile))
	if err != nil {
		return fetched{}, err
	}
	defer unlock()
	runroot := d.RunRoot // the node-local store is podman's own
	if f.imageStore != "" {
		runroot = filepath.Join(d.Run, "image-store")
	}
	squash := ""
	if f.imageStore != "" && f.imageFormat == FormatSquashfs {
		squash = dir
	}
	p, err := pull.Subordinate(ctx, pull.Request{Root: storeGraph(dir), RunRoot: runroot, Ref: f.image, Retry: *f.retry, SquashDir: squash,
		AuthFiles: f.authFiles}, nil)
	if err != nil {
		return fetched{}, err
	}
	if err := imagestore.Lease(dir, p.ID, s.Node, s.JobID); err != nil {
		return fetched{}, fmt.Errorf("recording that job %d uses image %.12s: %w", s.JobID, p.ID, err)
	}
	got := fetched{Pulled: p}
	if f.imageStore == "" && f.site.StoreLimit > 0 {
		got.notice = f.boundLocalStore(ctx, s.Node, dir, runroot)
	}
	return got, nil
}

// resquash replaces the shared store's squashfs file of an image that
// failed to mount (mountErr): under the store's lock, unless another node
// has replaced (or removed) it meanwhile, the file is removed, and
// pullOnce squashes the image again from its layers (a pull that finds the
// image stored) or finds it made by that other node.
func (f Job) resquash(ctx context.Context, d plan.Dirs, s plan.Step, file string, mountErr error) error {
	// Missing is as bad: another node is making it again right now.
	bad, badErr := os.Stat(file)
	dir := f.imageStoreDir(d)
	unlock, err := imagestore.Lock(filepath.Join(dir, imagestore.LockFile))
	if err != nil {
		return err
	}
	if cur, err := os.Stat(file); badErr == nil && err == nil && os.SameFile(bad, cur) {
		err = os.Remove(file)
		if err != nil {
			unlock()
			return fmt.Errorf("%w; removing the damaged file: %v", mountErr, err)
		}
	}
	unlock()
	if _, err := f.pullOnce(ctx, d, s); err != nil {
		return fmt.Errorf("%w; making it again: %v", mountErr, err)
	}
	return nil
}

// fetched is an image pullOnce brought into this node's store, with what
// the user is told of it ("" or carina: lines).
type fetched struct {
	image.Pulled
	notice string
}

// boundLocalStore is the node-local store's automatic gc (store_limit):
// after a pull, the images no job, kept container or container of the
// store uses are removed, least recently used first, until the store
// holds at most the limit. It runs under the store's lock, after the job's
// lease on the image it pulled. What it removed, or that it failed, is
// said on the user's terminal; a failed gc costs the step nothing (the
// next pull tries again).
func (f Job) boundLocalStore(ctx context.Context, node, dir, runroot string) string {
	limit := imagestore.HumanBytes(f.site.StoreLimit)
	rep, err := pull.Collect(ctx, pull.Request{Root: storeGraph(dir), RunRoot: runroot, KeepBytes: f.site.StoreLimit})
	switch {
	case err != nil:
		return fmt.Sprintf("carina: %s: keeping your node-local image store within the site's store_limit (%s) failed: %v", node, limit, err)
	case len(rep.Removed) > 0:
		what := "image"
		if len(rep.Removed) > 1 {
			what = "images"
		}
		return fmt.Sprintf("carina: %s: your node-local image store is bounded by the site's store_limit (%s): "+
			"removed %d unused %s, least recently used first (%s freed, %s kept)",
			node, limit, len(rep.Removed), what, imagestore.HumanBytes(rep.FreedBytes), imagestore.HumanBytes(rep.AfterBytes))
	}
	return ""
}

// addLine appends line to the notice text (one carina: line each).
func addLine(text, line string) string {
	if text == "" {
		return line
	}
	return text + "\n" + line
}

// Save writes the running container name's filesystem to out as a
// squashfs file (--container-save).
func Save(f Job, name, out string) error {
	if !filepath.IsAbs(out) || name == "" {
		return fmt.Errorf("node save: a container name and an absolute output path are required")
	}
	ResetOOMScore()
	s, d, unlock, err := f.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	return nodectr.Save(context.Background(), f.Podman(d), d, s, name, out)
}
