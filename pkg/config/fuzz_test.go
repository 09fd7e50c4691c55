package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/carina-hpc/carina/pkg/option"
)

// fileValues reads each file key's value back out of a Config, as the
// file would write it: the inverse of the settings' set functions.
var fileValues = map[string]func(Config) any{
	"helper":              func(c Config) any { return c.Helper },
	"runtime_dir":         func(c Config) any { return c.RuntimeDir },
	"store_dir":           func(c Config) any { return c.StoreDir },
	"store_limit":         func(c Config) any { return strconv.FormatInt(c.StoreLimit, 10) },
	"image_store":         func(c Config) any { return c.ImageStore },
	"image_format":        func(c Config) any { return c.ImageFormat },
	"site_image_store":    func(c Config) any { return c.SiteStore },
	"environments_dir":    func(c Config) any { return c.EnvironmentsDir },
	"container_scope":     func(c Config) any { return c.ContainerScope },
	"relay":               func(c Config) any { return c.Relay },
	"podman.binary":       func(c Config) any { return c.Podman },
	"podman.extra_flags":  func(c Config) any { return list(c.PodmanFlags) },
	"podman.init_path":    func(c Config) any { return c.InitPath },
	"pull.timeout":        func(c Config) any { return c.HelperLimit.String() },
	"pull.retries":        func(c Config) any { return int64(c.PullRetries) },
	"pull.retry_delay":    func(c Config) any { return c.RetryDelay.String() },
	"mounts.default":      func(c Config) any { return list(c.DefaultMounts) },
	"mounts.allowed":      func(c Config) any { return list(c.AllowedMounts) },
	"mounts.denied":       func(c Config) any { return list(c.DeniedMounts) },
	"defaults.mount_home": func(c Config) any { return c.MountHome },
	"defaults.remap_root": func(c Config) any { return c.RemapRoot },
	"defaults.writable":   func(c Config) any { return c.Writable },
	"defaults.entrypoint": func(c Config) any { return c.Entrypoint },
	"gpu.cdi_kind":        func(c Config) any { return c.GPUCDIKind },
	"security.seccomp":    func(c Config) any { return c.Seccomp },
}

// list writes none as [], which the file reads as none (denied = []
// clears the default denied list; leaving the key out would not).
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// encodeFile writes c as a configuration file holding every key.
func encodeFile(t *testing.T, c Config) []byte {
	t.Helper()
	doc := map[string]any{}
	for _, s := range settings {
		get, ok := fileValues[s.key]
		if !ok {
			t.Fatalf("fileValues lacks %s", s.key)
		}
		table, name, dotted := strings.Cut(s.key, ".")
		if !dotted {
			doc[s.key] = get(c)
			continue
		}
		if doc[table] == nil {
			doc[table] = map[string]any{}
		}
		doc[table].(map[string]any)[name] = get(c)
	}
	if len(c.Env) > 0 {
		env := map[string]any{}
		for k, v := range c.Env {
			env[k] = v
		}
		doc["env"] = env
	}
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(doc); err != nil {
		t.Fatalf("encoding %+v: %v", c, err)
	}
	return b.Bytes()
}

func TestConfigEncodeFile(t *testing.T) {
	for _, s := range settings {
		if s.key != "" && fileValues[s.key] == nil {
			t.Errorf("fileValues lacks %s", s.key)
		}
	}
	c := Default()
	c.DeniedMounts = nil
	c.PodmanFlags = []string{"--log-level=info"}
	p := writeConfig(t, string(encodeFile(t, c)))
	got, err := ParseFile(p, false)
	if err != nil {
		t.Fatal(err)
	}
	got.ConfigFile = ""
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("encoded and parsed again: %+v\nwant %+v", got, c)
	}
}

