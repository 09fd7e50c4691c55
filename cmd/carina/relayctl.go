package main

// The relay of a node container: `carina relay serve` on the host side,
// started by node up next to each container it starts, stopped with it.
// Its socket directory is mounted at /.carina/run and the static client
// with its command links at /.carina/bin inside the container.

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

	"github.com/carina-hpc/carina/pkg/nodectr"
	"github.com/carina-hpc/carina/pkg/plan"
)

// Where the relay appears inside every container.
const (
	relayBinTarget = "/.carina/bin"
	relayRunTarget = "/.carina/run"
	relayHostPath  = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

func relayDir(d plan.Dirs, name string) string { return filepath.Join(d.Run, "relay", name) }

// prepareRelay makes the relay's directory and returns the two mounts.
func prepareRelay(d plan.Dirs, name, binDir string) ([]string, error) {
	dir := relayDir(d, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("making the relay directory: %w", err)
	}
	return []string{binDir + ":" + relayBinTarget + ":ro", dir + ":" + relayRunTarget}, nil
}

// relayRunning reports whether the container's relay server is alive.
func relayRunning(d plan.Dirs, name string) bool { return livePid(d, name) > 0 }

// livePid is the pid of the container's relay server when it runs, else 0.
func livePid(d plan.Dirs, name string) int {
	b, err := os.ReadFile(filepath.Join(relayDir(d, name), "pid"))
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

// startRelay starts the relay server of a container in its own session
// (it outlives this helper, like conmon) and waits for its socket.
func startRelay(d plan.Dirs, name string) error {
	dir := relayDir(d, name)
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
	cmd := exec.Command(self, "relay", "serve", "--socket", sock, "--path", relayHostPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "PATH="+relayHostPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("relay: starting its server: %w", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	if err := writeFileAtomic(filepath.Join(dir, "pid"), []byte(strconv.Itoa(pid))); err != nil {
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

// stopRelay ends a container's relay server (SIGTERM: it ends the
// commands it runs; SIGKILL after 7 s) and removes its directory, unless
// keepDir (a kept container mounts it when it starts again).
func stopRelay(d plan.Dirs, name string, keepDir bool) {
	if pid := livePid(d, name); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for end := time.Now().Add(7 * time.Second); time.Now().Before(end) && syscall.Kill(pid, 0) == nil; {
			time.Sleep(20 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if !keepDir {
		_ = os.RemoveAll(relayDir(d, name))
	}
}

// prepareRelayDir makes sure a kept container's relay directory exists.
func prepareRelayDir(d plan.Dirs, name string) error {
	if err := os.MkdirAll(relayDir(d, name), 0o700); err != nil {
		return fmt.Errorf("making the relay directory: %w", err)
	}
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp." + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}

// runEntrypoint runs the image's entrypoint once in the started container
// (--container-entrypoint), with the --container-env host values, and
// returns the environment it leaves behind (captured by the static relay
// client, which it execs as its command, so no shell is needed) and its
// output.
func runEntrypoint(ctx context.Context, pm nodectr.Podman, d plan.Dirs, name string, entry, env []string) ([]string, string, error) {
	file := filepath.Join(relayDir(d, name), "entrypoint.env")
	_ = os.Remove(file)
	argv := append(append([]string(nil), entry...), relayBinTarget+"/carina-relay", "env0", relayRunTarget+"/entrypoint.env")
	out, err := pm.Exec(ctx, name, env, argv)
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
