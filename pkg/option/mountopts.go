package option

import (
	"fmt"
	"slices"
	"strings"
)

// The options of a --container-mounts entry are podman's own: carina hands
// a bind mount to `podman create --volume` and a tmpfs to `--tmpfs`, so the
// list below is the one podman's mount-option check (pkg/util, podman 4.3
// and later) accepts, with podman's rule that each group is given at most
// once. Checking here, on the submit side, turns podman's late
// "invalid mount option" on every node into one carina: line at srun.

// optGroup names the group an option belongs to; two options of one group
// (ro and rw, two propagations, two sizes) are a contradiction.
type optGroup struct {
	name   string
	values []string // bare options of the group; "size=" style keys end in "="
	bind   bool     // allowed on a bind mount
	tmpfs  bool     // allowed on a tmpfs
	// kernel: a tmpfs option the kernel takes (mount(8), enroot) but
	// podman's --tmpfs refuses ("unknown mount option", podman 4.3): a
	// tmpfs with one is mounted by carina itself in podman's user
	// namespace and bound into the container (Mount.KernelTmpfs).
	kernel bool
	// podmanOnly: a --tmpfs option that is podman's, not the kernel's,
	// so it cannot go with a kernel one.
	podmanOnly bool
}

var optGroups = []optGroup{
	{"ro/rw", []string{"ro", "rw"}, true, true, false, false},
	{"exec/noexec", []string{"exec", "noexec"}, true, true, false, false},
	{"suid/nosuid", []string{"suid", "nosuid"}, true, true, false, false},
	{"dev/nodev", []string{"dev", "nodev"}, true, true, false, false},
	{"propagation", []string{"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"}, true, true, false, true},
	{"bind/rbind", []string{"bind", "rbind"}, true, false, false, false},
	{"z/Z", []string{"z", "Z"}, true, false, false, false},
	{"U", []string{"U"}, true, true, false, true},
	{"O", []string{"O"}, true, false, false, false},
	{"copy/nocopy", []string{"copy", "nocopy"}, true, false, false, false},
	{"idmap", []string{"idmap", "idmap="}, true, false, false, false},
	{"size", []string{"size="}, false, true, false, false},
	{"mode", []string{"mode="}, false, true, false, false},
	{"tmpcopyup", []string{"tmpcopyup", "notmpcopyup"}, false, true, false, true},
	{"huge", []string{"huge="}, false, true, true, false},
	{"nr_inodes", []string{"nr_inodes="}, false, true, true, false},
	{"nr_blocks", []string{"nr_blocks="}, false, true, true, false},
	{"atime", []string{"noatime", "relatime", "strictatime"}, false, true, true, false},
	{"nosymfollow", []string{"nosymfollow"}, false, true, true, false},
}

// hugeValues are tmpfs's huge= policies (Documentation/filesystems/tmpfs).
var hugeValues = []string{"never", "always", "within_size", "advise"}

// mountOnlyTmpfs are tmpfs options mount(8) and enroot take that neither
// podman's --tmpfs nor carina's own tmpfs mount can give: uid= and gid=
// would name ids of podman's user namespace, not the container's, and
// mpol= holds ':', which the mount syntax takes as a separator.
var mountOnlyTmpfs = []string{"uid=", "gid=", "mpol="}

