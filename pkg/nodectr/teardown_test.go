package nodectr

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carina-hpc/carina/pkg/plan"
	"github.com/carina-hpc/carina/pkg/relay"
	"github.com/carina-hpc/carina/pkg/squashfs"
)

// scriptedPodman is a FAKE podman CLI, like fakePodman, whose answer
// depends on the call: body is shell code run with the arguments after the
// global flags in "$@" (so "$1" is the subcommand).
func scriptedPodman(t *testing.T, body string) (Podman, func() []string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	script := "#!/bin/sh\nshift 6\necho \"$*\" >>" + log + "\n" + body + "\n"
	bin := filepath.Join(dir, "podman")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return Podman{Bin: bin, GraphRoot: "/g", RunRoot: "/r", Driver: "overlay"}, func() []string {
		b, _ := os.ReadFile(log)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
}

// leftovers makes what node up leaves for container name: a state file,
// a relay directory and a squashfs mount point.
func leftovers(t *testing.T, d plan.Dirs, name string) []string {
	t.Helper()
	paths := []string{filepath.Join(d.Run, name+".json"), relay.Dir(d.Run, name), squashfs.MountPoint(d, name)}
	for _, p := range paths[1:] {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(paths[0], []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestTeardown(t *testing.T) {
	d := plan.Dirs{Run: t.TempDir()}
	pm, calls := scriptedPodman(t, "")
	left := append(leftovers(t, d, "carina-7-n1-a"), leftovers(t, d, "carina-7-n1-b")...)
	if err := Teardown(context.Background(), pm, d, "carina-7-n1-a", "carina-7-n1-b"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"rm --force --time 0 carina-7-n1-a carina-7-n1-b",
		"unshare umount " + squashfs.MountPoint(d, "carina-7-n1-a"),
		"unshare umount " + squashfs.MountPoint(d, "carina-7-n1-b"),
	}
	if got := calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("podman calls:\n%q\nwant\n%q", got, want)
	}
	for _, p := range left {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left: %v", p, err)
		}
	}
}

// The global containers of the step's node, and which of the user's
// containers run; rm, unshare and the rest succeed silently.
const keptPodman = `case "$*" in
ps*status=running*) echo "$RUNNING" ;;
ps*label=carina.scope=global*label=carina.node=n1*) printf 'carina-g-n1-dev\ncarina-g-n1-db\n' ;;
esac`

func TestKept(t *testing.T) {
	s := plan.Step{JobID: 1, Node: "n1", UID: 1000}
	pm, calls := scriptedPodman(t, keptPodman)
	names, err := Kept(context.Background(), pm, s)
	if err != nil || !reflect.DeepEqual(names, []string{"dev", "db"}) {
		t.Fatalf("Kept = %q, %v", names, err)
	}
	if got := calls(); len(got) != 1 || !strings.HasPrefix(got[0], "ps --all --format {{.Names}} --filter label=carina.managed=1 ") {
		t.Errorf("podman calls: %q", got)
	}
}

func TestRemoveKept(t *testing.T) {
	s := plan.Step{JobID: 1, Node: "n1", UID: 1000}
	tests := []struct {
		name    string
		remove  []string
		running string // what else runs
		err     string
		rm      string // the rm call; "" for none
		pause   bool   // the pause process is ended
	}{
		{name: "one of two, something else runs", remove: []string{"db"}, running: "carina-9-n1-abc",
			rm: "rm --force --time 0 carina-g-n1-db"},
		{name: "both, nothing runs after", remove: []string{"dev", "db"},
			rm: "rm --force --time 0 carina-g-n1-dev carina-g-n1-db", pause: true},
		{name: "an unknown name removes nothing", remove: []string{"dev", "nope"}, running: "",
			err: `no kept container "nope" on node n1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := plan.Dirs{Run: t.TempDir()}
			t.Setenv("RUNNING", tc.running)
			pm, calls := scriptedPodman(t, keptPodman)
			pause := PausePidFile(d.Run)
			if err := os.MkdirAll(filepath.Dir(pause), 0o700); err != nil {
				t.Fatal(err)
			}
			// The stand-in pause process (catatonit -P, pause_test.go).
			sleep := pauseStandIn()
			if err := sleep.Start(); err != nil {
				t.Fatal(err)
			}
			ended := make(chan error, 1)
			go func() { ended <- sleep.Wait() }()
			defer func() { _ = sleep.Process.Kill() }()
			if err := os.WriteFile(pause, []byte(strconv.Itoa(sleep.Process.Pid)), 0o600); err != nil {
				t.Fatal(err)
			}
			err := RemoveKept(context.Background(), pm, d, s, tc.remove)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			var rm []string
			for _, c := range calls() {
				if strings.HasPrefix(c, "rm ") {
					rm = append(rm, c)
				}
			}
			if (tc.rm == "" && len(rm) != 0) || (tc.rm != "" && !reflect.DeepEqual(rm, []string{tc.rm})) {
				t.Errorf("rm calls %q, want %q", rm, tc.rm)
			}
			if _, err := os.Stat(pause); os.IsNotExist(err) != tc.pause {
				t.Errorf("pause pid file gone: %v, want %v", os.IsNotExist(err), tc.pause)
			}
			select {
			case <-ended:
				if !tc.pause {
					t.Error("the pause process was ended while a container runs")
				}
			case <-time.After(300 * time.Millisecond):
				if tc.pause {
					t.Error("the pause process still runs")
				}
			}
		})
	}
}
