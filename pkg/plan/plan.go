// Package plan turns a validated option set and a step's identity into the
// names and paths of its node container. It is pure: the plugin (as root)
// and the helper (as the user) compute the same answers from it.
package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Labels put on every container carina starts, so that cleanup can find
// them by job without trusting names alone.
const (
	LabelManaged = "carina.managed"
	LabelJob     = "carina.job"
	LabelNode    = "carina.node"
	// LabelScope marks a named container that outlives its job
	// (container_scope = "global").
	LabelScope = "carina.scope"
)

// NamePrefix starts every container name.
const NamePrefix = "carina-"

var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Step identifies one step on one node.
type Step struct {
	JobID uint32
	Node  string
	UID   uint32
}

// Validate rejects node names that could escape a path or a container name.
func (s Step) Validate() error {
	if !nodeNameRE.MatchString(s.Node) {
		return fmt.Errorf("node name %q is not usable in a path", s.Node)
	}
	if s.JobID == 0 {
		return fmt.Errorf("job id 0 is not a job")
	}
	return nil
}

// Dirs are the per node and user directories of a step.
type Dirs struct {
	Run     string // XDG_RUNTIME_DIR of the user's podman on this node
	RunRoot string // containers/storage runroot
	Store   string // per node/user store directory
	Graph   string // containers/storage graphroot
}

// DirsFor lays out the directories under the site's runtime and store dirs.
// The node name keeps several slurmd on one host apart.
func DirsFor(runtimeDir, storeDir string, s Step) Dirs {
	uid := strconv.FormatUint(uint64(s.UID), 10)
	run := filepath.Join(runtimeDir, s.Node, uid)
	store := filepath.Join(storeDir, s.Node, uid)
	return Dirs{
		Run:     run,
		RunRoot: filepath.Join(run, "storage"),
		Store:   store,
		Graph:   filepath.Join(store, "storage"),
	}
}

// ContainerName is the node container of a job for one configuration:
// carina-<job>-<node>-<hash of the configuration>. Steps of a job with the
// same configuration (key: the pinned image and every setting that shapes
// the container) share it.
func ContainerName(s Step, key string) string {
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("%s%d-%s-%s", NamePrefix, s.JobID, s.Node, hex.EncodeToString(sum[:])[:12])
}

// NamedContainer is the container a step names with --container-name.
// It carries the job's prefix, so the job epilog removes it too.
func NamedContainer(s Step, name string) string {
	return fmt.Sprintf("%s%d-%s-n-%s", NamePrefix, s.JobID, s.Node, name)
}

// GlobalContainer is a named container that outlives its job
// (container_scope = "global"): the same name in every job of the user on
// this node.
func GlobalContainer(s Step, name string) string {
	return fmt.Sprintf("%sg-%s-%s", NamePrefix, s.Node, name)
}

// IsGlobal reports whether name is a global named container of node.
func IsGlobal(name, node string) bool {
	return strings.HasPrefix(name, fmt.Sprintf("%sg-%s-", NamePrefix, node))
}

// JobPrefix is the name prefix of every container of a job on a node.
func JobPrefix(jobID uint32, node string) string {
	return fmt.Sprintf("%s%d-%s-", NamePrefix, jobID, node)
}

// IsJobContainer reports whether name belongs to jobID on node.
func IsJobContainer(name string, jobID uint32, node string) bool {
	return strings.HasPrefix(name, JobPrefix(jobID, node))
}

// MaxEntryOut bounds the entrypoint output a container keeps for later
// steps.
const MaxEntryOut = 64 << 10

