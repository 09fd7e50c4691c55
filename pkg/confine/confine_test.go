package confine

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestMask(t *testing.T) {
	tests := []struct {
		names []string
		want  uint64
	}{
		{nil, 0},
		{[]string{"CAP_CHOWN"}, 1},
		{[]string{"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"}, 1 | 1<<5 | 1<<21},
		{[]string{"sys_admin"}, 1 << 21},
		{[]string{"CAP_CHECKPOINT_RESTORE"}, 1 << 40},
		{[]string{"CAP_NOT_A_CAPABILITY", "CAP_KILL"}, 1 << 5}, // unknown: left out, never granted
	}
	for _, tc := range tests {
		if got := Mask(tc.names); got != tc.want {
			t.Errorf("Mask(%v) = %#x, want %#x", tc.names, got, tc.want)
		}
	}
}

func TestFromOCI(t *testing.T) {
	caps := &specs.LinuxCapabilities{
		Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_SETUID"},
		Effective:   []string{"CAP_KILL"},
		Permitted:   []string{"CAP_KILL", "CAP_SETUID"},
		Inheritable: []string{"CAP_SETUID"},
		Ambient:     []string{"CAP_SETUID"},
	}
	tests := []struct {
		name    string
		spec    *specs.Spec
		seccomp bool
		wantErr string
		check   func(t *testing.T, got []byte)
	}{
		{"capabilities and a filter", &specs.Spec{Process: &specs.Process{Capabilities: caps, NoNewPrivileges: true},
			Linux: &specs.Linux{Seccomp: testProfile()}}, true, "", func(t *testing.T, got []byte) {
			if len(got) == 0 || len(got)%8 != 0 {
				t.Fatalf("filter of %d bytes", len(got))
			}
		}},
		{"the site's switch leaves the filter out", &specs.Spec{Process: &specs.Process{Capabilities: caps},
			Linux: &specs.Linux{Seccomp: testProfile()}}, false, "", func(t *testing.T, got []byte) {
			if got != nil {
				t.Fatalf("filter of %d bytes with seccomp off", len(got))
			}
		}},
		{"no process", &specs.Spec{}, true, "no process", nil},
		{"ambient outside inheritable", &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
			Bounding: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"}}}}, true, "ambient", nil},
		{"a listener profile", &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow, ListenerPath: "/run/l.sock"}}}, true, "listener", nil},
		{"a notify rule", &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}}}}},
			true, "SCMP_ACT_NOTIFY", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.seccomp && tc.spec.Linux != nil && !withLibseccomp {
				t.Skip("built without cgo: no libseccomp to compile the profile")
			}
			c, err := FromOCI(tc.spec, tc.seccomp)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Bounding != 1|1<<5|1<<7 || c.Effective != 1<<5 || c.Permitted != 1<<5|1<<7 || c.Ambient != 1<<7 ||
				c.NoNewPrivs != tc.spec.Process.NoNewPrivileges {
				t.Fatalf("confinement = %+v", c)
			}
			tc.check(t, c.Seccomp)
		})
	}
}

// testProfile: everything allowed but getppid (errno 99), and getpriority
// for a process group or a user (errno 98): two conditions on one
// argument, so two rules.
func testProfile() *specs.LinuxSeccomp {
	e99, e98 := uint(99), uint(98)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, "SCMP_ARCH_NOT_ONE"},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getppid", "no_such_syscall"}, Action: specs.ActErrno, ErrnoRet: &e99},
			{Names: []string{"getpriority"}, Action: specs.ActErrno, ErrnoRet: &e98, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: unix.PRIO_PGRP, Op: specs.OpEqualTo},
				{Index: 0, Value: unix.PRIO_USER, Op: specs.OpEqualTo},
			}},
			{Names: []string{"getpid"}, Action: specs.ActAllow}, // the default again: skipped
		},
	}
}
