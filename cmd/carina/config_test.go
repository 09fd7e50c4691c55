package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	example := filepath.Join("..", "..", "etc", "carina.toml")
	var out strings.Builder
	if err := configCheck([]string{"check", "--no-owner-check", example}, &out); err != nil {
		t.Fatalf("example: %v", err)
	}
	if out.String() != example+": ok\n" {
		t.Fatalf("output = %q", out.String())
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[podman]\nbinary = \"/usr/bin/podman\"\nextra_flag = \"--x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := configCheck([]string{"check", "--no-owner-check", bad}, &out)
	if err == nil || err.Error() != bad+`:3: unknown key "podman.extra_flag"` || out.Len() != 0 {
		t.Fatalf("bad file: %v, output %q", err, out.String())
	}

	// The owner check is on by default.
	loose := filepath.Join(dir, "loose.toml")
	if err := os.WriteFile(loose, []byte("relay = true\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o666); err != nil {
		t.Fatal(err)
	}
	want := "config " + loose + ": must be owned by root and not writable by group or others"
	if err := configCheck([]string{"check", loose}, &out); err == nil || err.Error() != want {
		t.Fatalf("owner check: %v", err)
	}
	if err := configCheck([]string{"check", "--no-owner-check", loose}, &out); err != nil {
		t.Fatalf("--no-owner-check: %v", err)
	}

	for _, args := range [][]string{nil, {"show"}, {"check", "a", "b"}} {
		if err := configCheck(args, &out); err == nil || !strings.HasPrefix(err.Error(), "usage:") {
			t.Errorf("%q: err = %v", args, err)
		}
	}
}
