package image

import (
	"fmt"
	"os"
	"strings"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/docker/config"
	"go.podman.io/image/v5/types"
)

// Credentials are the user's credential files in podman's order
// (regauth.Env.Files): for each registry the first file that holds an
// entry for it wins, as in podman. Nil reads none: anonymous requests.
type Credentials []string

// withCredentials returns a copy of sys that authenticates requests for
// named with the user's credentials, or anonymously when no file has any
// for its registry. containers/image's own lookup is never used: run in
// the pull's user namespace (uid 0 there) it would read root's
// /run/containers/0/auth.json, and with a job's XDG_RUNTIME_DIR that the
// node lacks it would fail; both break every pull. A file the user may
// not read (or that is missing) is passed over, as it is no file of
// theirs; a file they can read that does not parse is an error naming it.
// from is the file the credentials came from ("" for none).
func (c Credentials) withCredentials(sys *types.SystemContext, named reference.Named) (s *types.SystemContext, from string, err error) {
	cp := *sys
	for _, f := range c {
		if !readable(f) {
			continue
		}
		creds, err := config.GetCredentialsForRef(&types.SystemContext{AuthFilePath: f}, named)
		if err != nil {
			return nil, "", fmt.Errorf("reading registry credentials from %s: %w", f, err)
		}
		if creds != (types.DockerAuthConfig{}) {
			cp.DockerAuthConfig = &creds
			return &cp, f, nil
		}
	}
	cp.DockerAuthConfig = &types.DockerAuthConfig{} // anonymous
	return &cp, "", nil
}

// deniedError is the user's line for a registry that refused named: the
// credentials it was given and where they came from, or where carina
// looked for some, and how to fix it. It never holds a credential.
func (c Credentials) deniedError(named reference.Named, from string, err error) error {
	reg := reference.Domain(named)
	if from != "" {
		return fmt.Errorf("image %s: the registry %s refused the credentials from %s (podman login %s replaces them; "+
			"check the image name too): %w", named, reg, from, reg, err)
	}
	where := "no credential file"
	if len(c) > 0 {
		where = strings.Join(c, ", ")
	}
	return fmt.Errorf("image %s: the registry %s wants credentials and none for it are in %s "+
		"(podman login %s writes them; check the image name too): %w", named, reg, where, reg, err)
}

// readable reports whether the user can open f (it exists, and its
// directories and itself let them).
func readable(f string) bool {
	fh, err := os.Open(f)
	if err != nil {
		return false
	}
	_ = fh.Close()
	return true
}
