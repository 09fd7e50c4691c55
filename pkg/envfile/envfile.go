// Package envfile reads environment files: TOML files that describe a
// container (image, mounts, variables, ...) which users name with
// --environment=NAME|PATH, as with CSCS's Container Engine. It is pure
// apart from reading those files. The plugin merges the result under the
// command line's flags (flags win); that is not done here.
//
// Schema (strict: unknown keys, wrong types and values the options would
// refuse are errors naming FILE:LINE):
//
//	base_environment = "other"     # or ["a", "b"]: NAME or PATH, resolved as --environment
//	                               # (a relative PATH against this file's directory);
//	                               # applied first, in order; this file overrides them
//	image = "registry#repo:tag"    # as --container-image; ./ and ../ paths against this file's directory
//	mounts = ["/scratch:/scratch", "/data:/data:ro"]  # pyxis syntax, absolute SRC; appended to the bases'
//	workdir = "/work"              # absolute
//	writable = true
//	entrypoint = false
//	mount_home = true
//	remap_root = false
//	container_env = ["NCCL_DEBUG"] # as --container-env; appended
//	devices = ["nvidia.com/gpu=all"]  # CDI devices VENDOR/CLASS=NAME (no host paths), besides
//	                               # the step's GPUs; appended
//	[env]                          # variables set in the container; merged, this file wins per name
//	OMP_NUM_THREADS = "4"          # values are strings
//	[annotations]                  # OCI annotations on the container; merged the same way
//	"com.example.hook" = "on"
//
// A value holding a "/" or ending in ".toml" is a path; any other is a
// NAME, looked up as NAME.toml in $HOME/.config/carina/environments, then
// in the site's directory.
package envfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/option"
)

// Env is an environment file with its bases applied.
type Env struct {
	Image                                      string            // "" = not set
	Mounts                                     []string          // pyxis syntax, bases' first, without exact duplicates
	Workdir                                    string            // absolute and clean; "" = not set
	Writable, Entrypoint, MountHome, RemapRoot *bool             // nil = not set
	ContainerEnv                               []string          // variable names, as --container-env
	Devices                                    []string          // CDI device names VENDOR/CLASS=NAME
	Env                                        map[string]string // variables set in the container; nil = none
	Annotations                                map[string]string // OCI annotations; nil = none
	Files                                      []string          // files read, bases first (for messages)
}

// UserDir is the user's directory of environment files, below $HOME.
const UserDir = ".config/carina/environments"

// MaxDepth bounds chains of base_environment.
const MaxDepth = 10

// maxFileSize bounds what is read of an environment file.
const maxFileSize = 1 << 20

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Load reads the environment value names (NAME or PATH; a relative PATH
// is taken against cwd) with its bases. home is the user's home directory
// and siteDir the site's directory of environment files ("" skips either).
func Load(value, cwd, home, siteDir string) (Env, error) {
	l := &loader{home: home, site: siteDir}
	p, err := l.resolve(value, cwd)
	if err != nil {
		return Env{}, err
	}
	e, err := l.load(p, nil)
	if err != nil {
		return Env{}, err
	}
	e.Files = l.files
	return e, nil
}

// IsPath tells whether an --environment value is a path rather than a NAME.
func IsPath(value string) bool {
	return strings.Contains(value, "/") || strings.HasSuffix(value, ".toml")
}

type loader struct {
	home, site string
	files      []string
}

// resolve turns a NAME or PATH into the file's path; dir is where a
// relative PATH starts.
func (l *loader) resolve(value, dir string) (string, error) {
	if value == "" {
		return "", errors.New("environment: empty name")
	}
	if IsPath(value) {
		if filepath.IsAbs(value) {
			return filepath.Clean(value), nil
		}
		if !filepath.IsAbs(dir) {
			return "", fmt.Errorf("environment %s: a relative path needs an absolute working directory, not %q", value, dir)
		}
		return filepath.Join(dir, value), nil
	}
	var searched []string
	for _, d := range []string{l.userDir(), l.site} {
		if d == "" {
			continue
		}
		p := filepath.Join(d, value+".toml")
		searched = append(searched, p)
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", fmt.Errorf("environment %q: %w", value, err)
		}
	}
	if len(searched) == 0 {
		return "", fmt.Errorf("environment %q not found: no directory to search", value)
	}
	return "", fmt.Errorf("environment %q not found (searched %s)", value, strings.Join(searched, ", "))
}

