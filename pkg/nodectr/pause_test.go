package nodectr

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestIsPause(t *testing.T) {
	tests := map[string]bool{
		"catatonit\x00-P\x00":                        true,
		"/usr/libexec/podman/catatonit\x00-P\x00":    true,
		"catatonit\x00--\x00/.carina-init\x00":       false, // a container's init
		"/usr/local/lib/carina/carina\x00plugin\x00": false, // the helper itself, after a pid wrapped
		"": false,
	}
	for cmdline, want := range tests {
		if got := isPause([]byte(cmdline)); got != want {
			t.Errorf("isPause(%q) = %v, want %v", cmdline, got, want)
		}
	}
}

// TestMain lets the test binary stand in for podman's pause process: run
// as "catatonit -P" with CARINA_TEST_PAUSE=1, it only sleeps.
func TestMain(m *testing.M) {
	if os.Getenv("CARINA_TEST_PAUSE") == "1" {
		d, err := time.ParseDuration(os.Getenv("CARINA_TEST_SLEEP"))
		if err != nil {
			d = time.Minute
		}
		time.Sleep(d)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// pauseStandIn starts the stand-in: a process whose command line is
// podman's pause process's.
func pauseStandIn() *exec.Cmd {
	c := &exec.Cmd{Path: os.Args[0], Args: []string{"catatonit", "-P"}, Env: append(os.Environ(), "CARINA_TEST_PAUSE=1")}
	return c
}

func TestKillPauseSparesOtherProcesses(t *testing.T) {
	dir := t.TempDir()
	f := PausePidFile(dir)
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		t.Fatal(err)
	}
	// A stale pid file whose pid now names another process of the user's.
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	if err := os.WriteFile(f, []byte(strconv.Itoa(other.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := KillPause(dir); err != nil {
		t.Fatal(err)
	}
	if err := other.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("a process that is no pause process was killed: %v", err)
	}
	if _, err := os.Stat(f); !os.IsNotExist(err) {
		t.Errorf("the stale pid file is still there: %v", err)
	}
}

// A second pause process that podman started for the same runtime
// directory (two podman commands racing to make one) is not in pause.pid;
// it is ended too. One started for another runtime directory is not.
func TestKillPauseEndsUnrecordedPauseOfItsDirOnly(t *testing.T) {
	dir, otherDir := t.TempDir(), t.TempDir()
	start := func(run string) *exec.Cmd {
		c := pauseStandIn()
		c.Env = append(c.Env, "XDG_RUNTIME_DIR="+run)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	mine, others := start(dir), start(otherDir)
	defer func() { _ = others.Process.Kill(); _ = others.Wait() }()
	// No pause.pid at all: the orphan is found by its environment.
	if err := KillPause(dir); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mine.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = mine.Process.Kill()
		t.Fatal("the unrecorded pause process of the directory still runs")
	}
	if err := others.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("another runtime directory's pause process was killed: %v", err)
	}
}

// awaitCleanup returns once the conmon of the runtime directory has
// exited (its podman cleanup could start a pause process again), and does
// not wait for one of another directory.
func TestAwaitCleanupWaitsForConmonOfItsDir(t *testing.T) {
	dir, otherDir := t.TempDir(), t.TempDir()
	conmon := func(run, sleep string) *exec.Cmd {
		c := &exec.Cmd{Path: os.Args[0], Args: []string{"/usr/bin/conmon", "--api-version", "1"},
			Env: append(os.Environ(), "CARINA_TEST_PAUSE=1", "CARINA_TEST_SLEEP="+sleep, "XDG_RUNTIME_DIR="+run)}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = c.Wait() }()
		return c
	}
	conmon(dir, "700ms")
	other := conmon(otherDir, "1m")
	defer func() { _ = other.Process.Kill() }()
	start := time.Now()
	awaitCleanup(dir, 20*time.Second)
	if took := time.Since(start); took < 500*time.Millisecond || took > 10*time.Second {
		t.Fatalf("awaitCleanup returned after %v; the conmon stand-in ran 700ms", took)
	}
}
