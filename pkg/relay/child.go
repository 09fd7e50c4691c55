package relay

// Starting a command: the name must be allowed, the binary is looked up in
// the server's path (never the client's), the environment is the
// client's with the host's PATH and without the dynamic loader settings
// meant for the container's libraries, the standard fds are the client's
// own, and the working directory is the client's (see childDir: under its
// own name when the host has it at the same path, else through its fd).
//
// Entering a directory by fd: Go's fork/exec (syscall/exec_linux.go) calls
// chdir(Dir) in the child after fork and before it moves any fd, and a
// forked child has a copy of the parent's fd table; so Dir =
// "/proc/self/fd/N", N the server's number for the received directory
// fd, would be the client's directory itself (a /proc magic link: the open
// directory, not a path looked up again), fchdir in effect. The fd is
// close-on-exec, so the command does not inherit it.

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// droppedEnv are the client's variables the command does not get: the
// search path (the server's replaces it) and the dynamic loader's
// settings, which name the container's libraries.
var droppedEnv = map[string]bool{
	"PATH":            true,
	"LD_PRELOAD":      true,
	"LD_LIBRARY_PATH": true,
	"LD_AUDIT":        true,
	"CARINA_RELAYED":  true,
}

// childEnv is the environment of a relayed command: env without
// droppedEnv and malformed entries, then PATH=path and CARINA_RELAYED=1.
func childEnv(env []string, path string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" || strings.IndexByte(kv, 0) >= 0 || droppedEnv[name] {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "PATH="+path, "CARINA_RELAYED=1")
}

// errNotFound is lookPath's error.
var errNotFound = errors.New("not found")

// lookPath finds the executable regular file name in the absolute
// directories of the colon-separated list dirs.
func lookPath(name, dirs string) (string, error) {
	for _, dir := range filepath.SplitList(dirs) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if unix.Access(p, unix.X_OK) == nil {
			return p, nil
		}
	}
	return "", errNotFound
}

// start starts the command of req with fds (stdin, stdout, stderr, cwd),
// which it closes in every case, and sets ss.proc. It returns the
// command's name (the basename of argv[0]).
func (s *Server) start(ss *session, req Request, fds []int) (string, error) {
	defer closeFDs(fds)
	if len(fds) != numFDs {
		return "", fmt.Errorf("relay: bad request: %d fds attached, want %d", len(fds), numFDs)
	}
	if len(req.Argv) == 0 {
		return "", errors.New("relay: bad request: empty command")
	}
	name := path.Base(req.Argv[0])
	if !s.allowed[name] {
		return name, fmt.Errorf("relay: %s: not a relayed command", name)
	}
	bin, err := lookPath(name, s.path)
	if err != nil {
		return name, fmt.Errorf("relay: %s: not found on the host", name)
	}
	argv := append([]string{name}, req.Argv[1:]...)
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return name, fmt.Errorf("relay: %s: bad request: NUL byte in an argument", name)
		}
	}
	attr := &syscall.ProcAttr{
		Dir:   childDir(req.Cwd, fds[3]),
		Env:   childEnv(req.Env, s.path),
		Files: []uintptr{uintptr(fds[0]), uintptr(fds[1]), uintptr(fds[2])},
		Sys:   &syscall.SysProcAttr{},
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return name, errors.New("relay: the host side is stopping")
	}
	pid, _, err := syscall.StartProcess(bin, argv, attr)
	if err != nil {
		return name, fmt.Errorf("relay: %s: cannot start %s in the caller's directory: %w", name, bin, err)
	}
	// The child is not waited for yet, so pid is still it; on Linux
	// FindProcess holds it by a pidfd from now on.
	proc, err := os.FindProcess(pid)
	if err != nil { // not on Linux; reap it and give up
		var ws syscall.WaitStatus
		syscall.Kill(pid, syscall.SIGKILL)
		syscall.Wait4(pid, &ws, 0, nil)
		return name, fmt.Errorf("relay: %s: %w", name, err)
	}
	ss.proc = proc
	s.log.Printf("relay: %s pid %d: started %s", name, pid, bin)
	return name, nil
}

// childDir is where the command runs: the caller's directory under its own
// name when the host has the same directory at that path (the usual case
// for home and shared filesystems, mounted at the same path inside); else
// the directory itself through its fd when the host can name it; else "/",
// because a directory only the container can see has no host path for
// getcwd (srun needs one) and none the other nodes would know.
func childDir(name string, fd int) string {
	var want unix.Stat_t
	if unix.Fstat(fd, &want) != nil {
		return "/"
	}
	same := func(p string) bool {
		var st unix.Stat_t
		return filepath.IsAbs(p) && unix.Stat(p, &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino
	}
	if same(name) {
		return name
	}
	if p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); err == nil && same(p) {
		return p
	}
	return "/"
}
