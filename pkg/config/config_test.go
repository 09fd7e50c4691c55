package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(Config) bool
		wantErr string
	}{
		{"defaults", nil, func(c Config) bool { return reflect.DeepEqual(c, Default()) }, ""},
		{"new keys", []string{"container_scope=global", "environments_dir=/site/envs", "relay=no",
			"mount_home=N", "remap_root=1", "writable=false", "entrypoint=Yes"},
			func(c Config) bool {
				return c.ContainerScope == "global" && c.EnvironmentsDir == "/site/envs" && !c.Relay &&
					!c.MountHome && c.RemapRoot && !c.Writable && c.Entrypoint
			}, ""},
		{"bad scope", []string{"container_scope=node"}, nil, "want job or global"},
		{"bad bool", []string{"relay=maybe"}, nil, "want 1/true/yes/y or 0/false/no/n"},
		{"relative environments dir", []string{"environments_dir=envs"}, nil, "clean absolute path"},
		{"file-only key", []string{"extra_flags=--x"}, nil, `unknown key "extra_flags"`},
		{"relative config", []string{"config=carina.toml"}, nil, "clean absolute path"},
		{"config twice", []string{"config=/a.toml", "config=/b.toml"}, nil, "given twice"},
		{"missing config", []string{"config=/nonexistent/carina.toml"}, nil, "config /nonexistent/carina.toml: no such file"},
		{"GPU kind", []string{"gpu_cdi_kind=amd.com/gpu"}, func(c Config) bool { return c.GPUCDIKind == "amd.com/gpu" }, ""},
		{"GPU injection off", []string{"gpu_cdi_kind="}, func(c Config) bool { return c.GPUCDIKind == "" }, ""},
		{"seccomp on by default", nil, func(c Config) bool { return c.Seccomp }, ""},
		{"seccomp off", []string{"seccomp=false"}, func(c Config) bool { return !c.Seccomp }, ""},
		{"bad GPU kind", []string{"gpu_cdi_kind=nvidia.com/gpu=0"}, nil, "want a CDI device kind VENDOR/CLASS"},
		{"non-numeric retries", []string{"pull_retries=x"}, nil, "want an integer"},
		{"all keys", []string{"helper=/opt/c/carina", "runtime_dir=/run/x", "store_dir=/srv/s",
			"podman=/opt/podman", "init_path=/opt/init", "helper_timeout=30s"},
			func(c Config) bool {
				return c.Helper == "/opt/c/carina" && c.RuntimeDir == "/run/x" && c.StoreDir == "/srv/s" &&
					c.Podman == "/opt/podman" && c.InitPath == "/opt/init" && c.HelperLimit == 30*time.Second
			}, ""},
		{"image store template", []string{"image_store=/shared/carina/{user}-{uid}"},
			func(c Config) bool {
				return c.ImageStoreFor(1001, "ann") == "/shared/carina/ann-1001" && c.ImageStoreBase() == "/shared/carina"
			}, ""},
		{"image store without placeholder", []string{"image_store=/shared/carina"}, nil, "holding {uid} or {user}"},
		{"image store unknown placeholder", []string{"image_store=/shared/{uid}/{home}"}, nil, "only {uid} and {user}"},
		{"image store relative", []string{"image_store=shared/{uid}"}, nil, "clean absolute path"},
		{"image store escaping", []string{"image_store=/shared/../{uid}"}, nil, "clean absolute path"},
		{"retries", []string{"pull_retries=5", "pull_retry_delay=250ms"},
			func(c Config) bool {
				return c.PullRetries == 5 && c.RetryDelay == 250*time.Millisecond &&
					strings.Join(c.PullArgs(), " ") == "--retries 5 --retry-delay 250ms --image-format squashfs"
			}, ""},
		{"site store", []string{"site_image_store=/shared/site"}, func(c Config) bool {
			return strings.HasSuffix(strings.Join(c.PullArgs(), " "), "--site-store /shared/site")
		}, ""},
		{"relative site store", []string{"site_image_store=site"}, nil, "clean absolute path"},
		{"overlay format", []string{"image_format=overlay"}, func(c Config) bool { return c.ImageFormat == "overlay" }, ""},
		{"unknown format", []string{"image_format=ext4"}, nil, "want squashfs or overlay"},
		{"zero retries", []string{"pull_retries=0"}, nil, "from 1 to 20"},
		{"huge retry delay", []string{"pull_retry_delay=1h"}, nil, "from 1ms to 1m"},
		{"unknown key", []string{"helpr=/x"}, nil, `unknown key "helpr"`},
		{"no value", []string{"helper"}, nil, "want key=value"},
		{"twice", []string{"helper=/a", "helper=/b"}, nil, "given twice"},
		{"relative path", []string{"store_dir=var/lib"}, nil, "clean absolute path"},
		{"unclean path", []string{"store_dir=/var/../lib"}, nil, "clean absolute path"},
		{"bad duration", []string{"helper_timeout=soon"}, nil, "positive duration"},
		{"store limit", []string{"store_limit=20G"}, func(c Config) bool { return c.StoreLimit == 20<<30 }, ""},
		{"bad store limit", []string{"store_limit=lots"}, nil, "want a byte count"},
		{"negative duration", []string{"helper_timeout=-1s"}, nil, "positive duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseArgs(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("ParseArgs = %+v, %v", c, err)
			}
		})
	}
}

