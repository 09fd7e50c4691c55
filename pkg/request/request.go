// Package request is the one contract between the SPANK plugin and the
// carina helper it executes: one JSON Request on the helper's standard
// input (`carina plugin`), one JSON Reply on its standard output, and one
// error type. The helper's standard error is only progress and diagnostics
// (shown to the user for a pull); the outcome is always the Reply.
//
// The plugin builds Requests as root in slurmstepd or the job epilog (the
// helper then runs as the job user) and as the user in srun/sbatch/salloc.
// Everything in a Request is data: the site's configuration (root-owned),
// the step's identity (from Slurm), and the step's settings (a validated
// option.Spec, which the user controls). Paths the user named are only
// ever opened by the helper, as the user. The package is pure.
package request

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/gres"
	"github.com/carina-hpc/carina/pkg/option"
	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/regauth"
)

// Kind names what a Request asks for.
type Kind string

// The helper's operations.
const (
	KindNodeUp   Kind = "node-up"   // start or find the step's node container
	KindNodeDown Kind = "node-down" // remove the job's containers on this node (job epilog)
	KindSave     Kind = "save"      // write a node container's filesystem as squashfs (--container-save)
	KindPull     Kind = "pull"      // pull an image into the user's shared store (submit side)
	KindResolve  Kind = "resolve"   // pin an image to its digest (submit side)
)

// Request is one helper run.
type Request struct {
	Kind Kind `json:"kind"`
	// Site is the site's configuration as the plugin loaded it.
	Site config.Config `json:"site"`
	// Job and Node identify the step on this node (from Slurm, never from
	// the job's environment); unset on the submit side.
	Job  uint32 `json:"job,omitempty"`
	Node string `json:"node,omitempty"`
	// ImageStore is the user's shared image store as root prepared it on
	// this node ("" = node-local).
	ImageStore string `json:"image_store,omitempty"`
	// ImageStoreMissing is the site's shared image store base when this
	// node cannot see it (root found it absent): the node pulls into its
	// own store, and the user is told.
	ImageStoreMissing string `json:"image_store_missing,omitempty"`
	// Auth places the user's registry credentials (paths from the user's
	// environment, no credential): the helper reads them as the user for
	// resolve, pull and a node's pull.
	Auth *regauth.Env `json:"auth,omitempty"`

	NodeUp  *NodeUp  `json:"node_up,omitempty"`
	Save    *Save    `json:"save,omitempty"`
	Pull    *Pull    `json:"pull,omitempty"`
	Resolve *Resolve `json:"resolve,omitempty"`
}

// NodeUp starts or finds a step's node container.
type NodeUp struct {
	Image string      `json:"image,omitempty"` // the normalised (pinned) image source; "" for a named container only
	Spec  option.Spec `json:"spec"`
	// Step is the step's id (from Slurm): an unnamed container is
	// recorded under JOBID.STEPID, which --container-name may name.
	Step uint32 `json:"step,omitempty"`
	// Script is the batch script Slurm spooled for a batch step (mounted
	// read-only at its own path).
	Script string `json:"script,omitempty"`
	// EntrypointEnv is NAME=VALUE from the job's environment for the
	// names of --container-env, for the image's entrypoint.
	EntrypointEnv []string `json:"entrypoint_env,omitempty"`
	// Home is the user's home directory from the passwd database.
	Home string `json:"home,omitempty"`
	// RelayBin is the host directory of the relay client ("" = no relay).
	RelayBin string `json:"relay_bin,omitempty"`
	// GPUs are the Slurm indices of the step's GPUs on this node
	// (gres.ParseIndices of what slurmstepd says, e.g. ["0", "1"]): the
	// container gets each as the CDI device KIND=INDEX, KIND being the
	// site's [gpu] cdi_kind.
	GPUs []string `json:"gpus,omitempty"`
}

// Save writes a container's filesystem to a squashfs file.
type Save struct {
	Container string `json:"container"`
	Out       string `json:"out"`
}

// Pull brings an image into an image store.
type Pull struct {
	Store string `json:"store"`
	Image string `json:"image"`
}

// Resolve pins an image reference to its digest.
type Resolve struct {
	Image string `json:"image"`
}

