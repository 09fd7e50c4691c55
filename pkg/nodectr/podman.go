// Package nodectr starts, finds and removes the one container per node,
// job and configuration that the tasks of a step join. It drives the podman
// CLI as the job user (rootless) and runs only in the carina helper.
// Teardown removes a container with what was started and mounted beside
// it; Kept and RemoveKept are the user's view of the named containers
// that container_scope = "global" keeps between jobs.
package nodectr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/carina-hpc/carina/pkg/plan"
)

// InitTarget is where the static init is mounted inside every container;
// it needs nothing from the image, so shell-less images work.
const InitTarget = "/.carina-init"

// Podman runs podman with the store and runtime of one node and user.
type Podman struct {
	Bin        string
	GraphRoot  string
	RunRoot    string
	Driver     string
	ExtraFlags []string // site flags placed before the subcommand
}

func (p Podman) global() []string {
	args := []string{"--root", p.GraphRoot, "--runroot", p.RunRoot, "--storage-driver", p.Driver}
	return append(args, p.ExtraFlags...)
}

// run executes podman and returns stdout; the error carries stderr.
func (p Podman) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, p.Bin, append(p.global(), args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("podman %s: %v: %s", args[0], err, errorLine(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Spec is a node container to start.
type Spec struct {
	Name     string
	ImageID  string // the image to run, or
	RootFS   string // a root filesystem (--rootfs DIR[:O]) instead of an image
	JobID    uint32
	Node     string
	InitPath string // host path of a static init (catatonit)

	Volumes     []string          // podman --volume values (SRC:DST[:OPTS])
	Tmpfs       []string          // podman --tmpfs values (DST[:OPTS])
	Devices     []string          // podman --device values: CDI names VENDOR/CLASS=NAME
	ReadOnly    bool              // --read-only (podman keeps /tmp, /var/tmp, /run writable)
	RemapRoot   bool              // the user is uid 0 inside; else keep-id (the user's own uid)
	Unshare     []string          // net, ipc, uts: private namespaces instead of the host's
	Env         map[string]string // set in the container (seen by the entrypoint)
	Annotations map[string]string
	Global      bool // outlives its job (labelled carina.scope=global)
	Unconfined  bool // no seccomp filter (the site's [security] seccomp = false)
}

// RunArgs is the podman command line that starts spec: host network, PID,
// IPC and UTS namespaces (what HPC codes expect) unless unshared, the
// user's own uid inside (keep-id) unless remapped to root, the CDI
// devices (GPUs) podman resolves from the site's CDI specs, and a
// pause-mode init that outlives every task.
func RunArgs(s Spec) []string {
	private := map[string]bool{}
	for _, ns := range s.Unshare {
		private[ns] = true
	}
	args := []string{"run", "--detach", "--name", s.Name,
		"--label", plan.LabelManaged + "=1",
		"--label", fmt.Sprintf("%s=%d", plan.LabelJob, s.JobID),
		"--label", plan.LabelNode + "=" + s.Node,
	}
	if s.Global {
		args = append(args, "--label", plan.LabelScope+"=global")
	}
	args = append(args, "--pull=never",
		pick(private["net"], "--network=none", "--network=host"),
		"--pid=host",
		pick(private["ipc"], "--ipc=private", "--ipc=host"),
		pick(private["uts"], "--uts=private", "--uts=host"))
	if !s.RemapRoot {
		args = append(args, "--userns=keep-id")
	}
	if private["uts"] {
		// A host name of its own is one the user may set (sethostname,
		// as under pyxis): that takes CAP_SYS_ADMIN over the container's
		// user namespace, which podman gives a non-root user as an
		// ambient capability. It reaches nothing outside the user's own
		// namespaces.
		args = append(args, "--cap-add=SYS_ADMIN")
	}
	if s.ReadOnly {
		args = append(args, "--read-only")
	}
	if s.Unconfined {
		args = append(args, "--security-opt", "seccomp=unconfined")
	}
	args = append(args, "--log-driver=none", "--volume", s.InitPath+":"+InitTarget+":ro")
	for _, v := range s.Volumes {
		args = append(args, "--volume", v)
	}
	for _, t := range s.Tmpfs {
		args = append(args, "--tmpfs", t)
	}
	for _, d := range s.Devices {
		args = append(args, "--device", d)
	}
	for _, k := range sortedKeys(s.Env) {
		args = append(args, "--env", k+"="+s.Env[k])
	}
	for _, k := range sortedKeys(s.Annotations) {
		args = append(args, "--annotation", k+"="+s.Annotations[k])
	}
	args = append(args, "--entrypoint", InitTarget)
	if s.RootFS != "" {
		args = append(args, "--rootfs", s.RootFS)
	} else {
		args = append(args, s.ImageID)
	}
	return append(args, "-P")
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Unshare runs a command inside podman's user and mount namespaces (where
// a rootless mount is seen by podman).
func (p Podman) Unshare(ctx context.Context, args ...string) error {
	_, err := p.run(ctx, append([]string{"unshare"}, args...)...)
	return err
}

// Exec runs argv in the named container with extra variables env
// (NAME=VALUE) and returns its output, stdout and stderr together.
func (p Podman) Exec(ctx context.Context, name string, env, argv []string) (string, error) {
	args := append(p.global(), "exec")
	for _, e := range env {
		args = append(args, "--env", e)
	}
	args = append(append(args, name), argv...)
	cmd := exec.CommandContext(ctx, p.Bin, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Start starts spec and returns the container id.
func (p Podman) Start(ctx context.Context, s Spec) (string, error) {
	out, err := p.run(ctx, RunArgs(s)...)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// State is what carina needs of a running container.
type State struct {
	ID      string
	Pid     int
	Running bool
	// OCIConfig is the runtime's config.json for the container (what
	// podman gave runc, CDI edits included); ReadOCIConfig reads it.
	OCIConfig string
}

// Inspect returns the state of the named container; ok is false when it
// does not exist.
func (p Podman) Inspect(ctx context.Context, name string) (st State, ok bool, err error) {
	out, err := p.run(ctx, "container", "inspect", "--format", "json", name)
	if err != nil {
		if strings.Contains(err.Error(), "no such container") {
			return State{}, false, nil
		}
		return State{}, false, err
	}
	var raw []struct {
		ID        string `json:"Id"`
		OCIConfig string `json:"OCIConfigPath"`
		State     struct {
			Running bool `json:"Running"`
			Pid     int  `json:"Pid"`
		} `json:"State"`
	}
	if err := json.Unmarshal(out, &raw); err != nil || len(raw) != 1 {
		return State{}, false, fmt.Errorf("podman container inspect %s: unreadable output: %v", name, err)
	}
	return State{ID: raw[0].ID, Pid: raw[0].State.Pid, Running: raw[0].State.Running, OCIConfig: raw[0].OCIConfig}, true, nil
}

// Which selects containers by state for List.
type Which int

// States List can select.
const (
	All Which = iota
	Running
	NotRunning
)

// List returns the names of carina containers in the given state that
// match the label filters (e.g. "carina.job=42").
func (p Podman) List(ctx context.Context, which Which, labels ...string) ([]string, error) {
	args := []string{"ps", "--all", "--format", "{{.Names}}", "--filter", "label=" + plan.LabelManaged + "=1"}
	switch which {
	case Running:
		args = append(args, "--filter", "status=running")
	case NotRunning:
		for _, s := range []string{"created", "exited", "paused", "stopped", "unknown"} {
			args = append(args, "--filter", "status="+s)
		}
	}
	for _, f := range labels {
		args = append(args, "--filter", "label="+f)
	}
	out, err := p.run(ctx, args...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// StartExisting starts a stopped container again (a global named one).
func (p Podman) StartExisting(ctx context.Context, name string) error {
	_, err := p.run(ctx, "start", name)
	return err
}

// Stop stops a container at once, keeping it (a global named one).
func (p Podman) Stop(ctx context.Context, name string) error {
	_, err := p.run(ctx, "stop", "--time", "0", name)
	return err
}

// Remove removes containers at once (their init holds no user state).
func (p Podman) Remove(ctx context.Context, names ...string) error {
	seen := map[string]bool{}
	args := []string{"rm", "--force", "--time", "0"}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			args = append(args, n)
		}
	}
	if len(seen) == 0 {
		return nil
	}
	var err error
	for try := 0; try < removeTries; try++ {
		if _, err = p.run(ctx, args...); err == nil || !stopRace(err) {
			return err
		}
		// The container's init died just before (the epilog ends the
		// processes in its mount namespace, the init among them) and
		// podman's record still says running: its SIGKILL finds a
		// stopped container ("container state improper: stopped",
		// seen in CI). Once conmon has recorded the stop, rm succeeds.
		time.Sleep(removeRetryDelay)
	}
	return err
}

const (
	removeTries      = 5
	removeRetryDelay = 300 * time.Millisecond
)

// stopRace reports podman rm's error for a container that stopped while
// podman was stopping it.
func stopRace(err error) bool {
	return strings.Contains(err.Error(), "container state improper")
}

// errorLine picks podman's "Error:" line out of its warnings.
func errorLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "Error: ") {
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}
