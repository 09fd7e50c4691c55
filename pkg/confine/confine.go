// Package confine computes how a task joined into a node container is
// confined: the capability sets and the seccomp filter that podman gave
// the container's own process, read from the container's OCI
// configuration (config.json, runtime-spec types). podman exec confines a
// process it adds to a container the same way. It runs in the helper, as
// the job user; the plugin hands the result to the C join
// (cgo/join.h), which applies it in each task after setns and before the
// user's command is executed.
//
// The seccomp profile is compiled to a classic BPF program with libseccomp
// (seccomp_cgo.go), as runc and crun do for the container itself.
package confine

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/carina-hpc/carina/pkg/plan"
)

// FromOCI is the confinement of the container whose OCI configuration is
// s. With seccomp false (the site's switch) no filter is taken, whatever
// the configuration holds.
func FromOCI(s *specs.Spec, seccomp bool) (plan.Confinement, error) {
	var c plan.Confinement
	if s == nil || s.Process == nil {
		return c, fmt.Errorf("the container's OCI configuration has no process")
	}
	if caps := s.Process.Capabilities; caps != nil {
		c.Bounding = Mask(caps.Bounding)
		c.Effective = Mask(caps.Effective)
		c.Permitted = Mask(caps.Permitted)
		c.Inheritable = Mask(caps.Inheritable)
		c.Ambient = Mask(caps.Ambient)
	}
	c.NoNewPrivs = s.Process.NoNewPrivileges
	if seccomp && s.Linux != nil && s.Linux.Seccomp != nil {
		prog, err := Compile(s.Linux.Seccomp)
		if err != nil {
			return c, fmt.Errorf("the container's seccomp profile: %w", err)
		}
		c.Seccomp = prog
	}
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("the container's OCI configuration: %w", err)
	}
	return c, nil
}

// capNames are the capabilities by number (linux/capability.h), without
// their CAP_ prefix.
var capNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
	"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
	"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// Mask turns capability names (CAP_CHOWN or chown) into a bit mask. A name
// this table does not know is left out, as runc leaves out what its
// kernel does not know: the task gets less, never more.
func Mask(names []string) uint64 {
	var m uint64
	for _, n := range names {
		n = strings.TrimPrefix(strings.ToUpper(n), "CAP_")
		for i, known := range capNames {
			if n == known {
				m |= 1 << uint(i)
			}
		}
	}
	return m
}