// Reply is the helper's answer: exactly one of its fields is set.
type Reply struct {
	Container *plan.Container `json:"container,omitempty"` // node-up
	Image     string          `json:"image,omitempty"`     // resolve, pull: the pinned image
	Error     *Error          `json:"error,omitempty"`
}

// Error is a failure the user should read: one line, what and where.
type Error struct {
	Message string `json:"message"`
}

// Error prints the message with carina's prefix, once.
func (e *Error) Error() string { return Prefixed(e.Message) }

// Prefixed puts "carina: " in front of msg unless it is there already.
func Prefixed(msg string) string {
	if strings.HasPrefix(msg, "carina:") {
		return msg
	}
	return "carina: " + msg
}

// Errorf makes a reply error.
func Errorf(format string, a ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, a...)}
}

// MaxBytes bounds a Request or Reply document.
const MaxBytes = 4 << 20

// Check refuses a Request that is missing what its kind needs.
func (r Request) Check() error {
	need := map[Kind]bool{KindNodeUp: r.NodeUp != nil, KindSave: r.Save != nil, KindPull: r.Pull != nil,
		KindResolve: r.Resolve != nil, KindNodeDown: true}
	ok, known := need[r.Kind]
	switch {
	case !known:
		return fmt.Errorf("unknown request kind %q", r.Kind)
	case !ok:
		return fmt.Errorf("request %s without its %s part", r.Kind, r.Kind)
	}
	if r.Kind == KindNodeUp || r.Kind == KindNodeDown || r.Kind == KindSave {
		if err := (plan.Step{JobID: r.Job, Node: r.Node}).Validate(); err != nil {
			return fmt.Errorf("request %s: %w", r.Kind, err)
		}
	}
	if r.NodeUp != nil {
		if err := r.NodeUp.Spec.Validate(); err != nil {
			return fmt.Errorf("request %s: %w", r.Kind, err)
		}
		if err := checkGPUs(r.NodeUp.GPUs); err != nil {
			return fmt.Errorf("request %s: %w", r.Kind, err)
		}
	}
	if r.Site.GPUCDIKind != "" {
		if err := option.CheckCDIKind(r.Site.GPUCDIKind); err != nil {
			return fmt.Errorf("request %s: the site's [gpu] cdi_kind %w", r.Kind, err)
		}
	}
	return nil
}

// checkGPUs refuses GPU indices that are not as gres.ParseIndices writes
// them (each becomes part of a podman --device argument), and more of
// them than it returns.
func checkGPUs(gpus []string) error {
	if len(gpus) > gres.MaxIndices {
		return fmt.Errorf("%d GPU indices, more than %d", len(gpus), gres.MaxIndices)
	}
	for _, g := range gpus {
		if !gres.IsIndex(g) {
			return fmt.Errorf("GPU index %q: want a decimal index", g)
		}
	}
	return nil
}

// Decode reads one Request strictly (unknown fields are errors).
func Decode(r io.Reader) (Request, error) {
	var req Request
	dec := json.NewDecoder(io.LimitReader(r, MaxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("reading the request: %w", err)
	}
	return req, req.Check()
}

// Encode writes v as one JSON document.
func Encode(w io.Writer, v any) error {
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return fmt.Errorf("writing the %T: %w", v, err)
	}
	return nil
}

// ParseReply reads the helper's standard output. A helper that died
// before replying gives an error naming what it said last on stderr.
func ParseReply(stdout []byte, runErr error, stderr string) (Reply, error) {
	var rep Reply
	if err := json.Unmarshal(stdout, &rep); err != nil {
		if runErr == nil {
			runErr = err
		}
		return rep, noReply(runErr, stderr)
	}
	if rep.Error != nil {
		return rep, rep.Error
	}
	if runErr != nil {
		return rep, noReply(runErr, stderr)
	}
	return rep, nil
}

func noReply(err error, stderr string) error {
	tail := strings.TrimSpace(stderr)
	if i := strings.LastIndexByte(tail, '\n'); i >= 0 {
		tail = strings.TrimSpace(tail[i+1:])
	}
	if tail == "" {
		return fmt.Errorf("carina: the helper gave no reply (%v)", err)
	}
	return fmt.Errorf("carina: the helper gave no reply (%v): %s", err, strings.TrimPrefix(tail, "carina: "))
}
