package envfile

import (
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/carina-hpc/carina/pkg/config"
	"github.com/carina-hpc/carina/pkg/option"
)

// parse reads one file's own keys, in file order; its bases are returned,
// not applied.
func parse(f *config.TOMLFile) (Env, []base, error) {
	var e Env
	var bases []base
	dir := filepath.Dir(f.Path)
	wrong := func(k toml.Key, want string) error {
		return f.Errorf(k, "%s: want %s, not %s", k, want, f.Type(k))
	}
	for _, k := range f.Keys() {
		v := f.Value(k)
		if k[0] == "env" || k[0] == "annotations" {
			if err := parseTable(f, k, v, &e, wrong); err != nil {
				return e, nil, err
			}
			continue
		}
		if len(k) > 1 {
			return e, nil, f.Unknown(k)
		}
		switch k[0] {
		case "base_environment":
			names, ok := config.Strings(v)
			if s, isString := v.(string); isString {
				names, ok = []string{s}, true
			}
			if !ok {
				return e, nil, wrong(k, "a string or an array of strings")
			}
			for _, n := range names {
				if n == "" {
					return e, nil, f.Errorf(k, "base_environment: empty name")
				}
				bases = append(bases, base{n, k})
			}
		case "image":
			s, ok := v.(string)
			if !ok {
				return e, nil, wrong(k, "a string")
			}
			if s == "" || strings.ContainsAny(s, " \t\r\n") {
				return e, nil, f.Errorf(k, "image: want an image as --container-image takes, not %q", s)
			}
			e.Image = resolveImage(s, dir)
			if err := checkSpec(f, k, option.Spec{Image: e.Image, Cwd: dir}); err != nil {
				return e, nil, err
			}
		case "workdir":
			s, ok := v.(string)
			if !ok {
				return e, nil, wrong(k, "a string")
			}
			if !filepath.IsAbs(s) {
				return e, nil, f.Errorf(k, "workdir: want an absolute path, not %q", s)
			}
			e.Workdir = filepath.Clean(s)
			if err := checkSpec(f, k, option.Spec{Workdir: e.Workdir}); err != nil {
				return e, nil, err
			}
		case "mounts":
			l, ok := config.Strings(v)
			if !ok {
				return e, nil, wrong(k, "an array of strings")
			}
			for _, m := range l {
				if err := config.CheckMountSyntax(m); err != nil {
					return e, nil, f.Errorf(k, "mounts: %v", err)
				}
				if src, _, _ := strings.Cut(m, ":"); !filepath.IsAbs(src) {
					return e, nil, f.Errorf(k, "mounts: mount %q: want an absolute source", m)
				}
				if _, err := option.ParseMounts(m, dir); err != nil {
					return e, nil, f.Errorf(k, "mounts: %v", err)
				}
			}
			e.Mounts = appendNew(nil, l)
		case "container_env":
			l, ok := config.Strings(v)
			if !ok {
				return e, nil, wrong(k, "an array of strings")
			}
			for _, n := range l {
				if !varName.MatchString(n) {
					return e, nil, f.Errorf(k, "container_env: invalid variable name %q", n)
				}
			}
			e.ContainerEnv = appendNew(nil, l)
		case "devices":
			l, ok := config.Strings(v)
			if !ok {
				return e, nil, wrong(k, "an array of strings")
			}
			if err := checkSpec(f, k, option.Spec{Devices: l}); err != nil {
				return e, nil, err
			}
			e.Devices = appendNew(nil, l)
		case "writable", "entrypoint", "mount_home", "remap_root":
			b, ok := v.(bool)
			if !ok {
				return e, nil, wrong(k, "a boolean")
			}
			switch k[0] {
			case "writable":
				e.Writable = &b
			case "entrypoint":
				e.Entrypoint = &b
			case "mount_home":
				e.MountHome = &b
			default:
				e.RemapRoot = &b
			}
		default:
			return e, nil, f.Unknown(k)
		}
	}
	return e, bases, nil
}

// parseTable reads the [env] and [annotations] tables and their keys.
func parseTable(f *config.TOMLFile, k toml.Key, v any, e *Env, wrong func(toml.Key, string) error) error {
	if len(k) == 1 {
		if _, ok := v.(map[string]any); !ok {
			return wrong(k, "a table")
		}
		return nil
	}
	if len(k) > 2 {
		return f.Errorf(k, "%s: want a string, not a table", k[:2])
	}
	s, ok := v.(string)
	if !ok {
		return wrong(k, "a string")
	}
	if k[0] == "env" {
		if !varName.MatchString(k[1]) {
			return f.Errorf(k, "env: invalid variable name %q", k[1])
		}
		kv := map[string]string{k[1]: s}
		if err := checkSpec(f, k, option.Spec{Env: kv}); err != nil {
			return err
		}
		e.Env = mergeMap(e.Env, kv)
		return nil
	}
	if k[1] == "" {
		return f.Errorf(k, "annotations: empty name")
	}
	kv := map[string]string{k[1]: s}
	if err := checkSpec(f, k, option.Spec{Annotations: kv}); err != nil {
		return err
	}
	e.Annotations = mergeMap(e.Annotations, kv)
	return nil
}

// checkSpec applies to one setting, in a Spec of its own, the checks the
// nodes apply to the whole Spec (option.Spec.Validate): a value they
// would refuse is refused here, at FILE:LINE, instead of failing the job
// on its nodes.
func checkSpec(f *config.TOMLFile, k toml.Key, s option.Spec) error {
	if err := s.Validate(); err != nil {
		return f.Errorf(k, "%s: %v", k[0], err)
	}
	return nil
}

// resolveImage makes a relative image path absolute against the
// environment file's directory: ./PATH and ../PATH, and a relative PATH
// after the oci-archive:, docker-archive: and oci: transports (the forms
// of --container-image that take paths; see pkg/option).
func resolveImage(img, dir string) string {
	if strings.HasPrefix(img, "./") || strings.HasPrefix(img, "../") {
		return filepath.Join(dir, img)
	}
	for _, t := range []string{"oci-archive:", "docker-archive:", "oci:"} {
		if p, ok := strings.CutPrefix(img, t); ok && p != "" && !filepath.IsAbs(p) {
			return t + filepath.Join(dir, p)
		}
	}
	return img
}
