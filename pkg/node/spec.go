package node

import (
	"github.com/carina-hpc/carina/pkg/mounts"
	"github.com/carina-hpc/carina/pkg/nodectr"
	"github.com/carina-hpc/carina/pkg/option"
	"github.com/carina-hpc/carina/pkg/plan"
)

// homeInside is where the container has the user's home mounted
// (--container-mount-home), "" when it has not: a mount of the step's own
// on that target replaced it, or passwd names no home that exists.
func (f Job) homeInside() string {
	t := mounts.HomeTarget(f.spec, f.home)
	for _, m := range f.spec.Mounts {
		if t != "" && m.Target == t && m.Source == f.home && !m.Tmpfs {
			return t
		}
	}
	return ""
}

// containerSpec turns the step's settings into podman's terms.
func (f Job) containerSpec(name string, s plan.Step) nodectr.Spec {
	spec := nodectr.Spec{Name: name, JobID: s.JobID, Node: s.Node, InitPath: f.initPath,
		ReadOnly: !f.spec.Writable, RemapRoot: f.spec.RemapRoot, Unshare: f.spec.Unshare, Unconfined: !f.site.Seccomp,
		Env: f.spec.Env, Annotations: f.spec.Annotations, Devices: f.devices()}
	for _, m := range f.spec.Mounts {
		if m.Tmpfs {
			spec.Tmpfs = append(spec.Tmpfs, m.TmpfsArg())
		} else {
			spec.Volumes = append(spec.Volumes, m.VolumeArg())
		}
	}
	if f.script != "" {
		spec.Volumes = append(spec.Volumes, f.script+":"+f.script+":ro")
	}
	return spec
}

// mountArgs are the podman values of mounts, as a container records them.
func mountArgs(ms []option.Mount) []string {
	var out []string
	for _, m := range ms {
		if m.Tmpfs {
			out = append(out, "tmpfs:"+m.TmpfsArg())
		} else {
			out = append(out, m.VolumeArg())
		}
	}
	return out
}
