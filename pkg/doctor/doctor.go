// Package doctor checks what a node needs for carina, the way the plugin
// will find it: the plugstack line and the site configuration it names
// (parsed by pkg/config, as the plugin parses them), the helper, podman
// and its OCI runtime, the static init, FUSE and squashfuse, mksquashfs,
// the user's subordinate ids, and the stores' visibility and permissions.
// Each check gives a Result; a failed one says what is wrong and how to
// fix it. The checks read the host only through Host, so tests fake it.
package doctor

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/carina-hpc/carina/pkg/config"
)

// Result is one check: ok when Problem is "".
type Result struct {
	Name    string
	Detail  string // what was found (ok)
	Problem string // what is wrong
	Fix     string // how to fix it
}

// OK reports whether the check passed.
func (r Result) OK() bool { return r.Problem == "" }

// Host is what the checks read.
type Host struct {
	LookPath func(name string) (string, error)
	Stat     func(path string) (fs.FileInfo, error)
	ReadFile func(path string) ([]byte, error)
	Glob     func(pattern string) ([]string, error)
	// Version runs a binary with --version and returns its first line.
	Version func(path string) (string, error)
}

// User is whose subordinate ids and store are checked ("" Name: none).
type User struct {
	Name string
	UID  uint32
}

// Input says what to check.
type Input struct {
	Plugstack string // plugstack.conf
	User      User
	Root      bool // run by root: the user's own store is not checked as theirs
}

// MinSubIDs is the smallest subordinate id range that holds an image's
// usual owners (rootless podman's default mapping).
const MinSubIDs = 65536

// Run runs every check, in order; later checks use the configuration the
// plugstack line gives (the defaults when it gives none).
func Run(h Host, in Input) []Result {
	var out []Result
	line, lineRes := plugstackLine(h, in.Plugstack)
	out = append(out, lineRes)
	c, cfgRes := siteConfig(line)
	out = append(out, cfgRes)
	out = append(out,
		file(h, "helper", c.Helper, "make install, or set helper= on the plugstack line"),
		podman(h, c),
		runtime(h),
		file(h, "static init (catatonit)", c.InitPath, "apt install catatonit, or set init_path"),
		fuse(h),
		tool(h, "squashfuse", "apt install squashfuse (mounts squashfs images as the user)", "squashfuse_ll", "squashfuse"),
		tool(h, "mksquashfs", "apt install squashfs-tools (the shared store keeps images as squashfs)", "mksquashfs"),
		fuseMount(h),
	)
	if in.User.Name != "" {
		out = append(out, subIDs(h, "/etc/subuid", in.User), subIDs(h, "/etc/subgid", in.User))
	} else {
		out = append(out, Result{Name: "subordinate ids", Detail: "no user given (carina doctor --user NAME checks one)"})
	}
	out = append(out, stores(h, c, in)...)
	return out
}

// plugstackLine finds the line that loads spank_carina.so in plugstack
// (following its include lines) and returns its fields.
func plugstackLine(h Host, path string) ([]string, Result) {
	r := Result{Name: "plugstack line"}
	fix := "add `required /usr/local/lib/carina/spank_carina.so config=/etc/carina/carina.toml` to " + path +
		" and restart slurmd"
	files := []string{path}
	for depth := 0; len(files) > 0 && depth < 4; depth++ {
		var next []string
		for _, f := range files {
			b, err := h.ReadFile(f)
			if err != nil {
				if f == path {
					r.Problem, r.Fix = fmt.Sprintf("cannot read %s: %v", f, err), fix
					return nil, r
				}
				continue
			}
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				fields := strings.Fields(strings.SplitN(sc.Text(), "#", 2)[0])
				switch {
				case len(fields) >= 2 && fields[0] == "include":
					m, _ := h.Glob(fields[1])
					next = append(next, m...)
				case len(fields) >= 2 && filepath.Base(fields[1]) == "spank_carina.so":
					if fields[0] != "required" && fields[0] != "optional" {
						r.Problem, r.Fix = fmt.Sprintf("%s: %q is neither required nor optional", f, fields[0]), fix
						return nil, r
					}
					if fi, err := h.Stat(fields[1]); err != nil || !fi.Mode().IsRegular() {
						r.Problem = fmt.Sprintf("%s names %s, which is not a file here", f, fields[1])
						r.Fix = "make install, or correct the path in " + f
						return fields, r
					}
					r.Detail = f + ": " + strings.Join(fields, " ")
					return fields, r
				}
			}
		}
		files = next
	}
	r.Problem, r.Fix = "no line of "+path+" (or its includes) loads spank_carina.so: jobs run without carina", fix
	return nil, r
}