// checkMountOptions checks the options of one mount; entry is quoted in
// the error.
func checkMountOptions(flags []string, tmpfs bool, entry string) error {
	kind := "bind mount"
	if tmpfs {
		kind = "tmpfs"
	}
	seen := map[string]string{}
	kernel, podmanOnly := "", ""
	for _, f := range flags {
		g, ok := groupOf(f)
		switch {
		case !ok && tmpfs && mountOnly(f):
			return fmt.Errorf("--container-mounts: tmpfs option %q in %q cannot be given: the ids and policies it names "+
				"are not the container's (carina's tmpfs takes %s)", f, entry, known(true))
		case !ok:
			return fmt.Errorf("--container-mounts: unknown flag %q in %q (podman's %s options: %s)", f, entry, kind, known(tmpfs))
		case tmpfs && !g.tmpfs || !tmpfs && !g.bind:
			return fmt.Errorf("--container-mounts: flag %q in %q is not allowed on a %s", f, entry, kind)
		}
		if strings.HasSuffix(key(f), "=") && strings.TrimPrefix(f, key(f)) == "" && key(f) != "idmap=" {
			return fmt.Errorf("--container-mounts: flag %q in %q needs a value", f, entry)
		}
		if g.name == "mode" && !octal(strings.TrimPrefix(f, "mode=")) {
			return fmt.Errorf("--container-mounts: flag %q in %q: mode is octal (e.g. mode=1777)", f, entry)
		}
		if g.name == "huge" && !slices.Contains(hugeValues, strings.TrimPrefix(f, "huge=")) {
			return fmt.Errorf("--container-mounts: flag %q in %q: huge= is one of %s", f, entry, strings.Join(hugeValues, ", "))
		}
		if (g.name == "nr_inodes" || g.name == "nr_blocks") && !count(strings.TrimPrefix(f, key(f))) {
			return fmt.Errorf("--container-mounts: flag %q in %q: a number, with k, m or g after it", f, entry)
		}
		if g.kernel {
			kernel = f
		}
		if g.podmanOnly {
			podmanOnly = f
		}
		if kernel != "" && podmanOnly != "" {
			return fmt.Errorf("--container-mounts: %q and %q in %q: a tmpfs with %s is mounted by carina, not by podman, "+
				"so podman's %s cannot apply", kernel, podmanOnly, entry, kernel, podmanOnly)
		}
		if prev, dup := seen[g.name]; dup {
			return fmt.Errorf("--container-mounts: %q and %q in %q: give one %s option", prev, f, entry, g.name)
		}
		seen[g.name] = f
	}
	return nil
}

// key is an option's name with its "=" (size=1m → size=), or the option.
func key(f string) string {
	if i := strings.IndexByte(f, '='); i >= 0 {
		return f[:i+1]
	}
	return f
}

func groupOf(f string) (optGroup, bool) {
	k := key(f)
	for _, g := range optGroups {
		for _, v := range g.values {
			if v == k {
				return g, true
			}
		}
	}
	return optGroup{}, false
}

func mountOnly(f string) bool {
	for _, v := range mountOnlyTmpfs {
		if v == key(f) {
			return true
		}
	}
	return false
}

func known(tmpfs bool) string {
	var out []string
	for _, g := range optGroups {
		if tmpfs && g.tmpfs || !tmpfs && g.bind {
			for _, v := range g.values {
				if strings.HasSuffix(v, "=") {
					v += "..."
				}
				out = append(out, v)
			}
		}
	}
	return strings.Join(out, ", ")
}

// count is tmpfs's number syntax for nr_inodes= and nr_blocks=.
func count(s string) bool {
	s = strings.TrimRight(s, "kmgKMG")
	if s == "" || len(s) > 19 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// KernelTmpfs reports whether m is a tmpfs with an option only the kernel
// takes (huge=, nr_inodes=, noatime, ...): carina mounts it itself and
// binds it into the container, since podman's --tmpfs refuses them.
func (m Mount) KernelTmpfs() bool {
	if !m.Tmpfs {
		return false
	}
	for _, f := range m.Flags {
		if g, ok := groupOf(f); ok && g.kernel {
			return true
		}
	}
	return false
}

// MountOptions are a KernelTmpfs mount's options for mount(8), with
// podman's --tmpfs defaults (nosuid, nodev) unless the user gave suid or
// dev.
func (m Mount) MountOptions() string {
	opts := slices.Clone(m.Flags)
	if !slices.Contains(opts, "suid") {
		opts = append(opts, "nosuid")
	}
	if !slices.Contains(opts, "dev") {
		opts = append(opts, "nodev")
	}
	return strings.Join(opts, ",")
}

func octal(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '7' {
			return false
		}
	}
	return true
}
