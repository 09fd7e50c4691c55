package node

import (
	"fmt"
	"slices"
	"strings"
)

// CDISpecDirs are where podman looks for CDI specs (the CDI library's
// defaults), for messages.
const CDISpecDirs = "/etc/cdi or /var/run/cdi"

// gpuDevices are the CDI names of the step's GPUs on this node,
// KIND=INDEX in index order; none when the site injects no GPUs (kind "").
func gpuDevices(kind string, gpus []string) []string {
	if kind == "" {
		return nil
	}
	out := make([]string, 0, len(gpus))
	for _, g := range gpus {
		out = append(out, kind+"="+g)
	}
	return out
}

// cdiDevices are the container's CDI devices: the step's own (an
// environment file's devices) first, then its GPUs as KIND=INDEX; each
// once, the first kept, so equal settings and GPUs give one list.
func cdiDevices(spec []string, kind string, gpus []string) []string {
	var out []string
	for _, d := range append(slices.Clip(spec), gpuDevices(kind, gpus)...) {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// devices are the CDI devices of the step's container on this node.
func (f Job) devices() []string { return cdiDevices(f.spec.Devices, f.site.GPUCDIKind, f.gpus) }

// containerKey is what names the step's container (plan.ContainerName):
// the Spec's ContainerKey with the final devices, GPUs included, so that
// a step given other GPUs on this node gets a container of its own
// instead of joining one made with other devices.
func (f Job) containerKey() string {
	k := f.spec
	k.Devices = f.devices()
	return k.ContainerKey(f.image)
}

// cdiStartError explains a podman start that failed on the container's
// CDI devices, in one line that says what is missing and who fixes it;
// nil when err is no CDI failure (or the container has no devices).
// gpuDevs are the devices made from the step's GPUs, envFile the
// environment file that named the others.
func cdiStartError(node string, devices, gpuDevs []string, envFile string, err error) error {
	msg := err.Error()
	if len(devices) == 0 || !strings.Contains(msg, "CDI") {
		return nil
	}
	if !strings.Contains(msg, "unresolvable CDI devices") {
		return fmt.Errorf("setting up the CDI devices %s on %s failed (%w); the site checks its CDI specs in %s "+
			"(nvidia-ctk cdi generate writes one for NVIDIA GPUs)", strings.Join(devices, ", "), node, err, CDISpecDirs)
	}
	missing := namedIn(msg, devices)
	var gpus, others []string
	for _, d := range missing {
		if slices.Contains(gpuDevs, d) {
			gpus = append(gpus, d)
		} else {
			others = append(others, d)
		}
	}
	var parts []string
	if len(gpus) > 0 {
		parts = append(parts, fmt.Sprintf("the step's GPUs on %s need the CDI devices %s, which no CDI spec in %s defines; "+
			"the site generates one (nvidia-ctk cdi generate) or sets [gpu] cdi_kind = \"\"", node, strings.Join(gpus, ", "), CDISpecDirs))
	}
	if len(others) > 0 {
		from := "the step's settings ask"
		if envFile != "" {
			from = "the environment file " + envFile + " asks"
		}
		parts = append(parts, fmt.Sprintf("%s for the CDI devices %s, which no CDI spec in %s on %s defines; "+
			"the site adds a CDI spec for them, or the file's devices drop them", from, strings.Join(others, ", "), CDISpecDirs, node))
	}
	return &cdiError{msg: strings.Join(parts, "; and "), err: err}
}

// namedIn are the devices that podman's message names (as whole words),
// or all of them when it names none of them.
func namedIn(msg string, devices []string) []string {
	words := strings.FieldsFunc(msg, func(r rune) bool { return strings.ContainsRune(" \t\n,;\"'[]()", r) })
	var out []string
	for _, d := range devices {
		if slices.Contains(words, d) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return devices
	}
	return out
}

// cdiError is the user's line for devices no CDI spec defines; it wraps
// podman's own error.
type cdiError struct {
	msg string
	err error
}

func (e *cdiError) Error() string { return e.msg }
func (e *cdiError) Unwrap() error { return e.err }
