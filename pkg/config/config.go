// Package config holds the site configuration given as plugstack.conf
// arguments (`required spank_carina.so key=value ...`). It is pure: parsing
// and validation only. Unknown keys are errors, so a typo in an admin's
// plugstack.conf stops the plugin from loading instead of being ignored.
package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Config is the site configuration of the plugin.
type Config struct {
	Helper      string        // the carina helper binary, executed as the job user
	RuntimeDir  string        // per node/user runtime state (tmpfs), e.g. /run/carina
	StoreDir    string        // per node/user image store, e.g. /var/lib/carina
	Podman      string        // podman binary
	InitPath    string        // static init bind-mounted into each container
	HelperLimit time.Duration // upper bound on one helper run (pull + start)
}

// Default returns the configuration used when plugstack.conf gives no keys.
func Default() Config {
	return Config{
		Helper:      "/usr/local/lib/carina/carina",
		RuntimeDir:  "/run/carina",
		StoreDir:    "/var/lib/carina",
		Podman:      "/usr/bin/podman",
		InitPath:    "/usr/bin/catatonit",
		HelperLimit: 10 * time.Minute,
	}
}

// ParseArgs parses plugstack.conf arguments on top of Default.
func ParseArgs(args []string) (Config, error) {
	c := Default()
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
		switch key {
		case "helper":
			c.Helper = val
		case "runtime_dir":
			c.RuntimeDir = val
		case "store_dir":
			c.StoreDir = val
		case "podman":
			c.Podman = val
		case "init_path":
			c.InitPath = val
		case "helper_timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return c, fmt.Errorf("plugstack argument %q: want a positive duration such as 10m", a)
			}
			c.HelperLimit = d
		default:
			return c, fmt.Errorf("plugstack argument %q: unknown key %q", a, key)
		}
	}
	return c, c.validate()
}

func (c Config) validate() error {
	for _, p := range []struct{ key, val string }{
		{"helper", c.Helper}, {"runtime_dir", c.RuntimeDir}, {"store_dir", c.StoreDir},
		{"podman", c.Podman}, {"init_path", c.InitPath},
	} {
		if !filepath.IsAbs(p.val) || filepath.Clean(p.val) != p.val {
			return fmt.Errorf("plugstack argument %s=%q: want a clean absolute path", p.key, p.val)
		}
	}
	return nil
}
