package config

import (
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
		{"defaults", nil, func(c Config) bool { return c == Default() }, ""},
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
