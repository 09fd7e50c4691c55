package config

// The site configuration file. plugstack.conf names it explicitly
// (config=/etc/carina/carina.toml); it is read before the other plugstack
// arguments, which override its values. It must be a regular file owned by
// root and writable by nobody else (owner.go). Every key is optional:
//
//	helper = "/usr/local/lib/carina/carina"
//	runtime_dir = "/run/carina"
//	store_dir = "/var/lib/carina"
//	image_store = ""                 # per-user store shared by all nodes, e.g. "/shared/carina/{uid}"
//	image_format = "squashfs"        # squashfs | overlay
//	site_image_store = ""            # admin's read-only store
//	environments_dir = "/etc/carina/environments"  # site directory of --environment files
//	container_scope = "job"          # job | global (global: --container-name containers outlive the job)
//	relay = true                     # the in-container slurm command relay
//	[podman]
//	binary = "/usr/bin/podman"       # plugstack: podman
//	extra_flags = []                 # global podman flags, e.g. ["--cgroup-manager=cgroupfs"]
//	init_path = "/usr/bin/catatonit" # plugstack: init_path
//	[pull]
//	timeout = "10m"                  # plugstack: helper_timeout
//	retries = 3                      # 1..20; plugstack: pull_retries
//	retry_delay = "1s"               # 1ms..1m; plugstack: pull_retry_delay
//	[mounts]
//	default = []                     # mounts every container gets, pyxis syntax "SRC[:DST[:FLAGS]]"
//	allowed = []                     # absolute prefixes user mount sources must be under ([] = any)
//	denied = ["/etc/shadow"]         # absolute prefixes no user mount source may be under
//	[env]                            # variables every task gets, over the image's (e.g. for an
//	LD_LIBRARY_PATH = "/opt/site/lib" # injected host MPI or driver stack, mounted by [mounts] default)
//	[defaults]                       # defaults of the --[no-]container-* flags; plugstack: same names
//	mount_home = true
//	remap_root = false
//	writable = true
//	entrypoint = false
//	[gpu]
//	cdi_kind = "nvidia.com/gpu"      # CDI kind VENDOR/CLASS of the step's GPUs, each given to the
//	                                 # container as KIND=INDEX; "" = none; plugstack: gpu_cdi_kind
//	[security]
//	seccomp = true                   # podman's seccomp profile for containers and joined tasks;
//	                                 # false runs both unconfined (seccomp=unconfined); plugstack: seccomp
//
// Unknown keys, wrong types and invalid values are errors that name the
// file and the line (FILE:LINE: ...), as are TOML syntax errors.

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/carina-hpc/carina/pkg/option"
)

// tables are the file's tables; their keys are settings (byKey).
var tables = map[string]bool{"podman": true, "pull": true, "mounts": true, "defaults": true, "env": true, "gpu": true, "security": true}

// ParseFile reads a configuration file on top of Default, without the
// plugstack arguments. With ownerCheck, the file must be owned by root and
// not writable by group or others (what the plugin requires).
func ParseFile(path string, ownerCheck bool) (Config, error) {
	c := Default()
	return c, c.loadFile(path, ownerCheck)
}

