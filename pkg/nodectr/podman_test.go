package nodectr

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakePodman writes a FAKE podman CLI (a shell script) that records its
// arguments, one per line, and answers with canned output. The real podman
// is exercised by the end-to-end tests.
func fakePodman(t *testing.T, stdout string, exit int) (Podman, func() [][]string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	script := "#!/bin/sh\n{ for a in \"$@\"; do echo \"$a\"; done; echo --end--; } >>" + log + "\n" +
		"cat <<'EOF'\n" + stdout + "\nEOF\n"
	if exit != 0 {
		script += "echo 'Error: no such container' >&2\nexit 1\n"
	}
	bin := filepath.Join(dir, "podman")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := Podman{Bin: bin, GraphRoot: "/g", RunRoot: "/r", Driver: "overlay"}
	return p, func() [][]string {
		b, _ := os.ReadFile(log)
		var calls [][]string
		var cur []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l == "--end--" {
				calls = append(calls, cur)
				cur = nil
				continue
			}
			cur = append(cur, l)
		}
		return calls
	}
}

var global = []string{"--root", "/g", "--runroot", "/r", "--storage-driver", "overlay"}

func TestRunArgs(t *testing.T) {
	got := RunArgs(Spec{Name: "carina-7-n1-abc", ImageID: "sha", JobID: 7, Node: "n1", InitPath: "/usr/bin/catatonit"})
	want := []string{"run", "--detach", "--name", "carina-7-n1-abc",
		"--label", "carina.managed=1", "--label", "carina.job=7", "--label", "carina.node=n1",
		"--pull=never", "--network=host", "--pid=host", "--ipc=host", "--uts=host", "--userns=keep-id", "--log-driver=none",
		"--volume", "/usr/bin/catatonit:/.carina-init:ro", "--entrypoint", "/.carina-init", "sha", "-P"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("RunArgs =\n%q\nwant\n%q", got, want)
	}
}