// siteConfig parses the plugstack line's arguments as the plugin does.
func siteConfig(line []string) (config.Config, Result) {
	r := Result{Name: "site configuration"}
	var args []string
	if len(line) > 2 {
		args = line[2:]
	}
	c, err := config.ParseArgs(args)
	if err != nil {
		r.Problem = err.Error()
		r.Fix = "carina config check FILE names the line; the plugin refuses to load until it is fixed"
		return config.Default(), r
	}
	r.Detail = "defaults (no config= on the plugstack line)"
	if c.ConfigFile != "" {
		r.Detail = c.ConfigFile + ": ok"
	}
	return c, r
}

// file checks a binary every user runs (jobs run it as the user) and only
// its owner may change.
func file(h Host, name, path, fix string) Result {
	r := Result{Name: name}
	fi, err := h.Stat(path)
	switch {
	case err != nil:
		r.Problem, r.Fix = fmt.Sprintf("%s: %v", path, err), fix
	case !fi.Mode().IsRegular():
		r.Problem, r.Fix = path+" is not a regular file", fix
	case fi.Mode().Perm()&0o001 == 0:
		r.Problem, r.Fix = path+" is not executable by every user (jobs run it as the user)", "chmod 0755 "+path
	case fi.Mode().Perm()&0o022 != 0:
		r.Problem, r.Fix = path+" may be written by others than its owner", "chmod go-w "+path
	default:
		r.Detail = path
	}
	return r
}

func podman(h Host, c config.Config) Result {
	r := file(h, "podman", c.Podman, "apt install podman, or set [podman] binary")
	if !r.OK() {
		return r
	}
	v, err := h.Version(c.Podman)
	if err != nil {
		r.Problem, r.Fix = fmt.Sprintf("%s --version: %v", c.Podman, err), "reinstall podman"
		return r
	}
	r.Detail = c.Podman + ": " + v
	return r
}

func runtime(h Host) Result {
	r := tool(h, "OCI runtime", "apt install runc (or crun)", "crun", "runc")
	if r.OK() {
		if v, err := h.Version(r.Detail); err == nil {
			r.Detail += ": " + v
		}
	}
	return r
}

// tool finds the first of names on PATH.
func tool(h Host, name, fix string, names ...string) Result {
	for _, n := range names {
		if p, err := h.LookPath(n); err == nil {
			return Result{Name: name, Detail: p}
		}
	}
	return Result{Name: name, Problem: "none of " + strings.Join(names, ", ") + " on PATH", Fix: fix}
}

func fuse(h Host) Result {
	r := Result{Name: "/dev/fuse"}
	fi, err := h.Stat("/dev/fuse")
	switch {
	case err != nil:
		r.Problem, r.Fix = fmt.Sprintf("/dev/fuse: %v", err), "modprobe fuse (and load it at boot)"
	case fi.Mode()&fs.ModeCharDevice == 0:
		r.Problem, r.Fix = "/dev/fuse is not a character device", "modprobe fuse"
	case fi.Mode().Perm()&0o006 != 0o006:
		r.Problem, r.Fix = fmt.Sprintf("/dev/fuse is mode %o: users cannot open it for squashfuse and fuse-overlayfs",
			fi.Mode().Perm()), "chmod 0666 /dev/fuse (the default of Debian's fuse3)"
	default:
		r.Detail = "character device, open to users"
	}
	return r
}

func fuseMount(h Host) Result {
	r := tool(h, "fusermount", "apt install fuse3 (unmounts squashfuse as the user)", "fusermount3", "fusermount")
	if !r.OK() {
		return r
	}
	if fi, err := h.Stat(r.Detail); err == nil && fi.Mode()&fs.ModeSetuid == 0 {
		r.Problem, r.Fix = r.Detail+" is not setuid root: users cannot mount with FUSE", "chmod u+s "+r.Detail
	}
	return r
}