// Container is what the helper reports to the plugin about a running node
// container (JSON on the helper's standard output).
type Container struct {
	Name    string   `json:"name"`
	ID      string   `json:"id"`
	Pid     int      `json:"pid"`
	Start   uint64   `json:"start,omitempty"` // the init's start time (/proc/PID/stat), to tell it from a reused pid
	ImageID string   `json:"image_id"`
	Env     []string `json:"env"`
	Workdir string   `json:"workdir"`
	// Unshare names the namespaces the container has of its own (net,
	// ipc, uts): the tasks join those too.
	Unshare []string `json:"unshare,omitempty"`
	// Joined is true when the step joined a container that was already
	// running (reuse, or --container-name); Log is the entrypoint's output
	// when the user asked for it.
	Joined bool   `json:"joined,omitempty"`
	Log    string `json:"log,omitempty"`
	// EntryOut is the entrypoint's output as the first step ran it, kept
	// (at most MaxEntryOut bytes) for a later step's
	// --container-entrypoint-log.
	EntryOut string `json:"entry_out,omitempty"`
	// Mounts are the --container-mounts the container was created with
	// (podman's --volume/--tmpfs values); Ignored is one line for a step
	// that joined it asking for others, which cannot apply.
	Mounts  []string `json:"mounts,omitempty"`
	Ignored string   `json:"ignored,omitempty"`
	// Notice is one line for the user's terminal from the step that
	// started the container: a fallback carina took on this node (the
	// shared image store not visible). Later steps get none.
	Notice string `json:"notice,omitempty"`
	// Relay is true when the container has the Slurm command relay
	// (/.carina/bin first in the tasks' PATH).
	Relay bool `json:"relay,omitempty"`
	// Job is the job that last started or joined it; Global marks a
	// container that outlives its job; Squash is the squashfs file its
	// root filesystem is mounted from ("" when it runs on layers).
	Job    uint32 `json:"job,omitempty"`
	Global bool   `json:"global,omitempty"`
	Squash string `json:"squash,omitempty"`
	// RemapRoot is true when the container was made with the user as
	// root inside (--container-remap-root); a step asking otherwise gets
	// its own uid in a nested user namespace. Home is where the user's
	// home is mounted inside ("" when it is not).
	RemapRoot bool   `json:"remap_root,omitempty"`
	Home      string `json:"home,omitempty"`
	// Confine is how joined tasks are confined: what podman exec gives a
	// process of this container, read from its OCI configuration.
	Confine *Confinement `json:"confine,omitempty"`
}

// Confinement is the capability sets and seccomp filter a joined task
// takes on after entering the container's namespaces, as the container's
// own processes have them (pkg/confine computes it, the C join applies it).
// Each set is a bit mask of capability numbers (1<<CAP_CHOWN, ...).
type Confinement struct {
	Bounding    uint64 `json:"bounding"`
	Effective   uint64 `json:"effective"`
	Permitted   uint64 `json:"permitted"`
	Inheritable uint64 `json:"inheritable"`
	Ambient     uint64 `json:"ambient"`
	NoNewPrivs  bool   `json:"no_new_privs,omitempty"`
	// Seccomp is the container's seccomp filter as a classic BPF program
	// (struct sock_filter entries, 8 bytes each, native byte order); empty
	// when the container runs without one.
	Seccomp []byte `json:"seccomp,omitempty"`
}

// MaxSeccompInsns is the kernel's bound on a BPF program (BPF_MAXINSNS).
const MaxSeccompInsns = 4096

// Check rejects a Confinement no kernel would take: a filter that is not
// whole sock_filter entries or is longer than the kernel allows.
func (c Confinement) Check() error {
	if len(c.Seccomp)%8 != 0 || len(c.Seccomp)/8 > MaxSeccompInsns {
		return fmt.Errorf("seccomp filter of %d bytes is not a BPF program of at most %d instructions",
			len(c.Seccomp), MaxSeccompInsns)
	}
	// The kernel's own rules (capabilities(7)): effective within
	// permitted, inheritable within the bounding set (capset(2) after
	// the bounding set is lowered), ambient within permitted and
	// inheritable.
	if c.Inheritable&^c.Bounding != 0 {
		return fmt.Errorf("inheritable capabilities %#x are not all in the bounding set (%#x)", c.Inheritable, c.Bounding)
	}
	if c.Effective&^c.Permitted != 0 {
		return fmt.Errorf("effective capabilities %#x are not all permitted (%#x)", c.Effective, c.Permitted)
	}
	if c.Ambient&^(c.Permitted&c.Inheritable) != 0 {
		return fmt.Errorf("ambient capabilities %#x are not all permitted and inheritable (%#x, %#x)",
			c.Ambient, c.Permitted, c.Inheritable)
	}
	return nil
}
