//go:build cgo

package confine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Compile turns an OCI seccomp profile into the BPF program the kernel
// takes (seccomp(2), SECCOMP_SET_MODE_FILTER). It follows the runtime
// spec's meaning, which runc and crun implement: the default action for
// every system call no rule names; conditions of one rule are ANDed, but
// several conditions on the same argument make one rule each (libseccomp
// takes one comparison per argument and rule); system call names and
// architectures libseccomp does not know are skipped.
func Compile(p *specs.LinuxSeccomp) ([]byte, error) {
	if p.ListenerPath != "" {
		return nil, errors.New("it hands system calls to a listener (listenerPath), which a joined task cannot reach")
	}
	def, err := action(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("default action: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("libseccomp: %w", err)
	}
	defer f.Release()
	for _, a := range p.Architectures {
		arch, err := libseccomp.GetArchFromString(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
		if err != nil {
			continue
		}
		if err := f.AddArch(arch); err != nil {
			return nil, fmt.Errorf("architecture %s: %w", a, err)
		}
	}
	for _, r := range p.Syscalls {
		act, err := action(r.Action, r.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("rule for %s: %w", strings.Join(r.Names, ","), err)
		}
		if act == def {
			continue // libseccomp refuses a rule that repeats the default
		}
		conds, err := conditions(r.Args)
		if err != nil {
			return nil, fmt.Errorf("rule for %s: %w", strings.Join(r.Names, ","), err)
		}
		for _, name := range r.Names {
			call, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // unknown here: nothing to filter
			}
			if err := addRule(f, call, act, conds); err != nil {
				return nil, fmt.Errorf("rule for %s: %w", name, err)
			}
		}
	}
	return export(f)
}

// export writes the filter's BPF program through a memory file
// (seccomp_export_bpf_mem is libseccomp 2.6's; Debian 12 has 2.5).
func export(f *libseccomp.ScmpFilter) ([]byte, error) {
	fd, err := unix.MemfdCreate("carina-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd for the seccomp program: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "carina-seccomp")
	defer mem.Close()
	if err := f.ExportBPF(mem); err != nil {
		return nil, fmt.Errorf("libseccomp: exporting the program: %w", err)
	}
	if _, err := mem.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(mem, 1<<20))
}

// addRule adds one profile rule for call: its conditions together, or one
// rule per condition where two compare the same argument.
func addRule(f *libseccomp.ScmpFilter, call libseccomp.ScmpSyscall, act libseccomp.ScmpAction, conds []libseccomp.ScmpCondition) error {
	if len(conds) == 0 {
		return f.AddRule(call, act)
	}
	seen := map[uint]bool{}
	for _, c := range conds {
		if seen[c.Argument] {
			for _, c := range conds {
				if err := f.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c}); err != nil {
					return err
				}
			}
			return nil
		}
		seen[c.Argument] = true
	}
	return f.AddRuleConditional(call, act, conds)
}

func conditions(args []specs.LinuxSeccompArg) ([]libseccomp.ScmpCondition, error) {
	var out []libseccomp.ScmpCondition
	for _, a := range args {
		op, ok := operators[a.Op]
		if !ok {
			return nil, fmt.Errorf("unknown comparison %q", a.Op)
		}
		vals := []uint64{a.Value}
		if op == libseccomp.CompareMaskedEqual {
			vals = append(vals, a.ValueTwo) // value is the mask, valueTwo what the masked argument equals
		}
		c, err := libseccomp.MakeCondition(a.Index, op, vals...)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", a.Index, err)
		}
		out = append(out, c)
	}
	return out, nil
}

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// action maps a profile action; ERRNO and TRACE return errno (EPERM when
// the profile gives none, as runc does).
func action(a specs.LinuxSeccompAction, errno *uint) (libseccomp.ScmpAction, error) {
	ret := int16(syscall.EPERM)
	if errno != nil {
		ret = int16(*errno)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(ret), nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return 0, errors.New("SCMP_ACT_NOTIFY hands system calls to a listener, which a joined task cannot reach")
	}
	return 0, fmt.Errorf("unknown action %q", a)
}
