// Package config holds the site configuration: an optional TOML file
// (`config=/etc/carina/carina.toml` in plugstack.conf, see file.go) and
// plugstack.conf arguments (`required spank_carina.so key=value ...`),
// which override the file's values. It is pure apart from reading that
// one file: parsing and validation only. Unknown keys are errors, so a
// typo in an admin's plugstack.conf or carina.toml stops the plugin from
// loading instead of being ignored.
//
// Every key is one entry of the settings table below; the argument parser
// and the file parser both call its set function, so a value is validated
// the same way wherever it comes from.
package config

import (
	"github.com/carina-hpc/carina/pkg/imagestore"
	"github.com/carina-hpc/carina/pkg/option"

	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the site configuration of the plugin.
type Config struct {
	Helper          string            // the carina helper binary, executed as the job user
	RuntimeDir      string            // per node/user runtime state (tmpfs), e.g. /run/carina
	StoreDir        string            // per node/user container store, e.g. /var/lib/carina
	StoreLimit      int64             // bytes of images a user's node-local store keeps (automatic gc); 0 = no bound
	ImageStore      string            // per-user image store shared by all nodes ({uid}, {user}); "" = node-local
	ImageFormat     string            // how the shared store keeps images: squashfs (default) or overlay
	SiteStore       string            // an admin's read-only image store every user may start from; "" = none
	EnvironmentsDir string            // the site's directory of --environment files (NAME.toml)
	ContainerScope  string            // job (default) or global: --container-name containers outlive the job
	Relay           bool              // run the in-container slurm command relay
	Podman          string            // podman binary
	PodmanFlags     []string          // global podman flags given before every podman command
	InitPath        string            // static init bind-mounted into each container
	HelperLimit     time.Duration     // upper bound on one helper run (pull + start)
	PullRetries     int               // tries in all for transient registry errors
	RetryDelay      time.Duration     // first wait between tries (doubles, plus jitter)
	DefaultMounts   []string          // mounts every container gets, pyxis syntax SRC[:DST[:FLAGS]]
	AllowedMounts   []string          // clean absolute prefixes user mount sources must be under; none = any
	DeniedMounts    []string          // clean absolute prefixes no user mount source may be under
	Env             map[string]string // [env]: variables every container's tasks get (an injected host stack's)
	MountHome       bool              // default of --[no-]container-mount-home
	RemapRoot       bool              // default of --[no-]container-remap-root
	Writable        bool              // default of --container-writable / --container-readonly
	Entrypoint      bool              // default of --[no-]container-entrypoint
	GPUCDIKind      string            // [gpu] cdi_kind: the CDI kind of the step's GPUs (KIND=INDEX); "" = none injected
	Seccomp         bool              // [security] seccomp: containers and joined tasks run under podman's seccomp profile
	ConfigFile      string            // the configuration file loaded; "" = none
}

// DefaultGPUCDIKind is the CDI kind of NVIDIA's GPUs, as nvidia-ctk cdi
// generate names them (nvidia.com/gpu=0, nvidia.com/gpu=all, ...).
const DefaultGPUCDIKind = "nvidia.com/gpu"

// DefaultFile is where sites keep the configuration file. It is only read
// when plugstack.conf names it (config=/etc/carina/carina.toml).
const DefaultFile = "/etc/carina/carina.toml"

// Default returns the configuration used when plugstack.conf gives no keys.
func Default() Config {
	return Config{
		Helper:          "/usr/local/lib/carina/carina",
		RuntimeDir:      "/run/carina",
		StoreDir:        "/var/lib/carina",
		ImageFormat:     "squashfs",
		EnvironmentsDir: "/etc/carina/environments",
		ContainerScope:  "job",
		Relay:           true,
		Podman:          "/usr/bin/podman",
		InitPath:        "/usr/bin/catatonit",
		HelperLimit:     10 * time.Minute,
		PullRetries:     3,
		RetryDelay:      time.Second,
		DeniedMounts:    []string{"/etc/shadow"},
		MountHome:       true,
		Writable:        true,
		GPUCDIKind:      DefaultGPUCDIKind,
		Seccomp:         true,
	}
}

// ParseArgs parses plugstack.conf arguments on top of Default: first the
// file named by config= (if any), then every other argument, which
// overrides the file's value.
func ParseArgs(args []string) (Config, error) {
	c := Default()
	type arg struct {
		s        *setting
		raw, val string
	}
	var rest []arg
	file := ""
	seen := map[string]bool{}
	for _, a := range args {
		key, val, ok := strings.Cut(a, "=")
		if !ok || key == "" {
			return c, fmt.Errorf("plugstack argument %q: want key=value", a)
		}
		if seen[key] {
			return c, fmt.Errorf("plugstack argument %q: %s given twice", a, key)
		}
		seen[key] = true
		if key == "config" {
			if err := checkPath(val); err != nil {
				return c, fmt.Errorf("plugstack argument %q: %v", a, err)
			}
			file = val
			continue
		}
		s, ok := byArg[key]
		if !ok {
			return c, fmt.Errorf("plugstack argument %q: unknown key %q", a, key)
		}
		rest = append(rest, arg{s, a, val})
	}
	if file != "" {
		if err := c.loadFile(file, requireRootOwned); err != nil {
			return c, err
		}
	}
	for _, a := range rest {
		v, err := argValue(a.s.kind, a.val)
		if err == nil {
			err = a.s.set(&c, v)
		}
		if err != nil {
			return c, fmt.Errorf("plugstack argument %q: %v", a.raw, err)
		}
	}
	return c, nil
}

// kind is the type of a setting's value: what set receives.
type kind int

const (
	kString  kind = iota // string: a TOML string, an argument as it is
	kBool                // bool: a TOML boolean, an argument 1/true/yes/y or 0/false/no/n
	kInt                 // int64: a TOML integer, an argument in decimal
	kStrings             // []string: a TOML array of strings (file only)
)

// want names a kind in an error message.
func (k kind) want() string {
	return [...]string{"a string", "a boolean", "an integer", "an array of strings"}[k]
}

// A setting is one configuration key: its plugstack argument, its dotted
// key in the configuration file and the one function both parsers call to
// validate and store a value.
type setting struct {
	arg  string // plugstack argument; "" = file only
	key  string // key in the file; "" = argument only
	kind kind
	set  func(c *Config, v any) error
}

var settings = []setting{
	{"helper", "helper", kString, setPath(func(c *Config) *string { return &c.Helper }, false)},
	{"runtime_dir", "runtime_dir", kString, setPath(func(c *Config) *string { return &c.RuntimeDir }, false)},
	{"store_dir", "store_dir", kString, setPath(func(c *Config) *string { return &c.StoreDir }, false)},
	{"store_limit", "store_limit", kString, setStoreLimit},
	{"image_store", "image_store", kString, setImageStore},
	{"image_format", "image_format", kString, setEnum(func(c *Config) *string { return &c.ImageFormat }, "squashfs", "overlay")},
	{"site_image_store", "site_image_store", kString, setPath(func(c *Config) *string { return &c.SiteStore }, true)},
	{"environments_dir", "environments_dir", kString, setPath(func(c *Config) *string { return &c.EnvironmentsDir }, false)},
	{"container_scope", "container_scope", kString, setEnum(func(c *Config) *string { return &c.ContainerScope }, "job", "global")},
	{"relay", "relay", kBool, setBool(func(c *Config) *bool { return &c.Relay })},
	{"podman", "podman.binary", kString, setPath(func(c *Config) *string { return &c.Podman }, false)},
	{"", "podman.extra_flags", kStrings, setPodmanFlags},
	{"init_path", "podman.init_path", kString, setPath(func(c *Config) *string { return &c.InitPath }, false)},
	{"helper_timeout", "pull.timeout", kString, setHelperLimit},
	{"pull_retries", "pull.retries", kInt, setRetries},
	{"pull_retry_delay", "pull.retry_delay", kString, setRetryDelay},
	{"", "mounts.default", kStrings, setDefaultMounts},
	{"", "mounts.allowed", kStrings, setPaths(func(c *Config) *[]string { return &c.AllowedMounts })},
	{"", "mounts.denied", kStrings, setPaths(func(c *Config) *[]string { return &c.DeniedMounts })},
	{"mount_home", "defaults.mount_home", kBool, setBool(func(c *Config) *bool { return &c.MountHome })},
	{"remap_root", "defaults.remap_root", kBool, setBool(func(c *Config) *bool { return &c.RemapRoot })},
	{"writable", "defaults.writable", kBool, setBool(func(c *Config) *bool { return &c.Writable })},
	{"entrypoint", "defaults.entrypoint", kBool, setBool(func(c *Config) *bool { return &c.Entrypoint })},
	{"gpu_cdi_kind", "gpu.cdi_kind", kString, setGPUCDIKind},
	{"seccomp", "security.seccomp", kBool, setBool(func(c *Config) *bool { return &c.Seccomp })},
}

// byArg and byKey index settings by plugstack argument and by file key.
var byArg, byKey = func() (map[string]*setting, map[string]*setting) {
	a, k := map[string]*setting{}, map[string]*setting{}
	for i := range settings {
		if s := &settings[i]; s.arg != "" {
			a[s.arg] = s
		}
		if s := &settings[i]; s.key != "" {
			k[s.key] = s
		}
	}
	return a, k
}()

// argValue converts a plugstack argument's value to its setting's kind.
func argValue(k kind, val string) (any, error) {
	switch k {
	case kBool:
		return option.ParseBool(val) // pyxis's spellings, as for the users' variables
	case kInt:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return nil, errors.New("want an integer")
		}
		return n, nil
	case kString:
		return val, nil
	}
	return nil, errors.New("only in the configuration file")
}

