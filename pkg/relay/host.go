package relay

// The server's life beside a node container: `carina node up` starts one
// server (`carina relay serve`) next to each container it starts and the
// container's removal stops it. Its directory, RUN/relay/NAME under the
// user's runtime directory RUN, holds the socket, the server's pid and its
// log; it is mounted at RunTarget inside the container, and the static
// client with its command links at BinTarget.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Where the relay appears inside every container.
const (
	BinTarget = "/.carina/bin"
	RunTarget = "/.carina/run"
)

// hostPath is the PATH the server runs with and looks its commands up in.
const hostPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Dir is the relay directory of container name under the runtime
// directory run.
func Dir(run, name string) string { return filepath.Join(run, "relay", name) }

// Prepare makes the relay's directory and returns the two --volume values
// that mount it and binDir, the client's directory, into the container.
func Prepare(run, name, binDir string) ([]string, error) {
	dir := Dir(run, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("making the relay directory: %w", err)
	}
	return []string{binDir + ":" + BinTarget + ":ro", dir + ":" + RunTarget}, nil
}

// PrepareDir makes sure a kept container's relay directory exists.
func PrepareDir(run, name string) error {
	if err := os.MkdirAll(Dir(run, name), 0o700); err != nil {
		return fmt.Errorf("making the relay directory: %w", err)
	}
	return nil
}

// Running reports whether the container's relay server is alive.
func Running(run, name string) bool { return livePid(run, name) > 0 }

// livePid is the pid of the container's relay server when it runs, else 0.
func livePid(run, name string) int {
	b, err := os.ReadFile(filepath.Join(Dir(run, name), "pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		return 0
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmd), "relay\x00serve") {
		return 0
	}
	return pid
}

// Start starts the relay server of a container, this very binary run as
// `relay serve`, in its own session (it outlives the helper, like conmon)
// and waits for its socket.
func Start(run, name string) error {
	dir := Dir(run, name)
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("relay: finding the helper: %w", err)
	}
	sock := filepath.Join(dir, "relay.sock")
	logf, err := os.OpenFile(filepath.Join(dir, "relay.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("relay: opening its log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(self, "relay", "serve", "--socket", sock, "--path", hostPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "PATH="+hostPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("relay: starting its server: %w", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	if err := writePid(filepath.Join(dir, "pid"), pid); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return err
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
			return nil
		}
		if syscall.Kill(pid, 0) != nil {
			break
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return errors.New("relay: its server did not start (see " + filepath.Join(dir, "relay.log") + ")")
}

// writePid writes the server's pid file whole or not at all.
func writePid(path string, pid int) error {
	tmp := path + ".tmp." + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}

// Stop ends a container's relay server (SIGTERM: it ends the commands it
// runs; SIGKILL after 7 s) and removes its directory, unless keepDir (a
// kept container mounts it when it starts again).
func Stop(run, name string, keepDir bool) {
	if pid := livePid(run, name); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for end := time.Now().Add(7 * time.Second); time.Now().Before(end) && syscall.Kill(pid, 0) == nil; {
			time.Sleep(20 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if !keepDir {
		_ = os.RemoveAll(Dir(run, name))
	}
}

// Execer runs a command in a running container (nodectr.Podman, podman
// exec) and returns its output.
type Execer interface {
	Exec(ctx context.Context, name string, env, argv []string) (string, error)
}

// RunEntrypoint runs the image's entrypoint once in the started container
// name (--container-entrypoint), with env (the --container-env host
// values), and returns the environment it leaves behind and its output.
// The entrypoint's command is the static client's env0, which writes that
// environment into the relay directory: no shell is needed.
func RunEntrypoint(ctx context.Context, ex Execer, run, name string, entry, env []string) ([]string, string, error) {
	file := filepath.Join(Dir(run, name), "entrypoint.env")
	_ = os.Remove(file)
	argv := append(append([]string(nil), entry...), BinTarget+"/carina-relay", "env0", RunTarget+"/entrypoint.env")
	out, err := ex.Exec(ctx, name, env, argv)
	if err != nil {
		return nil, out, fmt.Errorf("the image's entrypoint %q failed (%v): %s; run with --no-container-entrypoint to skip it",
			strings.Join(entry, " "), err, lastLine(out))
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, out, fmt.Errorf("the image's entrypoint %q did not run its command (exec \"$@\"): %w",
			strings.Join(entry, " "), err)
	}
	_ = os.Remove(file)
	var vars []string
	for _, kv := range strings.Split(string(b), "\x00") {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || podmanExecVars[name] {
			continue
		}
		vars = append(vars, kv)
	}
	return vars, out, nil
}

// podmanExecVars are set by podman exec itself, not by the image.
var podmanExecVars = map[string]bool{"container": true, "TERM": true, "HOSTNAME": true, "HOME": true}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
