package nodectr

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestKillInMountNS: a process in a mount namespace of its own (unshare -m,
// standing for the container's) is ended; a process of the same user in
// the test's namespace is not. No container is involved.
func TestKillInMountNS(t *testing.T) {
	args := []string{"-m", "sleep", "30"}
	if os.Geteuid() != 0 {
		args = append([]string{"-r"}, args...) // a user namespace to own it
	}
	inside := exec.Command("unshare", args...)
	outside := exec.Command("sleep", "30")
	for _, c := range []*exec.Cmd{inside, outside} {
		if err := c.Start(); err != nil {
			t.Skipf("cannot start %v: %v", c.Args, err)
		}
	}
	defer func() { _ = outside.Process.Kill(); _ = outside.Wait() }()
	done := make(chan error, 1)
	go func() { done <- inside.Wait() }()
	// unshare execs the sleep once its namespace is made.
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, _ := os.Readlink("/proc/self/ns/mnt")
		b, _ := os.Readlink("/proc/" + itoa(inside.Process.Pid) + "/ns/mnt")
		exe, _ := os.Readlink("/proc/" + itoa(inside.Process.Pid) + "/exe")
		if b != "" && a != b && exe != "" && exe != "/usr/bin/unshare" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the process never got its own mount namespace (%s, %s, %s)", a, b, exe)
		}
		time.Sleep(20 * time.Millisecond)
	}
	n, err := killInMountNS("/proc", inside.Process.Pid, os.Getuid())
	if err != nil || n != 1 {
		t.Fatalf("killInMountNS = %d, %v; want the one process in that namespace", n, err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the process in the namespace still runs")
	}
	if err := outside.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the process outside the namespace was ended: %v", err)
	}
	if _, err := killInMountNS("/proc", 1<<30, os.Getuid()); err == nil {
		t.Error("a pid that does not exist was accepted")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
