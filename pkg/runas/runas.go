// Package runas runs the carina helper as the job user from a root Slurm
// process: a full credential switch (supplementary groups, gid, uid), a new
// session, a clean environment, a time limit that kills the whole process
// group, and the helper's error line carried back to the caller.
package runas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/carina-hpc/carina/pkg/request"
)

// User is the identity a helper runs as.
type User struct {
	UID, GID uint32
	Groups   []uint32
	Name     string
	Home     string
}

// Lookup fills a User from the passwd and group databases.
func Lookup(uid, gid uint32) (User, error) {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return User{}, fmt.Errorf("looking up uid %d: %w", uid, err)
	}
	out := User{UID: uid, GID: gid, Name: u.Username, Home: u.HomeDir}
	gids, err := u.GroupIds()
	if err != nil {
		return User{}, fmt.Errorf("looking up groups of %s: %w", u.Username, err)
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			continue
		}
		out.Groups = append(out.Groups, uint32(n))
	}
	return out, nil
}

// Cmd is one helper run.
type Cmd struct {
	Path    string
	Args    []string
	As      User
	Env     []string // added to the clean base environment
	Timeout time.Duration
	// Self runs the helper as the calling user with the caller's own
	// environment (srun and sbatch on the submit host): no credential
	// switch, As and Env are ignored.
	Self bool
	// Progress, when set, also receives the helper's standard error as it
	// comes (a pull's progress on the user's terminal).
	Progress io.Writer
	// Stdin is the helper's standard input (default: empty).
	Stdin []byte
}

// BaseEnv is the environment every helper starts from.
func BaseEnv(u User) []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + u.Home,
		"USER=" + u.Name,
		"LOGNAME=" + u.Name,
		"LANG=C.UTF-8",
	}
}

// maxCapture bounds what is kept of the helper's output.
const maxCapture = 4 << 20

// Output runs the command and returns its standard output. On failure the
// error is the helper's last "carina:" line when it printed one.
func (c Cmd) Output(ctx context.Context) ([]byte, error) {
	out, stderr, err := c.Run(ctx)
	if err == nil {
		return out, nil
	}
	if errors.Is(err, errTimeout) {
		return nil, fmt.Errorf("carina: %s did not finish within %s", c.Path, c.Timeout)
	}
	return nil, helperError(c.Path, err, stderr)
}

// Call sends one request to the helper (`carina plugin`) and reads its
// reply: the one way the plugin talks to the helper.
func (c Cmd) Call(ctx context.Context, req request.Request) (request.Reply, error) {
	var in bytes.Buffer
	if err := request.Encode(&in, req); err != nil {
		return request.Reply{}, err
	}
	c.Args = append([]string{"plugin"}, c.Args...)
	c.Stdin = in.Bytes()
	out, stderr, err := c.Run(ctx)
	if errors.Is(err, errTimeout) {
		return request.Reply{}, fmt.Errorf("carina: %s %s did not finish within %s", c.Path, req.Kind, c.Timeout)
	}
	return request.ParseReply(out, err, stderr)
}

var errTimeout = errors.New("time limit reached")

// Run runs the command: its standard output, its captured standard error
// and the run's error (errTimeout past the time limit).
//
// The child gets a new session (no controlling terminal), pipes for its
// standard streams, and no other file descriptor of the caller:
// slurmstepd and srun hold descriptors without close-on-exec, which a
// process of the user must never inherit (startClean).
func (c Cmd) Run(ctx context.Context) ([]byte, string, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	cmd, devnull, err := c.command(ctx)
	if err != nil {
		return nil, "", err
	}
	defer devnull.Close()
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if c.Progress != nil {
		cmd.Stderr = io.MultiWriter(c.Progress, &stderr)
	}
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	err = startClean(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = errTimeout
	}
	return stdout.Bytes(), stderr.String(), err
}

// command prepares the helper's process: its own session (no controlling
// terminal), stdin from /dev/null, and unless Self the user's credentials,
// clean environment and / as working directory. Cancelling ctx kills its
// whole process group. The caller closes devnull after the run.
func (c Cmd) command(ctx context.Context) (cmd *exec.Cmd, devnull *os.File, err error) {
	cmd = exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if !c.Self {
		cmd.Env = append(BaseEnv(c.As), c.Env...)
		cmd.Dir = "/"
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: c.As.UID, Gid: c.As.GID, Groups: c.As.Groups}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	devnull, err = os.Open(os.DevNull)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	cmd.Stdin = devnull
	return cmd, devnull, nil
}

// LastCarinaLine returns the last line of output that starts "carina:",
// or "" when there is none.
func LastCarinaLine(output string) string {
	lines := strings.Split(strings.TrimSpace(output), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "carina:") {
			return l
		}
	}
	return ""
}

// helperError picks the line to show the user.
func helperError(path string, err error, stderr string) error {
	if l := LastCarinaLine(stderr); l != "" {
		return errors.New(l)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	tail := strings.TrimSpace(lines[len(lines)-1])
	if tail == "" {
		return fmt.Errorf("carina: %s failed: %v", path, err)
	}
	return fmt.Errorf("carina: %s failed: %v: %s", path, err, tail)
}

type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxCapture - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}