// subIDs checks that file gives u a range of at least MinSubIDs ids.
func subIDs(h Host, file string, u User) Result {
	r := Result{Name: file}
	fix := fmt.Sprintf("usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s (any free range of %d)", u.Name, MinSubIDs)
	b, err := h.ReadFile(file)
	if err != nil {
		r.Problem, r.Fix = fmt.Sprintf("cannot read %s: %v", file, err), fix
		return r
	}
	uid := strconv.FormatUint(uint64(u.UID), 10)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) != 3 || (f[0] != u.Name && f[0] != uid) {
			continue
		}
		if n, err := strconv.ParseUint(f[2], 10, 32); err == nil && n >= MinSubIDs {
			r.Detail = fmt.Sprintf("%s: %s ids from %s", u.Name, f[2], f[1])
			return r
		}
	}
	r.Problem = fmt.Sprintf("no range of %d ids for %s: rootless podman cannot start their containers", MinSubIDs, u.Name)
	r.Fix = fix
	return r
}

// stores checks the directories carina keeps state and images in.
func stores(h Host, c config.Config, in Input) []Result {
	var out []Result
	for _, d := range []struct{ name, path string }{{"runtime_dir", c.RuntimeDir}, {"store_dir", c.StoreDir}} {
		r := Result{Name: d.name}
		parent := filepath.Dir(d.path)
		if fi, err := h.Stat(d.path); err == nil {
			if !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
				r.Problem = fmt.Sprintf("%s is not a directory only root writes", d.path)
				r.Fix = "rm -rf " + d.path + " (carina makes it, root-owned 0755)"
			} else {
				r.Detail = d.path
			}
		} else if _, err := h.Stat(parent); err != nil {
			r.Problem, r.Fix = fmt.Sprintf("%s: its parent %s is missing", d.path, parent), "install -d "+parent
		} else {
			r.Detail = d.path + " (made at the first job)"
		}
		out = append(out, r)
	}
	if c.ImageStore != "" {
		base := c.ImageStoreBase()
		r := Result{Name: "shared image store"}
		fi, err := h.Stat(base)
		switch {
		case err != nil:
			r.Problem = fmt.Sprintf("%s is not visible on this node: its jobs pull into the node-local store, each node for itself", base)
			r.Fix = "mount the shared filesystem here, or create it: install -d -m 1777 " + base
		case !fi.IsDir():
			r.Problem, r.Fix = base+" is not a directory", "install -d -m 1777 "+base
		case fi.Mode().Perm()&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0:
			r.Problem, r.Fix = base+" is writable by all but not sticky: users could swap each other's stores", "chmod +t "+base
		default:
			r.Detail = base
		}
		out = append(out, r)
		if in.User.Name != "" && r.OK() {
			dir := c.ImageStoreFor(in.User.UID, in.User.Name)
			ur := Result{Name: "your image store"}
			if in.Root {
				ur.Name = in.User.Name + "'s image store"
			}
			if fi, err := h.Stat(dir); err != nil {
				ur.Detail = dir + " (made at the first job)"
			} else if st, ok := statOwner(fi); ok && st != in.User.UID || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
				ur.Problem = dir + " is not a directory of " + in.User.Name + "'s, mode 0700"
				ur.Fix = fmt.Sprintf("chown %s %s && chmod 0700 %s", in.User.Name, dir, dir)
			} else {
				ur.Detail = dir
			}
			out = append(out, ur)
		}
	}
	if c.SiteStore != "" {
		r := Result{Name: "site image store"}
		if fi, err := h.Stat(c.SiteStore); err != nil || !fi.IsDir() || fi.Mode().Perm()&0o005 != 0o005 {
			r.Problem = c.SiteStore + " is not a directory every user can read"
			r.Fix = "mount it here and chmod 0755 " + c.SiteStore
		} else {
			r.Detail = c.SiteStore
		}
		out = append(out, r)
	}
	return out
}
