package option

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Flags are the values the option callbacks recorded, by option name
// without the leading dashes ("container-image"). A flag without an
// argument records "1".
type Flags map[string][]string

// EnvFile is what an environment file (--environment) contributes; nil
// pointers and empty values are "not set".
type EnvFile struct {
	Path                                   string
	Image                                  string
	Mounts                                 []string
	Workdir                                string
	Writable, Entrypoint, MountHome, Remap *bool
	ContainerEnv                           []string
	Devices                                []string // CDI device names VENDOR/CLASS=NAME
	Env, Annotations                       map[string]string
}

// Defaults are the site's defaults for the --[no-]container-* flags.
type Defaults struct {
	MountHome, RemapRoot, Writable, Entrypoint bool
}

// Name modes of --container-name=NAME[:MODE] (pyxis's).
const (
	NameAuto   = "auto"    // join it if it runs, else create it
	NameCreate = "create"  // it must not exist yet
	NameExec   = "exec"    // it must run already
	NameNoExec = "no_exec" // never join a running one: start afresh from its filesystem
)

// Spec is the effective container configuration of a step: the command
// line over the CARINA_CONTAINER_* (then PYXIS_CONTAINER_*) environment
// defaults, over an environment file, over the site's defaults. The submit
// side computes it once and hands it to the nodes in the job environment.
type Spec struct {
	Image         string            `json:"image,omitempty"` // as given; parsed against Cwd
	Cwd           string            `json:"cwd"`             // where the job was submitted from
	Mounts        []Mount           `json:"mounts,omitempty"`
	Workdir       string            `json:"workdir,omitempty"`
	Name          string            `json:"name,omitempty"`
	NameMode      string            `json:"name_mode,omitempty"`
	Save          string            `json:"save,omitempty"`
	MountHome     bool              `json:"mount_home"`
	RemapRoot     bool              `json:"remap_root"`
	Writable      bool              `json:"writable"`
	Entrypoint    bool              `json:"entrypoint"`
	EntrypointLog bool              `json:"entrypoint_log,omitempty"`
	ContainerEnv  []string          `json:"container_env,omitempty"`
	Unshare       []string          `json:"unshare,omitempty"`
	Devices       []string          `json:"devices,omitempty"` // CDI device names (an environment file's devices)
	Env           map[string]string `json:"env,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	Environment   string            `json:"environment,omitempty"` // the environment file used
	// Ignored lists the options (as --NAME) a step without a container
	// was given and ignored at submit, as pyxis ignores them: its nodes,
	// which see them forwarded, accept those and no others.
	Ignored []string `json:"ignored,omitempty"`
}

// Active reports whether the step runs in a container.
func (s Spec) Active() bool { return s.Image != "" || s.Name != "" }

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	envRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	unshare = map[string]bool{"net": true, "ipc": true, "uts": true}
)

// pair is a flag and its opposite, which decide one setting together.
type pair struct{ yes, no string }

var (
	pairMountHome  = pair{"container-mount-home", "no-container-mount-home"}
	pairRemapRoot  = pair{"container-remap-root", "no-container-remap-root"}
	pairEntrypoint = pair{"container-entrypoint", "no-container-entrypoint"}
	pairWritable   = pair{"container-writable", "container-readonly"}
	pairs          = []pair{pairMountHome, pairRemapRoot, pairEntrypoint, pairWritable}
)

// OtherHalf is the opposite of a paired flag (no-container-mount-home for
// container-mount-home, container-readonly for container-writable, ...),
// or "" for a flag without one.
func OtherHalf(option string) string {
	for _, p := range pairs {
		switch option {
		case p.yes:
			return p.no
		case p.no:
			return p.yes
		}
	}
	return ""
}

// checkName checks the name of --container-name=NAME[:MODE].
func checkName(name string) error {
	if !nameRE.MatchString(name) {
		return errors.New("a name is 1 to 64 letters, digits, '_', '.' or '-'")
	}
	return nil
}

// checkMode checks the mode of --container-name=NAME[:MODE].
func checkMode(mode string) error {
	switch mode {
	case NameAuto, NameCreate, NameExec, NameNoExec:
		return nil
	}
	return errors.New("the mode must be auto, create, exec or no_exec")
}

// checkUnshare checks a --container-unshare namespace.
func checkUnshare(ns string) error {
	if !unshare[ns] {
		return fmt.Errorf("%q is not one of net, ipc, uts", ns)
	}
	return nil
}

// checkVarName checks the name of an environment variable.
func checkVarName(n string) error {
	if !envRE.MatchString(n) {
		return fmt.Errorf("%q is not a variable name", n)
	}
	return nil
}

// EnvName is the environment default of an option: CARINA_CONTAINER_IMAGE
// for container-image, CARINA_CONTAINER_MOUNT_HOME for container-mount-home.
func EnvName(prefix, option string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(option, "container-"), "-", "_"))
}

// Env prefixes, in order of precedence.
var envPrefixes = []string{"CARINA_CONTAINER_", "PYXIS_CONTAINER_"}

type source struct {
	flags  Flags
	getenv func(string) string
}

// value is the option's value from the command line, else from its
// environment defaults; from says where it came from, for messages.
func (s source) value(option string) (v []string, from string) {
	if vs := s.flags[option]; len(vs) > 0 {
		return vs, "--" + option
	}
	for _, p := range envPrefixes {
		name := EnvName(p, option)
		if e := s.getenv(name); e != "" {
			return []string{e}, name
		}
	}
	return nil, ""
}

func (s source) one(option string) (string, string) {
	v, from := s.value(option)
	if len(v) == 0 {
		return "", ""
	}
	return v[0], from
}

// Accumulates reports whether an option adds up when given several times
// (--container-mounts, --container-env); any other option given twice
// with different values is a contradiction.
func Accumulates(option string) bool {
	return option == "container-mounts" || option == "container-env"
}

// Without returns vs without v.
func Without(vs []string, v string) []string {
	var out []string
	for _, x := range vs {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// boolean resolves a --X / --no-X pair (or --container-writable /
// --container-readonly) from the command line, else the environment.
func (s source) boolean(yes, no string) (val, set bool, err error) {
	y, n := len(s.flags[yes]) > 0, len(s.flags[no]) > 0
	switch {
	case y && n:
		return false, false, fmt.Errorf("--%s and --%s contradict each other", yes, no)
	case y || n:
		return y, true, nil
	}
	for _, p := range envPrefixes {
		ye, ne := s.getenv(EnvName(p, yes)), ""
		if no == "container-readonly" {
			ne = s.getenv(EnvName(p, no))
		}
		var yv, nv, yok, nok bool
		if ye != "" {
			if yv, err = ParseBool(ye); err != nil {
				return false, false, fmt.Errorf("%s=%q: %w", EnvName(p, yes), ye, err)
			}
			yok = true
		}
		if ne != "" {
			if nv, err = ParseBool(ne); err != nil {
				return false, false, fmt.Errorf("%s=%q: %w", EnvName(p, no), ne, err)
			}
			nok = true
		}
		switch {
		case yok && nok && yv == nv:
			return false, false, fmt.Errorf("%s and %s contradict each other", EnvName(p, yes), EnvName(p, no))
		case yok:
			return yv, true, nil
		case nok:
			return !nv, true, nil
		}
	}
	return false, false, nil
}

// ParseBool accepts pyxis's spellings: 1/true/yes/y and 0/false/no/n.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "y":
		return true, nil
	case "0", "false", "no", "n":
		return false, nil
	}
	return false, fmt.Errorf("want 1/true/yes/y or 0/false/no/n")
}

// Build computes the Spec. getenv reads the submitter's environment; cwd is
// the absolute directory relative paths are taken against; loadFile reads
// an environment file (--environment); d are the site's defaults. Every
// contradiction or malformed value is an error here, at submit time.
func Build(flags Flags, getenv func(string) string, cwd string, loadFile func(string) (EnvFile, error), d Defaults) (Spec, error) {
	for name, vs := range flags {
		if len(vs) > 1 && !Accumulates(name) {
			return Spec{}, fmt.Errorf("--%s given twice with different values (%s)", name, strings.Join(vs, ", "))
		}
	}
	src := source{flags, getenv}
	s := Spec{Cwd: cwd, MountHome: d.MountHome, RemapRoot: d.RemapRoot, Writable: d.Writable, Entrypoint: d.Entrypoint}
	var f EnvFile
	if env, from := src.one("environment"); env != "" || getenv("CARINA_ENVIRONMENT") != "" {
		if env == "" {
			env, from = getenv("CARINA_ENVIRONMENT"), "CARINA_ENVIRONMENT"
		}
		var err error
		if f, err = loadFile(env); err != nil {
			return Spec{}, fmt.Errorf("%s=%s: %w", from, env, err)
		}
		s.Environment = f.Path
	}
	// Scalars: the command line (or its environment default) over the file.
	s.Image = f.Image
	if v, _ := src.one("container-image"); v != "" {
		s.Image = v
	}
	if s.Image != "" {
		if _, err := ParseImage(s.Image, cwd); err != nil {
			return Spec{}, err
		}
	}
	s.Workdir = f.Workdir
	if v, _ := src.one("container-workdir"); v != "" {
		s.Workdir = v
	}
	if s.Workdir != "" {
		s.Workdir = filepath.Join("/", s.Workdir) // relative to the container's root; "../" stops at "/"
	}
	if v, from := src.one("container-name"); v != "" {
		name, mode, _ := strings.Cut(v, ":")
		if mode == "" {
			mode = NameAuto
		}
		if err := checkName(name); err != nil {
			return Spec{}, fmt.Errorf("%s=%s: %w", from, v, err)
		}
		if err := checkMode(mode); err != nil {
			return Spec{}, fmt.Errorf("%s=%s: %w", from, v, err)
		}
		s.Name, s.NameMode = name, mode
	}
	if v, from := src.one("container-save"); v != "" {
		if strings.HasSuffix(v, "/") {
			return Spec{}, fmt.Errorf("%s=%s: the target is a directory; name a file", from, v)
		}
		if !filepath.IsAbs(v) {
			v = filepath.Join(cwd, v)
		}
		s.Save = filepath.Clean(v)
	}
	for _, b := range []struct {
		flags pair
		file  *bool
		dst   *bool
	}{
		{pairMountHome, f.MountHome, &s.MountHome},
		{pairRemapRoot, f.Remap, &s.RemapRoot},
		{pairEntrypoint, f.Entrypoint, &s.Entrypoint},
		{pairWritable, f.Writable, &s.Writable},
	} {
		if b.file != nil {
			*b.dst = *b.file
		}
		v, set, err := src.boolean(b.flags.yes, b.flags.no)
		if err != nil {
			return Spec{}, err
		}
		if set {
			*b.dst = v
		}
	}
	if v, _, err := src.boolean("container-entrypoint-log", ""); err != nil {
		return Spec{}, err
	} else {
		s.EntrypointLog = v
	}
	// Lists: the file's entries, then the command line's (or else the
	// environment's); a later mount on the same target wins.
	for _, m := range f.Mounts {
		ms, err := ParseMounts(m, filepath.Dir(f.Path))
		if err != nil {
			return Spec{}, fmt.Errorf("%s: %w", f.Path, err)
		}
		for _, m := range ms {
			s.Mounts = AddMount(s.Mounts, m)
		}
	}
	vs, _ := src.value("container-mounts")
	for _, v := range vs {
		ms, err := ParseMounts(v, cwd)
		if err != nil {
			return Spec{}, err
		}
		for _, m := range ms {
			s.Mounts = AddMount(s.Mounts, m)
		}
	}
	names := append([]string(nil), f.ContainerEnv...)
	vs, from := src.value("container-env")
	for _, v := range vs {
		names = append(names, strings.Split(v, ",")...)
	}
	for _, n := range names {
		if err := checkVarName(n); err != nil {
			return Spec{}, fmt.Errorf("%s: %w", orDefault(from, "container_env"), err)
		}
	}
	s.ContainerEnv = dedup(names)
	if v, from := src.one("container-unshare"); v != "" {
		for _, ns := range strings.Split(v, ",") {
			if err := checkUnshare(ns); err != nil {
				return Spec{}, fmt.Errorf("%s=%s: %w", from, v, err)
			}
		}
		s.Unshare = dedup(strings.Split(v, ","))
		sort.Strings(s.Unshare)
	}
	for k := range f.Env {
		if err := checkVarName(k); err != nil {
			return Spec{}, fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	for _, d := range f.Devices {
		if err := CheckCDIDevice(d); err != nil {
			return Spec{}, fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	s.Devices = dedup(f.Devices)
	s.Env, s.Annotations = f.Env, f.Annotations
	return s, nil
}

// Unseen lists the options in flags (--NAME) that a Spec without a
// container does not record as ignored at submit: options that reached
// the node some other way than through srun, sbatch or salloc.
func (s Spec) Unseen(flags Flags) []string {
	var out []string
	for _, name := range Stray(flags) {
		if !slices.Contains(s.Ignored, name) {
			out = append(out, name)
		}
	}
	for _, name := range []string{"container-image", "container-name"} {
		if len(flags[name]) > 0 {
			out = append(out, "--"+name)
		}
	}
	return out
}

// Stray lists the container options given although the step runs in no
// container (no image and no name): pyxis ignores them, and so does carina,
// saying so.
func Stray(flags Flags) []string {
	var out []string
	for name, vs := range flags {
		if len(vs) > 0 && name != "container-image" && name != "container-name" {
			out = append(out, "--"+name)
		}
	}
	sort.Strings(out)
	return out
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range in {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// ContainerKey is what decides whether two steps can share a container:
// the pinned image reference and every setting that shapes the container
// (not the working directory, the name mode or --container-save, which act
// per step). Maps are encoded with sorted keys, so equal settings give
// equal keys. The devices are left out when there are none, so a Spec
// without devices keeps the key it had before devices existed; the node
// puts the step's GPUs into Devices before it asks for the key.
func (s Spec) ContainerKey(ref string) string {
	k := struct {
		Ref          string            `json:"ref"`
		Mounts       []Mount           `json:"mounts"`
		RemapRoot    bool              `json:"remap_root"`
		Writable     bool              `json:"writable"`
		Entrypoint   bool              `json:"entrypoint"`
		ContainerEnv []string          `json:"container_env"`
		Unshare      []string          `json:"unshare"`
		Env          map[string]string `json:"env"`
		Annotations  map[string]string `json:"annotations"`
		Devices      []string          `json:"devices,omitempty"`
	}{ref, s.Mounts, s.RemapRoot, s.Writable, s.Entrypoint, s.ContainerEnv, s.Unshare, s.Env, s.Annotations, s.Devices}
	b, err := json.Marshal(k)
	if err != nil {
		return ref // cannot happen for these types
	}
	return string(b)
}