func TestRunArgsSettings(t *testing.T) {
	got := strings.Join(RunArgs(Spec{Name: "c", ImageID: "sha", JobID: 7, Node: "n1", InitPath: "/i",
		Volumes: []string{"/a b:/a b:ro"}, Tmpfs: []string{"/scratch"}, ReadOnly: true, RemapRoot: true,
		Unshare: []string{"net", "uts"}, Env: map[string]string{"B": "2", "A": "1"},
		Annotations: map[string]string{"x.y": "z"}, Unconfined: true}), "|")
	for _, want := range []string{"|--network=none|", "|--ipc=host|", "|--uts=private|", "|--cap-add=SYS_ADMIN|", "|--read-only|",
		"|--security-opt|seccomp=unconfined|",
		"|--volume|/a b:/a b:ro|", "|--tmpfs|/scratch|", "|--env|A=1|--env|B=2|", "|--annotation|x.y=z|"} {
		if !strings.Contains(got, want) {
			t.Errorf("RunArgs lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "keep-id") {
		t.Errorf("remapped to root but keep-id given: %s", got)
	}
}

// CDI devices: one --device each, in order, after the mounts and before
// the variables.
func TestRunArgsDevices(t *testing.T) {
	got := strings.Join(RunArgs(Spec{Name: "c", ImageID: "sha", JobID: 7, Node: "n1", InitPath: "/i",
		Volumes: []string{"/a:/a"}, Tmpfs: []string{"/t"}, Env: map[string]string{"A": "1"},
		Devices: []string{"example.com/fpga=x", "nvidia.com/gpu=0", "nvidia.com/gpu=2"}}), "|")
	want := "|--volume|/a:/a|--tmpfs|/t|--device|example.com/fpga=x|--device|nvidia.com/gpu=0|--device|nvidia.com/gpu=2|--env|A=1|"
	if !strings.Contains(got, want) {
		t.Fatalf("RunArgs =\n%s\nwant it to hold\n%s", got, want)
	}
	if none := strings.Join(RunArgs(Spec{Name: "c", ImageID: "sha", InitPath: "/i"}), "|"); strings.Contains(none, "--device") {
		t.Errorf("no devices, yet: %s", none)
	}
}

func TestRunArgsRootFS(t *testing.T) {
	got := RunArgs(Spec{Name: "c", RootFS: "/run/x/squash/c:O", JobID: 7, Node: "n1", InitPath: "/i"})
	tail := got[len(got)-6:]
	want := []string{"--entrypoint", "/.carina-init", "--rootfs", "/run/x/squash/c:O", "-P"}
	if !reflect.DeepEqual(tail[1:], want) {
		t.Fatalf("RunArgs tail = %q, want %q", tail[1:], want)
	}
}

func TestCommands(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		stdout   string
		exit     int
		call     func(Podman) (any, error)
		want     any
		wantArgs [][]string
	}{
		{"inspect running", `[{"Id":"abc","OCIConfigPath":"/s/abc/userdata/config.json","State":{"Running":true,"Pid":42}}]`, 0,
			func(p Podman) (any, error) { st, ok, err := p.Inspect(ctx, "c1"); return []any{st, ok}, err },
			[]any{State{ID: "abc", Pid: 42, Running: true, OCIConfig: "/s/abc/userdata/config.json"}, true},
			[][]string{append(global, "container", "inspect", "--format", "json", "c1")}},
		{"inspect missing", "", 1,
			func(p Podman) (any, error) { st, ok, err := p.Inspect(ctx, "c1"); return []any{st, ok}, err },
			[]any{State{}, false}, nil},
		{"list running for a job", "carina-7-n1-a\ncarina-7-n1-b", 0,
			func(p Podman) (any, error) { return p.List(ctx, Running, "carina.job=7") },
			[]string{"carina-7-n1-a", "carina-7-n1-b"},
			[][]string{append(global, "ps", "--all", "--format", "{{.Names}}", "--filter", "label=carina.managed=1",
				"--filter", "status=running", "--filter", "label=carina.job=7")}},
		{"remove drops duplicates", "", 0,
			func(p Podman) (any, error) { return nil, p.Remove(ctx, "a", "b", "a") },
			nil,
			[][]string{append(global, "rm", "--force", "--time", "0", "a", "b")}},
		{"remove nothing runs nothing", "", 0,
			func(p Podman) (any, error) { return nil, p.Remove(ctx) },
			nil, [][]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, calls := fakePodman(t, tc.stdout, tc.exit)
			got, err := tc.call(p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
			if tc.wantArgs != nil {
				if c := calls(); !(len(c) == 0 && len(tc.wantArgs) == 0) && !reflect.DeepEqual(c, tc.wantArgs) {
					t.Fatalf("podman called with\n%q\nwant\n%q", c, tc.wantArgs)
				}
			}
		})
	}
}

func TestKillPauseWithoutPidFile(t *testing.T) {
	if err := KillPause(t.TempDir()); err != nil {
		t.Fatalf("no pause process must be fine: %v", err)
	}
	dir := t.TempDir()
	f := PausePidFile(dir)
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := KillPause(dir); err == nil {
		t.Fatal("a pid file without a pid must be an error")
	}
}

// A FAKE podman whose first rm fails as podman 4.3 does when the
// container's init died just before ("container state improper:
// stopped") and whose second succeeds: Remove tries again. Any other
// error is returned at once.
func TestRemoveRetriesAStopRace(t *testing.T) {
	for _, tc := range []struct {
		name      string
		firstErr  string
		wantErr   bool
		wantCalls int
	}{
		{"stop race", "Error: cannot remove container c as it could not be stopped: sending SIGKILL to container c: container state improper: stopped", false, 2},
		{"other error", "Error: no such container", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			count := filepath.Join(dir, "count")
			script := "#!/bin/sh\necho x >>" + count + "\n" +
				"if [ $(wc -l <" + count + ") -eq 1 ]; then echo '" + tc.firstErr + "' >&2; exit 2; fi\n"
			bin := filepath.Join(dir, "podman")
			if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			err := Podman{Bin: bin, GraphRoot: "/g", RunRoot: "/r", Driver: "overlay"}.Remove(context.Background(), "c")
			if (err != nil) != tc.wantErr {
				t.Fatalf("Remove: %v, want error %v", err, tc.wantErr)
			}
			b, _ := os.ReadFile(count)
			if got := strings.Count(string(b), "x"); got != tc.wantCalls {
				t.Fatalf("podman ran %d times, want %d", got, tc.wantCalls)
			}
		})
	}
}