func checkPath(p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return errors.New("want a clean absolute path")
	}
	return nil
}

func setPath(field func(*Config) *string, optional bool) func(*Config, any) error {
	return func(c *Config, v any) error {
		p := v.(string)
		if p != "" || !optional {
			if err := checkPath(p); err != nil {
				return err
			}
		}
		*field(c) = p
		return nil
	}
}

func setEnum(field func(*Config) *string, values ...string) func(*Config, any) error {
	return func(c *Config, v any) error {
		if !slices.Contains(values, v.(string)) {
			return fmt.Errorf("want %s", strings.Join(values, " or "))
		}
		*field(c) = v.(string)
		return nil
	}
}

func setBool(field func(*Config) *bool) func(*Config, any) error {
	return func(c *Config, v any) error {
		*field(c) = v.(bool)
		return nil
	}
}

func setPaths(field func(*Config) *[]string) func(*Config, any) error {
	return func(c *Config, v any) error {
		for _, p := range v.([]string) {
			if err := checkPath(p); err != nil {
				return fmt.Errorf("%q: %v", p, err)
			}
		}
		*field(c) = nilIfEmpty(v.([]string))
		return nil
	}
}

func setImageStore(c *Config, v any) error {
	s := v.(string)
	if s != "" {
		probe := Config{ImageStore: s}.ImageStoreFor(0, "user")
		if !filepath.IsAbs(s) || filepath.Clean(probe) != probe || strings.Count(s, "{") != strings.Count(s, "}") ||
			!strings.Contains(s, "{uid}") && !strings.Contains(s, "{user}") {
			return errors.New("want a clean absolute path holding {uid} or {user}")
		}
		if rest := strings.NewReplacer("{uid}", "", "{user}", "").Replace(s); strings.ContainsAny(rest, "{}") {
			return errors.New("only {uid} and {user} may be used")
		}
	}
	c.ImageStore = s
	return nil
}

