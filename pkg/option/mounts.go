package option

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Mount is one validated --container-mounts entry.
type Mount struct {
	Source string   `json:"source"`          // absolute host path; "" for a tmpfs
	Target string   `json:"target"`          // absolute path inside the container
	Flags  []string `json:"flags,omitempty"` // podman volume options (ro, rprivate, ...) or tmpfs options
	Tmpfs  bool     `json:"tmpfs,omitempty"`
}

// ParseMounts parses a --container-mounts value the way pyxis does:
// entries separated by ",", each SRC[:DST[:FLAGS]] with FLAGS joined by
// "+" (e.g. "ro+rprivate"). SRC is an absolute path, a relative path
// (taken against cwd, the directory the job was submitted from) or
// "tmpfs"; DST starts with "/" or "." (relative to the container's root);
// "SRC" alone mounts SRC at the same path (so "./data" alone, like in
// pyxis, lands at /data). Paths may hold spaces; they
// cannot hold "," or ":", which separate entries and fields.
func ParseMounts(v, cwd string) ([]Mount, error) {
	if v == "" {
		return nil, fmt.Errorf("--container-mounts: argument required")
	}
	var out []Mount
	for _, entry := range strings.Split(v, ",") {
		m, err := parseMount(entry, cwd)
		if err != nil {
			return nil, err
		}
		out = AddMount(out, m)
	}
	return out, nil
}

// AddMount appends m; a mount on the same target replaces the earlier one,
// and an exact duplicate is dropped.
func AddMount(ms []Mount, m Mount) []Mount {
	for i := range ms {
		if ms[i].Target == m.Target {
			ms[i] = m
			return ms
		}
	}
	return append(ms, m)
}

func parseMount(entry, cwd string) (Mount, error) {
	if strings.IndexByte(entry, 0) >= 0 {
		// No path or option can hold one; only a TOML file (\u0000) can
		// write one, and the Spec would be refused on the nodes.
		return Mount{}, fmt.Errorf("--container-mounts: invalid entry %q: a NUL byte", entry)
	}
	fields := strings.SplitN(entry, ":", 3)
	src := fields[0]
	if src == "" || len(fields) > 1 && fields[1] == "" {
		return Mount{}, fmt.Errorf("--container-mounts: invalid entry %q: want SRC[:DST[:FLAGS]]", entry)
	}
	dst := src
	if len(fields) > 1 {
		dst = fields[1]
	}
	var flags []string
	if len(fields) > 2 && fields[2] != "" {
		flags = strings.Split(fields[2], "+")
	}
	m := Mount{Flags: flags}
	switch {
	case src == "tmpfs":
		if len(fields) < 2 {
			return Mount{}, fmt.Errorf("--container-mounts: invalid entry %q: tmpfs needs a target (tmpfs:DST)", entry)
		}
		m.Tmpfs = true
	case strings.HasPrefix(src, "/") || strings.HasPrefix(src, "."):
		if !filepath.IsAbs(src) {
			if !filepath.IsAbs(cwd) {
				return Mount{}, fmt.Errorf("--container-mounts: relative source %q but no absolute working directory", src)
			}
			src = filepath.Join(cwd, src)
		}
		m.Source = filepath.Clean(src)
	default:
		return Mount{}, fmt.Errorf("--container-mounts: source %q must be an absolute path, a relative path (./x) or tmpfs", src)
	}
	for _, f := range flags {
		if f == "" || strings.ContainsAny(f, " ,:") {
			what := "flag"
			if m.Tmpfs {
				what = "tmpfs option"
			}
			return Mount{}, fmt.Errorf("--container-mounts: invalid %s %q in %q", what, f, entry)
		}
	}
	if err := checkMountOptions(flags, m.Tmpfs, entry); err != nil {
		return Mount{}, err
	}
	if !strings.HasPrefix(dst, "/") && !strings.HasPrefix(dst, ".") {
		return Mount{}, fmt.Errorf("--container-mounts: target %q must be an absolute path or a relative path (./x)", dst)
	}
	if slices.Contains(strings.Split(dst, "/"), "..") {
		// As pyxis: a target that climbs is a mistake, not a path to clean.
		return Mount{}, fmt.Errorf("--container-mounts: target %q holds '..'", dst)
	}
	m.Target = filepath.Join("/", dst) // a relative target is taken against the container's root
	if m.Target == "/" {
		return Mount{}, fmt.Errorf("--container-mounts: %q would mount over the container's root", entry)
	}
	return m, nil
}

// VolumeArg is the podman --volume value of a bind mount.
func (m Mount) VolumeArg() string {
	s := m.Source + ":" + m.Target
	if len(m.Flags) > 0 {
		s += ":" + strings.Join(m.Flags, ",")
	}
	return s
}

// TmpfsArg is the podman --tmpfs value of a tmpfs mount.
func (m Mount) TmpfsArg() string {
	if len(m.Flags) == 0 {
		return m.Target
	}
	return m.Target + ":" + strings.Join(m.Flags, ",")
}
