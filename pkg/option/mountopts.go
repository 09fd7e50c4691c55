package option

import (
	"fmt"
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
}

var optGroups = []optGroup{
	{"ro/rw", []string{"ro", "rw"}, true, true},
	{"exec/noexec", []string{"exec", "noexec"}, true, true},
	{"suid/nosuid", []string{"suid", "nosuid"}, true, true},
	{"dev/nodev", []string{"dev", "nodev"}, true, true},
	{"propagation", []string{"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"}, true, true},
	{"bind/rbind", []string{"bind", "rbind"}, true, false},
	{"z/Z", []string{"z", "Z"}, true, false},
	{"U", []string{"U"}, true, true},
	{"O", []string{"O"}, true, false},
	{"copy/nocopy", []string{"copy", "nocopy"}, true, false},
	{"idmap", []string{"idmap", "idmap="}, true, false},
	{"size", []string{"size="}, false, true},
	{"mode", []string{"mode="}, false, true},
	{"tmpcopyup", []string{"tmpcopyup", "notmpcopyup"}, false, true},
}

// mountOnlyTmpfs are tmpfs options mount(8) and enroot take but podman's
// --tmpfs refuses; naming podman in the error says why carina cannot.
var mountOnlyTmpfs = []string{"huge=", "nr_inodes=", "nr_blocks=", "uid=", "gid=", "mpol=", "noatime", "relatime", "strictatime", "nosymfollow"}

// checkMountOptions checks the options of one mount; entry is quoted in
// the error.
func checkMountOptions(flags []string, tmpfs bool, entry string) error {
	kind := "bind mount"
	if tmpfs {
		kind = "tmpfs"
	}
	seen := map[string]string{}
	for _, f := range flags {
		g, ok := groupOf(f)
		switch {
		case !ok && tmpfs && mountOnly(f):
			return fmt.Errorf("--container-mounts: tmpfs option %q in %q is not one podman's --tmpfs takes (it takes %s)",
				f, entry, known(true))
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
