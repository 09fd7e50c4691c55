package node

import (
	"context"
	"strings"

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
		if m.KernelTmpfs() {
			continue // mounted by mountKernelTmpfs, bound as a volume
		}
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

// remountKernelTmpfs mounts the tmpfs mounts of a kept container that is
// started again (their mounts went with the pause process at the end of
// the job that stopped it), from the mounts it records (mountArgs).
func remountKernelTmpfs(ctx context.Context, pm nodectr.Podman, d plan.Dirs, name string, recorded []string) error {
	var ms []option.Mount
	for _, r := range recorded {
		rest, ok := strings.CutPrefix(r, "tmpfs:")
		if !ok {
			continue
		}
		target, flags, _ := strings.Cut(rest, ":")
		m := option.Mount{Target: target, Tmpfs: true}
		if flags != "" {
			m.Flags = strings.Split(flags, ",")
		}
		ms = append(ms, m)
	}
	nodectr.UnmountTmpfs(ctx, pm, d, name)
	_, err := mountKernelTmpfs(ctx, pm, d, name, ms)
	return err
}

// mountKernelTmpfs mounts the tmpfs mounts of ms whose options podman's
// --tmpfs refuses (huge=, nr_inodes=, noatime, ...) itself and returns the
// --volume values that bind them into container name.
func mountKernelTmpfs(ctx context.Context, pm nodectr.Podman, d plan.Dirs, name string, ms []option.Mount) ([]string, error) {
	var vols []string
	for _, m := range ms {
		if !m.KernelTmpfs() {
			continue
		}
		v, err := nodectr.MountTmpfs(ctx, pm, d, name, m.Target, m.MountOptions())
		if err != nil {
			return nil, err
		}
		vols = append(vols, v)
	}
	return vols, nil
}
