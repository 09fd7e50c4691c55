package main

// carina doctor: what a node needs, checked as the plugin will find it
// (pkg/doctor). Run on a node as root (with --user NAME to check a user's
// ids and store) or as a user (their own).

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/carina-hpc/carina/pkg/doctor"
)

func doctorCmd(args []string) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	plugstack := fs.String("plugstack", "/etc/slurm/plugstack.conf", "Slurm's plugstack.conf")
	name := fs.String("user", "", "check this user's subordinate ids and image store (default: yours; root: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: carina doctor [--plugstack FILE] [--user NAME]")
	}
	in := doctor.Input{Plugstack: *plugstack, Root: os.Geteuid() == 0}
	var u *user.User
	var err error
	switch {
	case *name != "":
		u, err = user.Lookup(*name)
	case !in.Root:
		u, err = user.Current()
	}
	if err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	if u != nil {
		uid, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			return fmt.Errorf("doctor: uid %q: %w", u.Uid, err)
		}
		in.User = doctor.User{Name: u.Username, UID: uint32(uid)}
	}
	return report(os.Stdout, doctor.Run(hostDoctor(), in))
}

// report prints one line per check (and the fix under a failed one) and
// fails when any check did.
func report(w io.Writer, rs []doctor.Result) error {
	bad := 0
	for _, r := range rs {
		if r.OK() {
			fmt.Fprintf(w, "ok    %s: %s\n", r.Name, r.Detail)
			continue
		}
		bad++
		fmt.Fprintf(w, "FAIL  %s: %s\n      fix: %s\n", r.Name, r.Problem, r.Fix)
	}
	if bad > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed", bad, len(rs))
	}
	fmt.Fprintf(w, "all %d checks passed\n", len(rs))
	return nil
}

func hostDoctor() doctor.Host {
	return doctor.Host{
		LookPath: exec.LookPath,
		Stat:     os.Stat,
		ReadFile: os.ReadFile,
		Glob:     filepath.Glob,
		Version: func(path string) (string, error) {
			out, err := exec.Command(path, "--version").Output()
			if err != nil {
				return "", err
			}
			line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
			return line, nil
		},
	}
}