// setStoreLimit reads store_limit, a byte count such as 20G ("0": none).
func setStoreLimit(c *Config, v any) error {
	n, err := imagestore.ParseBytes(v.(string))
	if err != nil {
		return errors.New("want a byte count such as 50G, or 0 for no bound")
	}
	c.StoreLimit = n
	return nil
}

func setHelperLimit(c *Config, v any) error {
	d, err := time.ParseDuration(v.(string))
	if err != nil || d <= 0 {
		return errors.New("want a positive duration such as 10m")
	}
	c.HelperLimit = d
	return nil
}

// setGPUCDIKind sets [gpu] cdi_kind: a CDI kind VENDOR/CLASS, or "" to
// give containers no GPUs.
func setGPUCDIKind(c *Config, v any) error {
	k := v.(string)
	if k != "" {
		if err := option.CheckCDIKind(k); err != nil {
			return fmt.Errorf("%v, or \"\" for none", err)
		}
	}
	c.GPUCDIKind = k
	return nil
}

func setRetries(c *Config, v any) error {
	n := v.(int64)
	if n < 1 || n > 20 {
		return errors.New("want a number of tries from 1 to 20")
	}
	c.PullRetries = int(n)
	return nil
}

func setRetryDelay(c *Config, v any) error {
	d, err := time.ParseDuration(v.(string))
	if err != nil || d < time.Millisecond || d > time.Minute {
		return errors.New("want a duration from 1ms to 1m")
	}
	c.RetryDelay = d
	return nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// CheckMountSource checks a user's mount source against the site's denied
// and allowed prefixes. path must be absolute and clean (the caller
// resolves relative paths and symbolic links first). Prefixes match whole
// path components: /home2 is not under /home.
func (c Config) CheckMountSource(path string) error {
	if err := checkPath(path); err != nil {
		return fmt.Errorf("mount source %s: %v", path, err)
	}
	for _, d := range c.DeniedMounts {
		if under(path, d) {
			return fmt.Errorf("mount source %s is denied by the site configuration", path)
		}
	}
	if len(c.AllowedMounts) > 0 && !slices.ContainsFunc(c.AllowedMounts, func(a string) bool { return under(path, a) }) {
		return fmt.Errorf("mount source %s is not under an allowed mount source (%s)", path, strings.Join(c.AllowedMounts, ", "))
	}
	return nil
}

// under tells whether path is dir or below it.
func under(path, dir string) bool {
	return path == dir || dir == "/" || strings.HasPrefix(path, dir+"/")
}

// ImageStoreFor expands the image_store template for a user ("" when the
// site keeps images node-local).
func (c Config) ImageStoreFor(uid uint32, user string) string {
	if c.ImageStore == "" {
		return ""
	}
	return strings.NewReplacer("{uid}", strconv.FormatUint(uint64(uid), 10), "{user}", user).Replace(c.ImageStore)
}

// ImageStoreBase is the part of image_store before the first placeholder:
// root creates the per-user directory below it.
func (c Config) ImageStoreBase() string {
	i := strings.IndexByte(c.ImageStore, '{')
	if i < 0 {
		return filepath.Dir(c.ImageStore)
	}
	return filepath.Dir(c.ImageStore[:i] + "x")
}

// RetryArgs are the helper flags for the retry settings.
func (c Config) RetryArgs() []string {
	return []string{"--retries", strconv.Itoa(c.PullRetries), "--retry-delay", c.RetryDelay.String()}
}

// PullArgs are the helper flags for how images are pulled and kept.
func (c Config) PullArgs() []string {
	args := append(c.RetryArgs(), "--image-format", c.ImageFormat)
	if c.SiteStore != "" {
		args = append(args, "--site-store", c.SiteStore)
	}
	return args
}
