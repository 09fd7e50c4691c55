package option

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// MaxSpecBytes bounds an encoded Spec. Slurm carries the job environment
// to the nodes with a per-variable limit, and slurmstepd reads the
// variable into a buffer of this size: a larger Spec is refused at submit
// (one carina: line) instead of being cut on its way.
const MaxSpecBytes = 60 << 10

// DecodeSpec reads a Spec as it arrives from the job's environment, which
// the user owns: strict JSON (unknown fields are errors), bounded in size,
// then Validate. Nothing in it is trusted before this returns.
func DecodeSpec(js string) (Spec, error) {
	var s Spec
	if len(js) > MaxSpecBytes {
		return s, fmt.Errorf("the container settings are %d bytes, more than the %d Slurm can carry", len(js), MaxSpecBytes)
	}
	dec := json.NewDecoder(strings.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("unreadable container settings: %w", err)
	}
	if dec.More() {
		return Spec{}, errors.New("unreadable container settings: more than one JSON document")
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s.dropEmpty(), nil
}

// dropEmpty makes empty lists and maps nil, as EncodeSpec leaves them
// out: a Spec decodes to the same value however it was written
// ("mounts":[] or no mounts), so equal settings give one ContainerKey.
func (s Spec) dropEmpty() Spec {
	if len(s.Mounts) == 0 {
		s.Mounts = nil
	}
	for i := range s.Mounts {
		if len(s.Mounts[i].Flags) == 0 {
			s.Mounts[i].Flags = nil
		}
	}
	if len(s.ContainerEnv) == 0 {
		s.ContainerEnv = nil
	}
	if len(s.Unshare) == 0 {
		s.Unshare = nil
	}
	if len(s.Devices) == 0 {
		s.Devices = nil
	}
	if len(s.Env) == 0 {
		s.Env = nil
	}
	if len(s.Annotations) == 0 {
		s.Annotations = nil
	}
	return s
}

// EncodeSpec is the inverse of DecodeSpec; it refuses a Spec that could
// not travel.
func EncodeSpec(s Spec) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encoding the container settings: %w", err)
	}
	if len(b) > MaxSpecBytes {
		return "", fmt.Errorf("the container settings are %d bytes (mounts, environment, annotations), "+
			"more than the %d Slurm can carry to the nodes", len(b), MaxSpecBytes)
	}
	return string(b), nil
}

var ignoredRE = regexp.MustCompile(`^--[a-z][a-z-]{0,40}$`)

var annotationRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./-]{0,252}$`)

// Validate checks a Spec that arrives from the job's environment (which
// the user controls) before anything acts on it: the same rules Build
// applies, plus the grammar of every podman argument a field becomes, so
// a hand-made CARINA_SPEC gets no further than an option (no ":" or ","
// smuggled into a --volume, no "=" into an --annotation key, no host path
// into a --device).
func (s Spec) Validate() error {
	if err := noNUL(s); err != nil {
		return err
	}
	if s.Cwd != "" && !cleanAbs(s.Cwd) {
		return fmt.Errorf("submit directory %q: want a clean absolute path", s.Cwd)
	}
	if s.Image != "" {
		if _, err := ParseImage(s.Image, s.Cwd); err != nil {
			return err
		}
	}
	if s.Name != "" {
		if err := checkName(s.Name); err != nil {
			return fmt.Errorf("container name %q: %w", s.Name, err)
		}
	}
	if s.NameMode != "" {
		if err := checkMode(s.NameMode); err != nil {
			return fmt.Errorf("container name mode %q: %w", s.NameMode, err)
		}
	}
	for _, ns := range s.Unshare {
		if err := checkUnshare(ns); err != nil {
			return err
		}
	}
	for _, n := range s.ContainerEnv {
		if err := checkVarName(n); err != nil {
			return err
		}
	}
	for _, d := range s.Devices {
		if err := CheckCDIDevice(d); err != nil {
			return err
		}
	}
	for n := range s.Env {
		if err := checkVarName(n); err != nil {
			return err
		}
	}
	for k := range s.Annotations {
		if !annotationRE.MatchString(k) {
			return fmt.Errorf("annotation %q: a key is letters, digits, '_', '.', '/' or '-'", k)
		}
	}
	for _, m := range s.Mounts {
		if err := m.Validate(); err != nil {
			return err
		}
	}
	for _, n := range s.Ignored {
		if !ignoredRE.MatchString(n) {
			return fmt.Errorf("ignored option %q: not an option name", n)
		}
	}
	for _, p := range []string{s.Workdir, s.Save} {
		if p != "" && !cleanAbs(p) {
			return fmt.Errorf("%q: want a clean absolute path", p)
		}
	}
	return nil
}

// Validate checks one mount against the grammar of podman's --volume
// (SRC:DST[:OPT,OPT]) and --tmpfs (DST[:OPT,OPT]).
func (m Mount) Validate() error {
	if !cleanAbs(m.Target) || m.Target == "/" || strings.ContainsAny(m.Target, ":,") {
		return fmt.Errorf("mount target %q: want a clean absolute path other than / without ':' or ','", m.Target)
	}
	if m.Tmpfs {
		if m.Source != "" {
			return fmt.Errorf("tmpfs mount %s: a tmpfs has no source", m.Target)
		}
	} else if !cleanAbs(m.Source) || strings.ContainsAny(m.Source, ":,") {
		return fmt.Errorf("mount source %q: want a clean absolute path without ':' or ','", m.Source)
	}
	for _, f := range m.Flags {
		if f == "" || strings.ContainsAny(f, " ,:") {
			return fmt.Errorf("mount %s: bad flag %q", m.Target, f)
		}
	}
	if err := checkMountOptions(m.Flags, m.Tmpfs, m.Target); err != nil {
		return fmt.Errorf("mount %s: %w", m.Target, err)
	}
	return nil
}

func cleanAbs(p string) bool { return filepath.IsAbs(p) && filepath.Clean(p) == p }

// noNUL refuses a NUL byte anywhere: no argument or path may carry one.
func noNUL(s Spec) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("container settings: %w", err)
	}
	if bytes.Contains(b, []byte(`\u0000`)) {
		return errors.New("container settings: a value holds a NUL byte")
	}
	return nil
}
