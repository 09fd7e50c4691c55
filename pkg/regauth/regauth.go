// Package regauth says where a user's registry credentials are, as podman
// looks for them, so that carina finds the same ones on the submit host
// and on every node. It holds paths, never a credential, and is pure: the
// plugin fills Env from the user's environment (the submit command's, or
// the job's on a node), the helper turns it into the files to read, as the
// user (OnThisHost; pkg/image reads them).
//
// Podman's order (containers-auth.json(5)): REGISTRY_AUTH_FILE alone when
// it is set; else $XDG_RUNTIME_DIR/containers/auth.json, then
// $XDG_CONFIG_HOME/containers/auth.json (~/.config by default), then
// $DOCKER_CONFIG/config.json (~/.docker/config.json by default). The
// runtime directory counts only where it exists: a job's XDG_RUNTIME_DIR
// names the login host's, which a compute node usually lacks. Unlike
// containers/image's defaults, no system path (/run/containers/UID, which
// root's podman makes unreadable to users) is ever consulted, so no lookup
// fails on a file that is not the user's.
package regauth

import (
	"os"
	"path/filepath"
	"strings"
)

// Vars are the environment variables Env is made of.
var Vars = []string{"REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "DOCKER_CONFIG", "HOME"}

// Env is the part of a user's environment that places credentials.
type Env struct {
	RegistryAuthFile string `json:"registry_auth_file,omitempty"`
	XDGRuntimeDir    string `json:"xdg_runtime_dir,omitempty"`
	XDGConfigHome    string `json:"xdg_config_home,omitempty"`
	DockerConfig     string `json:"docker_config,omitempty"`
	// Home is $HOME, else the passwd database's home directory.
	Home string `json:"home,omitempty"`
}

// FromEnv reads Env with getenv; home is the passwd home, used when HOME
// is unset.
func FromEnv(getenv func(string) string, home string) Env {
	e := Env{RegistryAuthFile: getenv("REGISTRY_AUTH_FILE"), XDGRuntimeDir: getenv("XDG_RUNTIME_DIR"),
		XDGConfigHome: getenv("XDG_CONFIG_HOME"), DockerConfig: getenv("DOCKER_CONFIG"), Home: getenv("HOME")}
	if e.Home == "" {
		e.Home = home
	}
	return e
}

// Files are the credential files to read, in podman's order; isDir tells
// whether the runtime directory exists. Relative paths (and values with a
// NUL) are dropped, as no file of the user's can be named that way from a
// job that starts elsewhere.
func (e Env) Files(isDir func(string) bool) []string {
	if e.RegistryAuthFile != "" {
		return keep(e.RegistryAuthFile)
	}
	var out []string
	if ok(e.XDGRuntimeDir) && isDir(e.XDGRuntimeDir) {
		out = append(out, filepath.Join(e.XDGRuntimeDir, "containers", "auth.json"))
	}
	switch {
	case ok(e.XDGConfigHome):
		out = append(out, filepath.Join(e.XDGConfigHome, "containers", "auth.json"))
	case ok(e.Home):
		out = append(out, filepath.Join(e.Home, ".config", "containers", "auth.json"))
	}
	switch {
	case ok(e.DockerConfig):
		out = append(out, filepath.Join(e.DockerConfig, "config.json"))
	case ok(e.Home):
		out = append(out, filepath.Join(e.Home, ".docker", "config.json"))
	}
	return out
}

// OnThisHost are Files with the runtime directory checked here, with the
// caller's rights (the helper's: the user's).
func (e Env) OnThisHost() []string {
	return e.Files(func(d string) bool {
		fi, err := os.Stat(d)
		return err == nil && fi.IsDir()
	})
}

func ok(p string) bool { return filepath.IsAbs(p) && !strings.ContainsRune(p, 0) }

func keep(p string) []string {
	if !ok(p) {
		return nil
	}
	return []string{filepath.Clean(p)}
}
