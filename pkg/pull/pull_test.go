package pull

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/carina-hpc/carina/pkg/image"
	"github.com/carina-hpc/carina/pkg/imagestore"
)

// TestMain makes this test binary stand in for the child Subordinate runs
// (carina __pull ...): it answers as FAKE_PULL says, without pulling.
//
//	ok      prints a Pulled for the reference, progress on stderr
//	slow    the same after 700 ms (so that the pull is announced)
//	fail    prints a "carina:" line and exits 1
//	garbage prints what is no Pulled
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == Internal {
		r, err := ParseRequest(os.Args[2:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "carina:", err)
			os.Exit(2)
		}
		switch os.Getenv("FAKE_PULL") {
		case "slow":
			time.Sleep(700 * time.Millisecond)
			fallthrough
		case "ok":
			fmt.Fprintln(os.Stderr, "Copying blob sha256:0123")
			if !r.Init {
				fmt.Printf(`{"id":%q,"env":["PATH=/bin"],"workdir":"/","squash":%q}`+"\n", fakeID, r.SquashDir)
			}
		case "fail":
			fmt.Fprintln(os.Stderr, "time=... level=warning msg=noise")
			fmt.Fprintf(os.Stderr, "carina: image %s: registry unreachable\n", r.Ref)
			os.Exit(1)
		default:
			fmt.Println("not json")
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var fakeID = strings.Repeat("e", 64)

func TestRequestArgs(t *testing.T) {
	retry := image.Retry{Attempts: 5, Delay: 250 * time.Millisecond}
	tests := []struct {
		r    Request
		args string
	}{
		{Request{Root: "/s/storage", RunRoot: "/tmp/r", Ref: "r.example/a:1", Retry: retry},
			"__pull --root /s/storage --runroot /tmp/r --retries 5 --retry-delay 250ms r.example/a:1"},
		{Request{Root: "/s/storage", RunRoot: "/tmp/r", Ref: "r.example/a:1", Retry: retry, SquashDir: "/s", Site: true},
			"__pull --root /s/storage --runroot /tmp/r --retries 5 --retry-delay 250ms --squash-dir /s --site r.example/a:1"},
		{Request{Root: "/s/storage", RunRoot: "/tmp/r", Ref: "r.example/a:1", Retry: retry,
			AuthFiles: []string{"/home/u/.config/containers/auth.json", "/home/u/.docker/config.json"}},
			"__pull --root /s/storage --runroot /tmp/r --retries 5 --retry-delay 250ms " +
				"--auth-file /home/u/.config/containers/auth.json --auth-file /home/u/.docker/config.json r.example/a:1"},
		{Request{Root: "/s/storage", RunRoot: "/run/x/image-store", Init: true, Retry: image.DefaultRetry},
			"__pull --init --root /s/storage --runroot /run/x/image-store"},
		{Request{Root: "/l/storage", RunRoot: "/run/x/storage", GC: true, KeepBytes: 20 << 20, Retry: image.DefaultRetry},
			"__pull --gc --keep-bytes 20971520 --root /l/storage --runroot /run/x/storage"},
	}
	for _, tc := range tests {
		args := tc.r.Args()
		if strings.Join(args, " ") != tc.args {
			t.Errorf("Args = %q\nwant   %q", strings.Join(args, " "), tc.args)
		}
		back, err := ParseRequest(args[1:])
		if err != nil || !reflect.DeepEqual(back, tc.r) {
			t.Errorf("ParseRequest(%q) = %+v, %v; want %+v", args[1:], back, err, tc.r)
		}
	}
	for _, bad := range [][]string{
		{"--runroot", "/r", "a"}, {"--root", "/s", "a"}, {"--root", "/s", "--runroot", "/r"},
		{"--root", "/s", "--runroot", "/r", "--init", "a"}, {"--root", "/s", "--runroot", "/r", "a", "b"},
		{"--root", "/s", "--runroot", "/r", "--gc", "a"}, {"--root", "/s", "--runroot", "/r", "--gc", "--init"},
		{"--root", "/s", "--runroot", "/r", "--gc", "--keep-bytes", "-1"},
	} {
		if _, err := ParseRequest(bad); err == nil || !strings.Contains(err.Error(), "are required") {
			t.Errorf("ParseRequest(%q): %v", bad, err)
		}
	}
}

func TestSubordinate(t *testing.T) {
	ctx := context.Background()
	r := Request{Root: "/s/storage", RunRoot: "/tmp/r", Ref: "r.example/a:1", Retry: image.DefaultRetry, SquashDir: "/s"}
	t.Setenv("FAKE_PULL", "ok")
	var progress bytes.Buffer
	p, err := Subordinate(ctx, r, &progress)
	if err != nil || p.ID != fakeID || p.Squash != "/s" || progress.String() != "Copying blob sha256:0123\n" {
		t.Fatalf("Subordinate = %+v, %v (progress %q)", p, err, progress.String())
	}
	if err := Init(ctx, "/s/storage", "/tmp/r"); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Setenv("FAKE_PULL", "fail")
	progress.Reset()
	if _, err := Subordinate(ctx, r, &progress); err == nil || err.Error() != "image r.example/a:1: registry unreachable" {
		t.Errorf("a failed pull: %v", err)
	}
	// The error comes back once, as the error; the progress keeps the rest.
	if got := progress.String(); got != "time=... level=warning msg=noise\n" {
		t.Errorf("a failed pull's progress = %q", got)
	}
	t.Setenv("FAKE_PULL", "garbage")
	if _, err := Subordinate(ctx, r, nil); err == nil || err.Error() != "pull of r.example/a:1: unreadable result" {
		t.Errorf("an unreadable result: %v", err)
	}
}

// addSite records img in the site store dir, as a site pull does once it
// has squashed the image.
func addSite(t *testing.T, dir string, img imagestore.SiteImage) {
	t.Helper()
	sq := imagestore.SquashFile(dir, img.ID)
	if err := os.MkdirAll(filepath.Dir(sq), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sq, []byte("hsqs"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := imagestore.AddSite(dir, img); err != nil {
		t.Fatal(err)
	}
}

func TestFromSite(t *testing.T) {
	site := t.TempDir()
	digest := "sha256:" + strings.Repeat("d", 64)
	addSite(t, site, imagestore.SiteImage{ID: fakeID, Names: []string{"r.example/a:1"},
		Digests: []string{digest}, Env: []string{"PATH=/bin"}, Workdir: "/w"})
	for _, tc := range []struct {
		site, src string
		found     bool
	}{
		{site, "r.example/a@" + digest, true},
		{"", "r.example/a@" + digest, false},                           // the site has no site store
		{site, "r.example/a:1", false},                                 // not pinned: the tag may have moved
		{site, "r.example/a@sha256:" + strings.Repeat("0", 64), false}, // another digest
		{site, "oci-archive:/images/a@" + digest, false},               // a file, whatever its name
		{site, "containers-storage:a@" + digest, false},                // the user's own podman store
	} {
		img, ok := FromSite(tc.site, tc.src)
		if ok != tc.found || (ok && (img.ID != fakeID || img.Workdir != "/w")) {
			t.Errorf("FromSite(%q, %q) = %+v, %v; want found %v", tc.site, tc.src, img, ok, tc.found)
		}
	}
}

func TestToStore(t *testing.T) {
	ctx := context.Background()
	store := t.TempDir()
	t.Setenv("FAKE_PULL", "ok")
	announceAfter = time.Minute // however slowly the fake starts, it is quick
	var log bytes.Buffer
	pin, err := ToStore(ctx, Options{Store: store, Ref: "r.example/a:1", Retry: image.DefaultRetry, Squash: true}, &log)
	if err != nil || pin != "" {
		t.Fatalf("ToStore = %q, %v", pin, err)
	}
	if log.String() != "Copying blob sha256:0123\n" {
		t.Errorf("a quick pull said %q; want only its progress", log.String())
	}
	if last, err := imagestore.LastUsed(store, fakeID); err != nil || last.IsZero() {
		t.Errorf("the pull's use was not recorded: %v, %v", last, err)
	}

	t.Setenv("FAKE_PULL", "slow")
	announceAfter = 500 * time.Millisecond
	log.Reset()
	pin, err = ToStore(ctx, Options{Store: store, Ref: "containers-storage:localhost/mine:1", Retry: image.DefaultRetry}, &log)
	if err != nil || pin != "containers-storage:localhost/mine:1@"+fakeID {
		t.Fatalf("ToStore = %q, %v", pin, err)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 3 || lines[0] != "carina: pulling containers-storage:localhost/mine:1 into "+store ||
		!strings.HasPrefix(lines[2], "carina: containers-storage:localhost/mine:1 ready (image eeeeeeeeeeee) in ") {
		t.Errorf("a slow pull said %q", lines)
	}

	// Nothing is pulled: an image the site store holds, a squashfs file.
	t.Setenv("FAKE_PULL", "fail")
	site := t.TempDir()
	digest := "sha256:" + strings.Repeat("d", 64)
	addSite(t, site, imagestore.SiteImage{ID: fakeID, Digests: []string{digest}})
	log.Reset()
	if _, err := ToStore(ctx, Options{Store: store, Ref: "r.example/a@" + digest, SiteStore: site, Site: true}, &log); err != nil ||
		log.String() != "carina: r.example/a@"+digest+" is in the site image store (image eeeeeeeeeeee)\n" {
		t.Errorf("from the site store: %v, %q", err, log.String())
	}
	sqsh := filepath.Join(t.TempDir(), "a.sqsh")
	if err := os.WriteFile(sqsh, []byte("hsqs"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ToStore(ctx, Options{Store: store, Ref: "file:" + sqsh}, &log); err != nil {
		t.Errorf("a squashfs file: %v", err)
	}
	if _, err := ToStore(ctx, Options{Store: store, Ref: "r.example/a:1", Site: true}, &log); err == nil ||
		!strings.HasPrefix(err.Error(), "--site needs --image-format squashfs") {
		t.Errorf("--site without squashfs: %v", err)
	}
	if _, err := ToStore(ctx, Options{Store: store, Ref: "r.example/a:1"}, &log); err == nil ||
		err.Error() != "image r.example/a:1: registry unreachable" {
		t.Errorf("a failed pull: %v", err)
	}
}

// TestExplainFull: a child that failed on a full store is said to have run
// out of space, naming the store; any other failure is passed on as it is.
func TestExplainFull(t *testing.T) {
	root := filepath.Join(t.TempDir(), "storage")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	other := errors.New("unpacking failed (error: exit status 2; output: )")
	tests := []struct {
		err  error
		want string
	}{
		{&storeFullError{err: other}, "pulling r/a:1: the image store " + filepath.Dir(root) + " ran out of space (no space left on device on its "},
		{other, other.Error()},
		{nil, ""},
	}
	for _, tc := range tests {
		got := explainFull(tc.err, "pulling r/a:1", root)
		switch {
		case tc.err == nil && got != nil:
			t.Errorf("explainFull(nil) = %v", got)
		case tc.err != nil && !strings.HasPrefix(got.Error(), tc.want):
			t.Errorf("explainFull(%v) = %q, want it to start with %q", tc.err, got, tc.want)
		}
	}
}