// loadFile applies a configuration file's keys to c, in file order.
func (c *Config) loadFile(path string, ownerCheck bool) error {
	data, err := readFile(path, ownerCheck)
	if err != nil {
		return err
	}
	f, err := ParseTOML(path, data)
	if err != nil {
		return err
	}
	for _, k := range f.Keys() {
		name := k.String()
		if tables[name] {
			if _, ok := f.Value(k).(map[string]any); !ok {
				return f.Errorf(k, "%s: want a table, not %s", name, f.Type(k))
			}
			continue
		}
		if v, ok := strings.CutPrefix(name, "env."); ok {
			if err := c.setEnv(v, f.Value(k)); err != nil {
				return f.Errorf(k, "%s: %v", name, err)
			}
			continue
		}
		s, ok := byKey[name]
		if !ok {
			return f.Unknown(k)
		}
		v, ok := fileValue(s.kind, f.Value(k))
		if !ok {
			return f.Errorf(k, "%s: want %s, not %s", name, s.kind.want(), f.Type(k))
		}
		if holdsNUL(v) {
			// TOML can write one (\u0000); no path, flag or mount holds one.
			return f.Errorf(k, "%s: a NUL byte", name)
		}
		if err := s.set(c, v); err != nil {
			return f.Errorf(k, "%s: %v", name, err)
		}
	}
	c.ConfigFile = path
	return nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// setEnv sets one variable of the [env] table.
func (c *Config) setEnv(name string, v any) error {
	val, ok := v.(string)
	switch {
	case !envNameRE.MatchString(name):
		return errors.New("not a variable name")
	case !ok:
		return errors.New("want a string")
	case strings.IndexByte(val, 0) >= 0:
		return errors.New("a NUL byte")
	}
	if c.Env == nil {
		c.Env = map[string]string{}
	}
	c.Env[name] = val
	return nil
}

// fileValue converts a TOML value to a setting's kind.
func fileValue(k kind, v any) (any, bool) {
	switch k {
	case kString:
		s, ok := v.(string)
		return s, ok
	case kBool:
		b, ok := v.(bool)
		return b, ok
	case kInt:
		n, ok := v.(int64)
		return n, ok
	case kStrings:
		return Strings(v)
	}
	return nil, false
}

// holdsNUL tells whether a string or a list of strings holds a NUL byte.
func holdsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexByte(v, 0) >= 0
	case []string:
		return slices.ContainsFunc(v, func(s string) bool { return strings.IndexByte(s, 0) >= 0 })
	}
	return false
}

