package nodectr

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/carina-hpc/carina/pkg/plan"
)

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{`/in\040side`: "/in side", `/plain`: "/plain", `/a\134b`: `/a\b`} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSave saves a "container" whose init is this test process: the fake
// podman reports its pid, and stands in for mksquashfs by writing the
// temporary file it is given.
func TestSave(t *testing.T) {
	s := plan.Step{JobID: 7, Node: "n1", UID: 1000}
	d := plan.Dirs{Run: t.TempDir()}
	name := plan.NamedContainer(s, "dev")
	out := filepath.Join(t.TempDir(), "dev.sqsh")
	pm, calls := scriptedPodman(t, `case "$1" in
container) echo '[{"Id":"abc","State":{"Running":true,"Pid":`+strconv.Itoa(os.Getpid())+`}}]' ;;
unshare) echo squashfs >"$4" ;;
esac`)
	ctx := context.Background()
	if err := Save(ctx, pm, d, s, name, out); err == nil || err.Error() != "no state for container "+name {
		t.Fatalf("without a state file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(d.Run, name+".json"), []byte(`{"name":"`+name+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Save(ctx, pm, d, s, name, out); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "squashfs\n" {
		t.Fatalf("%s: %q, %v", out, b, err)
	}
	c := calls()
	sq := strings.Fields(c[len(c)-1])
	root := "/proc/" + strconv.Itoa(os.Getpid()) + "/root/"
	if len(sq) < 11 || strings.Join(sq[:3], " ") != "unshare mksquashfs "+root ||
		!strings.HasPrefix(sq[3], out+".carina-tmp.") ||
		strings.Join(sq[4:10], " ") != "-comp lz4 -noappend -quiet -no-progress -e" {
		t.Fatalf("mksquashfs call %q", sq)
	}
	// This process's own mounts (at least /proc) are left out, its root not.
	excl := strings.Join(sq[10:], " ")
	if !strings.Contains(" "+excl+" ", " proc ") || strings.Contains(" "+excl+" ", " / ") {
		t.Errorf("excluded %q", excl)
	}
	if left, _ := filepath.Glob(out + ".carina-tmp.*"); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}

	if err := Save(ctx, pm, d, s, plan.NamedContainer(plan.Step{JobID: 8, Node: "n1"}, "dev"), out); err == nil ||
		!strings.Contains(err.Error(), "is not a container of job 7 on n1") {
		t.Errorf("another job's container: %v", err)
	}
	stopped, _ := scriptedPodman(t, `echo '[{"Id":"abc","State":{"Running":false,"Pid":0}}]'`)
	if err := Save(ctx, stopped, d, s, name, out); err == nil || err.Error() != "the container "+name+" does not run any more" {
		t.Errorf("a stopped container: %v", err)
	}
	failing, _ := scriptedPodman(t, `case "$1" in
container) echo '[{"Id":"abc","State":{"Running":true,"Pid":`+strconv.Itoa(os.Getpid())+`}}]' ;;
unshare) echo partial >"$4"; echo 'Error: mksquashfs: no space left on device' >&2; exit 1 ;;
esac`)
	if err := Save(ctx, failing, d, s, name, out+"2"); err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("a failed mksquashfs: %v", err)
	}
	if left, _ := filepath.Glob(out + "2*"); len(left) != 0 {
		t.Errorf("a failed save left %q", left)
	}
}
