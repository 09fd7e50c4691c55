//go:build cgo

package confine

import (
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

const withLibseccomp = true

// TestCompiledFilterFilters loads the compiled program into a child
// process (a seccomp filter cannot be taken off again) and checks there
// that the system calls the profile names fail as it says and the others
// run.
func TestCompiledFilterFilters(t *testing.T) {
	if os.Getenv("CARINA_CONFINE_CHILD") != "" {
		return
	}
	prog, err := Compile(testProfile())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(prog)
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildLoadsFilter$", "-test.v")
	cmd.Env = append(os.Environ(), "CARINA_CONFINE_CHILD="+string(b))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestChildLoadsFilter") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestChildLoadsFilter(t *testing.T) {
	js := os.Getenv("CARINA_CONFINE_CHILD")
	if js == "" {
		t.Skip("runs in the child of TestCompiledFilterFilters")
	}
	var prog []byte
	if err := json.Unmarshal([]byte(js), &prog); err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&fprog))); e != 0 {
		t.Fatalf("loading the filter: %v", e)
	}
	errno := func(nr, a0 uintptr) unix.Errno {
		_, _, e := unix.RawSyscall(nr, a0, 0, 0)
		return e
	}
	for _, c := range []struct {
		what   string
		nr, a0 uintptr
		want   unix.Errno
	}{
		{"getppid", unix.SYS_GETPPID, 0, 99},
		{"getpriority(PRIO_PGRP)", unix.SYS_GETPRIORITY, unix.PRIO_PGRP, 98},
		{"getpriority(PRIO_USER)", unix.SYS_GETPRIORITY, unix.PRIO_USER, 98},
		{"getpriority(PRIO_PROCESS)", unix.SYS_GETPRIORITY, unix.PRIO_PROCESS, 0},
		{"getpid", unix.SYS_GETPID, 0, 0},
	} {
		if got := errno(c.nr, c.a0); got != c.want {
			t.Errorf("%s: errno %d (%v), want %d", c.what, got, got, c.want)
		}
	}
}