func TestCheckMountSource(t *testing.T) {
	deny := []string{"/etc/shadow", "/root"}
	allow := []string{"/home", "/scratch"}
	tests := []struct {
		name            string
		allowed, denied []string
		path, wantErr   string
	}{
		{"defaults allow anything", nil, nil, "/opt/x", ""},
		{"default denies shadow", nil, Default().DeniedMounts, "/etc/shadow", "mount source /etc/shadow is denied by the site configuration"},
		{"default allows passwd", nil, Default().DeniedMounts, "/etc/passwd", ""},
		{"denied below", nil, deny, "/root/.ssh", "mount source /root/.ssh is denied"},
		{"denied prefix is per component", nil, deny, "/rootfs", ""},
		{"denied shadow-", nil, deny, "/etc/shadow-", ""},
		{"allowed equal", allow, nil, "/home", ""},
		{"allowed below", allow, nil, "/scratch/u/data", ""},
		{"not allowed", allow, nil, "/opt/x", "mount source /opt/x is not under an allowed mount source (/home, /scratch)"},
		{"allowed prefix is per component", allow, nil, "/home2/u", "is not under an allowed mount source"},
		{"denied beats allowed", []string{"/"}, []string{"/home/secret"}, "/home/secret/k", "is denied"},
		{"root allows all", []string{"/"}, nil, "/anything", ""},
		{"root denies all", nil, []string{"/"}, "/tmp", "is denied"},
		{"relative", nil, nil, "home/u", "want a clean absolute path"},
		{"unclean", nil, nil, "/home/../etc/shadow", "want a clean absolute path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{AllowedMounts: tc.allowed, DeniedMounts: tc.denied}
			err := c.CheckMountSource(tc.path)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("CheckMountSource(%q) = %v, want %q", tc.path, err, tc.wantErr)
			}
		})
	}
}

func TestCheckMountSyntax(t *testing.T) {
	for m, ok := range map[string]bool{
		"/scratch": true, "/scratch:/scratch": true, "/data:/data:ro": true, "./rel:/x": true,
		"": false, "/a:": false, "/a:rel": false, "/a:/b:ro:x": false, ":/b": false,
	} {
		if err := CheckMountSyntax(m); (err == nil) != ok {
			t.Errorf("CheckMountSyntax(%q) = %v, want ok=%v", m, err, ok)
		}
	}
}
