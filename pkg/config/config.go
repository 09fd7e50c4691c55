// Package config holds the site configuration given as plugstack.conf
// arguments (`required spank_carina.so key=value ...`). It is pure: parsing
// and validation only. Unknown keys are errors, so a typo in an admin's
// plugstack.conf stops the plugin from loading instead of being ignored.
package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the site configuration of the plugin.
type Config struct {
	Helper      string        // the carina helper binary, executed as the job user
	RuntimeDir  string        // per node/user runtime state (tmpfs), e.g. /run/carina
	StoreDir    string        // per node/user container store, e.g. /var/lib/carina
	ImageStore  string        // per-user image store shared by all nodes ({uid}, {user}); "" = node-local
	ImageFormat string        // how the shared store keeps images: squashfs (default) or overlay
	SiteStore   string        // an admin's read-only image store every user may start from; "" = none
	Podman      string        // podman binary
	InitPath    string        // static init bind-mounted into each container
	HelperLimit time.Duration // upper bound on one helper run (pull + start)
	PullRetries int           // tries in all for transient registry errors
	RetryDelay  time.Duration // first wait between tries (doubles, plus jitter)
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
		PullRetries: 3,
		RetryDelay:  time.Second,
		ImageFormat: "squashfs",
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
		case "image_store":
			c.ImageStore = val
		case "site_image_store":
			c.SiteStore = val
		case "image_format":
			if val != "squashfs" && val != "overlay" {
				return c, fmt.Errorf("plugstack argument %q: want squashfs or overlay", a)
			}
			c.ImageFormat = val
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
		case "pull_retries":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 20 {
				return c, fmt.Errorf("plugstack argument %q: want a number of tries from 1 to 20", a)
			}
			c.PullRetries = n
		case "pull_retry_delay":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 || d > time.Minute {
				return c, fmt.Errorf("plugstack argument %q: want a duration from 1ms to 1m", a)
			}
			c.RetryDelay = d
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
	if c.SiteStore != "" && (!filepath.IsAbs(c.SiteStore) || filepath.Clean(c.SiteStore) != c.SiteStore) {
		return fmt.Errorf("plugstack argument site_image_store=%q: want a clean absolute path", c.SiteStore)
	}
	if c.ImageStore != "" {
		probe := c.ImageStoreFor(0, "user")
		if !filepath.IsAbs(c.ImageStore) || filepath.Clean(probe) != probe || strings.Count(c.ImageStore, "{") != strings.Count(c.ImageStore, "}") ||
			!strings.Contains(c.ImageStore, "{uid}") && !strings.Contains(c.ImageStore, "{user}") {
			return fmt.Errorf("plugstack argument image_store=%q: want a clean absolute path holding {uid} or {user}", c.ImageStore)
		}
		if rest := strings.NewReplacer("{uid}", "", "{user}", "").Replace(c.ImageStore); strings.ContainsAny(rest, "{}") {
			return fmt.Errorf("plugstack argument image_store=%q: only {uid} and {user} may be used", c.ImageStore)
		}
	}
	return nil
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