func (l *loader) userDir() string {
	if l.home == "" {
		return ""
	}
	return filepath.Join(l.home, UserDir)
}

// load reads the file at path and its bases; chain is the files whose
// base_environment led here.
func (l *loader) load(path string, chain []string) (Env, error) {
	if i := slices.Index(chain, path); i >= 0 {
		return Env{}, fmt.Errorf("environment files inherit in a cycle: %s", strings.Join(append(chain[i:len(chain):len(chain)], path), " -> "))
	}
	if len(chain) >= MaxDepth {
		return Env{}, fmt.Errorf("environment files inherit more than %d deep: %s", MaxDepth, strings.Join(append(chain[:len(chain):len(chain)], path), " -> "))
	}
	data, err := readFile(path)
	if err != nil {
		return Env{}, err
	}
	f, err := config.ParseTOML(path, data)
	if err != nil {
		return Env{}, err
	}
	own, bases, err := parse(f)
	if err != nil {
		return Env{}, err
	}
	var out Env
	next := append(chain[:len(chain):len(chain)], path)
	for _, b := range bases {
		bp, err := l.resolve(b.value, filepath.Dir(path))
		if err != nil {
			return Env{}, f.Errorf(b.key, "base_environment: %v", err)
		}
		be, err := l.load(bp, next)
		if err != nil {
			return Env{}, err
		}
		out.merge(be)
	}
	out.merge(own)
	if !slices.Contains(l.files, path) {
		l.files = append(l.files, path)
	}
	return out, nil
}

// readFile reads an environment file: a regular file the user can read.
// It is opened without blocking, so a FIFO (or a device) named as one is
// refused at once instead of hanging srun in open.
func readFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("environment file %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("environment file %s: %w", path, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("environment file %s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("environment file %s: %w", path, unwrapPath(err))
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("environment file %s: larger than %d bytes", path, maxFileSize)
	}
	return data, nil
}

func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// merge applies src over e: set scalars win, lists are appended without
// exact duplicates, maps are merged with src winning per key.
func (e *Env) merge(src Env) {
	if src.Image != "" {
		e.Image = src.Image
	}
	if src.Workdir != "" {
		e.Workdir = src.Workdir
	}
	mergeBool(&e.Writable, src.Writable)
	mergeBool(&e.Entrypoint, src.Entrypoint)
	mergeBool(&e.MountHome, src.MountHome)
	mergeBool(&e.RemapRoot, src.RemapRoot)
	e.Mounts = appendNew(e.Mounts, src.Mounts)
	e.ContainerEnv = appendNew(e.ContainerEnv, src.ContainerEnv)
	e.Devices = appendNew(e.Devices, src.Devices)
	e.Env = mergeMap(e.Env, src.Env)
	e.Annotations = mergeMap(e.Annotations, src.Annotations)
}

func mergeBool(dst **bool, src *bool) {
	if src != nil {
		v := *src
		*dst = &v
	}
}

func appendNew(dst, src []string) []string {
	for _, s := range src {
		if !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}

func mergeMap(dst, src map[string]string) map[string]string {
	if len(src) > 0 && dst == nil {
		dst = make(map[string]string, len(src))
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// base is one base_environment value and the key it was given at.
type base struct {
	value string
	key   toml.Key
}

// ForOption loads an --environment file (NAME or PATH) with its bases, as
// the user, and hands its settings to the option layer.
func ForOption(value, cwd, home, siteDir string) (option.EnvFile, error) {
	e, err := Load(value, cwd, home, siteDir)
	if err != nil {
		return option.EnvFile{}, err
	}
	path := ""
	if len(e.Files) > 0 {
		path = e.Files[len(e.Files)-1]
	}
	return option.EnvFile{Path: path, Image: e.Image, Mounts: e.Mounts, Workdir: e.Workdir,
		Writable: e.Writable, Entrypoint: e.Entrypoint, MountHome: e.MountHome, Remap: e.RemapRoot,
		ContainerEnv: e.ContainerEnv, Devices: e.Devices, Env: e.Env, Annotations: e.Annotations}, nil
}