// FuzzConfigFile parses a site configuration file of any content: an
// error names the file; an accepted file gives values that are valid
// (the default mounts parse as the nodes parse them) and that, written
// back as a file with every key, parse to the same Config.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"", "helper = \"/opt/c/carina\"\nrelay = false\n[pull]\nretries = 5\n[defaults]\nwritable = false\n",
		"image_store = \"/shared/carina/{uid}\"\nimage_format = \"overlay\"\nsite_image_store = \"/shared/site\"\n" +
			"container_scope = \"global\"\n[podman]\nbinary = \"/opt/podman\"\n" +
			"extra_flags = [\"--cgroup-manager=cgroupfs\", \"--log-level=info\"]\ninit_path = \"/opt/init\"\n" +
			"[pull]\ntimeout = \"30s\"\nretries = 5\nretry_delay = \"250ms\"\n" +
			"[mounts]\ndefault = [\"/scratch\", \"/apps:/apps:ro\"]\nallowed = [\"/home\", \"/scratch\"]\ndenied = []\n" +
			"[defaults]\nmount_home = false\nremap_root = true\nwritable = false\nentrypoint = true\n",
		"pull = { retries = 7 }\npodman.binary = \"/opt/podman\"\n", "helper = \"/x\"\n\nhelpr = \"/y\"\n",
		"\npull = { retries = 3,\n  tries = 2 }\n", "[[mount]]\nsrc = \"/x\"\n", "relay = true\n\"a,b\" = 1\n",
		"[pull]\nretries = 30\n", "[pull]\nretry_delay = \"2m\"\n", "image_store = \"/shared/../{uid}\"\n",
		"image_store = \"/shared/{user}-{uid}\"\n", "[mounts]\ndefault = [\"/a:/b:bogus\"]\n",
		"[mounts]\ndefault = [\"/a:/b:ro+rprivate\"]\n", "[mounts]\ndenied = [\"/etc/\"]\n", "helper = \"/x\\u0000\"\n",
		"[pull]\ntimeout = \"1h1m1.5s\"\n", "relay = true\nrelay = false\n",
		"[gpu]\ncdi_kind = \"amd.com/gpu\"\n", "[gpu]\ncdi_kind = \"\"\n", "[gpu]\ncdi_kind = \"nvidia.com/gpu=0\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		p := filepath.Join(t.TempDir(), "carina.toml")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := ParseFile(p, false)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error names no file: %v", err)
			}
			checkErrorLine(t, err, p, content)
			return
		}
		if c.ConfigFile != p {
			t.Fatalf("ConfigFile = %q, want %s", c.ConfigFile, p)
		}
		if js, _ := json.Marshal(c); bytes.Contains(js, []byte(`\u0000`)) {
			t.Fatalf("%q: accepted a NUL byte: %+v", content, c)
		}
		for _, d := range c.DefaultMounts {
			if _, err := option.ParseMounts(d, "/"); err != nil {
				t.Fatalf("%q: accepted a default mount the nodes refuse: %v", content, err)
			}
		}
		enc := encodeFile(t, c)
		again, err := ParseFile(writeConfig(t, string(enc)), false)
		if err != nil {
			t.Fatalf("%q gives %+v, written back as\n%s\nwhich does not parse: %v", content, c, enc, err)
		}
		c.ConfigFile, again.ConfigFile = "", ""
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("%q gives %+v, written back as\n%s\nwhich gives %+v", content, c, enc, again)
		}
	})
}

// checkErrorLine checks that an error naming FILE:LINE names a line the
// document has.
func checkErrorLine(t *testing.T, err error, path, content string) {
	t.Helper()
	_, rest, ok := strings.Cut(err.Error(), path+":")
	if !ok {
		return
	}
	digits := rest[:len(rest)-len(strings.TrimLeft(rest, "0123456789"))]
	if digits == "" {
		return
	}
	if n, _ := strconv.Atoi(digits); n < 1 || n > strings.Count(content, "\n")+1 {
		t.Fatalf("%q: error names line %d of %d: %v", content, n, strings.Count(content, "\n")+1, err)
	}
}