// Strings converts a TOML array of strings (an empty one included).
func Strings(v any) ([]string, bool) {
	a, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(a))
	for _, e := range a {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// The set functions of the settings only the file has (lists).

func setPodmanFlags(c *Config, v any) error {
	for _, f := range v.([]string) {
		if !strings.HasPrefix(f, "-") || strings.TrimSpace(f) != f {
			return fmt.Errorf("%q: want one podman global flag per string, such as --cgroup-manager=cgroupfs", f)
		}
	}
	c.PodmanFlags = nilIfEmpty(v.([]string))
	return nil
}

func setDefaultMounts(c *Config, v any) error {
	for _, m := range v.([]string) {
		if err := CheckMountSyntax(m); err != nil {
			return err
		}
		if src, _, _ := strings.Cut(m, ":"); !filepath.IsAbs(src) {
			return fmt.Errorf("mount %q: want an absolute source", m)
		}
		// The nodes parse each one for every job (spank nodeMounts): a
		// flag they refuse is refused here, when the plugin loads.
		if _, err := option.ParseMounts(m, "/"); err != nil {
			return err
		}
	}
	c.DefaultMounts = nilIfEmpty(v.([]string))
	return nil
}

// CheckMountSyntax checks a mount in pyxis syntax, SRC[:DST[:FLAGS]]:
// every part present and DST, when given, absolute. Flags (comma-separated,
// e.g. ro) are left to the mount itself.
func CheckMountSyntax(m string) error {
	parts := strings.Split(m, ":")
	if len(parts) > 3 || slices.Contains(parts, "") || len(parts) > 1 && !filepath.IsAbs(parts[1]) {
		return fmt.Errorf("mount %q: want SRC[:DST[:FLAGS]] with an absolute DST", m)
	}
	return nil
}

// A TOMLFile is a parsed TOML document that can name the line of each of
// its keys, for strict parsers that report FILE:LINE with every error.
// pkg/envfile uses it too.
type TOMLFile struct {
	Path string // the file, as errors name it
	data string
	md   toml.MetaData
	root map[string]any
}

// ParseTOML parses a TOML document read from path. Syntax errors
// (duplicate keys included) are reported as PATH:LINE: MESSAGE.
func ParseTOML(path string, data []byte) (*TOMLFile, error) {
	f := &TOMLFile{Path: path, data: string(data)}
	md, err := toml.Decode(f.data, &f.root)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) && pe.Position.Line > 0 {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	f.md = md
	return f, nil
}

// Keys are the document's keys in the order they appear, each once:
// tables ([a], or a = {...}) and the keys inside them alike. Tables that
// are only implied (a in [a.b] or a.b = 1) are not listed.
func (f *TOMLFile) Keys() []toml.Key {
	var keys []toml.Key
	seen := map[string]bool{}
	for _, k := range f.md.Keys() {
		if s := k.String(); !seen[s] {
			seen[s] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// Value is a key's value: string, int64, float64, bool, a time value,
// []any, map[string]any (a table) or []map[string]any (an array of
// tables); nil for a key inside an array of tables.
func (f *TOMLFile) Value(k toml.Key) any {
	var v any = f.root
	for _, p := range k {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// Type names a key's TOML type for error messages ("a string", "a table").
func (f *TOMLFile) Type(k toml.Key) string {
	switch t := f.md.Type(k...); t {
	case "String":
		return "a string"
	case "Integer":
		return "an integer"
	case "Float":
		return "a float"
	case "Bool":
		return "a boolean"
	case "Array":
		return "an array"
	case "Hash":
		return "a table"
	case "ArrayHash":
		return "an array of tables"
	case "":
		return "nothing"
	default:
		return "a " + strings.ToLower(t)
	}
}

// Errorf is an error about a key: PATH:LINE: MESSAGE (PATH: MESSAGE when
// the line cannot be found).
func (f *TOMLFile) Errorf(k toml.Key, format string, args ...any) error {
	if line := f.Line(k); line > 0 {
		return fmt.Errorf("%s:%d: %s", f.Path, line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s: %s", f.Path, fmt.Sprintf(format, args...))
}

// Unknown is the error for a key the schema does not have.
func (f *TOMLFile) Unknown(k toml.Key) error {
	return f.Errorf(k, "unknown key %q", k.String())
}

// Line is the line a key is defined on (its last definition for a key in
// an array of tables), 0 if it cannot be found.
//
// The toml package records every key's position but only shows it in the
// ParseError of a failed decode, with the position of the key being
// decoded. So Line decodes the document once more into a type built for
// this key alone: a struct with one field tagged with the key's first
// part, holding a struct for the next part (a slice of them where the
// document has an array of tables), down to a last field whose type
// implements toml.Unmarshaler by failing. The decoder walks down to
// exactly that key, and the failure comes back as a ParseError carrying
// its line. The decoder also matches field names case-insensitively, so a
// failure reported for another key (Name where name is sought) is retried;
// and keys a struct tag cannot name ("-", or with a comma) fall back to a
// plain scan of the text.
func (f *TOMLFile) Line(k toml.Key) int {
	if len(k) == 0 {
		return 0
	}
	t := reflect.TypeOf(failDecode{})
	for i := len(k) - 1; i >= 0; i-- {
		if i < len(k)-1 && f.md.Type(k[:i+1]...) == "ArrayHash" {
			t = reflect.SliceOf(t)
		}
		t = reflect.StructOf([]reflect.StructField{{Name: "F", Type: t, Tag: reflect.StructTag("toml:" + strconv.Quote(k[i]))}})
	}
	for range 8 {
		_, err := toml.Decode(f.data, reflect.New(t).Interface())
		var pe toml.ParseError
		if !errors.As(err, &pe) || pe.Position.Line <= 0 {
			break
		}
		if pe.LastKey == k.String() {
			return pe.Position.Line
		}
	}
	return scanLine(f.data, k[len(k)-1])
}

// failDecode fails wherever it is decoded (see Line).
type failDecode struct{}

func (failDecode) UnmarshalTOML(any) error { return errors.New("found") }

// scanLine is the first line whose key part (before any =) holds name,
// bare at its start or quoted anywhere: a fallback for Line.
func scanLine(data, name string) int {
	for i, line := range strings.Split(data, "\n") {
		keyPart, _, _ := strings.Cut(strings.TrimLeft(line, " \t["), "=")
		if strings.Contains(keyPart, strconv.Quote(name)) || strings.Contains(keyPart, "'"+name+"'") {
			return i + 1
		}
		if rest, ok := strings.CutPrefix(keyPart, name); ok && (rest == "" || strings.ContainsAny(rest[:1], " \t.]")) {
			return i + 1
		}
	}
	return 0
}
